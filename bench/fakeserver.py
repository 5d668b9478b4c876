"""A FakeOutputApi in its own process, serving one long history (as the real API would: the
server's Python never competes with the client's for the GIL).

`python -m bench.fakeserver inject N`: a completed run of about N events built by
`bench.histories` and added to the fake's store directly (the fake has no public hook for
that). `python -m bench.fakeserver worker N`: the fake's simulated worker runs a workflow with a
loop until its history has about N events. Prints one JSON line (url, ids, events, seconds to
build), then serves until stdin closes.
"""

from __future__ import annotations

import json
import sys
import time

from bench import histories
from tests.fakeapi import FakeOutputApi, Loop, Program, Step

WORKFLOW_ID = "wf-long"


def inject(fake: FakeOutputApi, events: int) -> str:
    built = histories.build(events)
    return fake.add_closed_run(
        histories.WORKFLOW_TYPE, WORKFLOW_ID, built, histories.batch_ends(built)
    )


def generate(fake: FakeOutputApi, events: int) -> str:
    program: Program = [
        *(Step(name) for name in histories.HEAD_STEPS),
        Loop(Step(histories.LOOP_STEP), histories.loop_count(events)),
        *(Step(name) for name in histories.TAIL_STEPS),
    ]
    fake.define_workflow(histories.WORKFLOW_TYPE, program)
    run_id = fake.start_run(histories.WORKFLOW_TYPE, WORKFLOW_ID, {"text": "long"})
    fake.wait_closed(WORKFLOW_ID, run_id, timeout=3600)
    return run_id


def main(mode: str, events: int) -> None:
    with FakeOutputApi() as fake:
        started = time.perf_counter()
        run_id = inject(fake, events) if mode == "inject" else generate(fake, events)
        took = time.perf_counter() - started
        count = len(fake.history(WORKFLOW_ID, run_id))
        answer = {
            "url": fake.url,
            "workflow_id": WORKFLOW_ID,
            "run_id": run_id,
            "events": count,
            "build_s": took,
        }
        print(json.dumps(answer), flush=True)
        sys.stdin.read()  # serve until the parent closes our stdin


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
