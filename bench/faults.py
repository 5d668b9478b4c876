"""The fault suite's figures: `output-reset watch` as a real process against the API double,
one fault per scenario (the API down, slow, dying mid-answer, lying; odd files; a second
daemon; a signal mid-reset), each with edits of one mapped prompt.

Counted per scenario, from what the API double saw and the process printed:
- resets done: new runs the resets made (the double's run list), against the edits' due count;
- edits lost: the last edit's content never reached a reset sent after it was written;
- resets twice: more runs made than due;
- tracebacks: a `Traceback` on stderr or exit code 3;
- signal to exit: SIGINT (SIGTERM in one scenario) at the end, or mid-fault where it applies.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.common import Section, Target, say, temp_tree
from tests.cli_process import Cli
from tests.fakeapi import FakeOutputApi, Step

WORKFLOW_ID = "faults-1"
PROMPT = "prompts/polish.prompt"
DEBOUNCE_MS = 100
CONFIG = """\
api:
  url: {url}
debounce_ms: {debounce}
workflows:
  - id: {workflow_id}
    rules:
      - files: prompts/*.prompt
        rerun: polishDraft
"""
SETTLE_S = 20.0


@dataclass(slots=True)
class Outcome:
    name: str
    due: int  # runs the resets should have made
    made: int = 0
    lost: int = 0
    tracebacks: int = 0
    stop_s: float = 0.0
    note: str = ""

    @property
    def twice(self) -> int:
        return max(0, self.made - self.due)

    @property
    def survived(self) -> bool:
        return self.lost == 0 and self.twice == 0 and self.tracebacks == 0 and self.made >= self.due


class Bench:
    """One scenario's project, double and processes."""

    def __init__(self, fake: FakeOutputApi, root: Path) -> None:
        self.fake = fake
        self.root = root
        (root / "prompts").mkdir(parents=True)
        (root / PROMPT).write_text("<user>polish v0</user>\n")
        (root / "output-reset.yaml").write_text(
            CONFIG.format(url=fake.url, debounce=DEBOUNCE_MS, workflow_id=WORKFLOW_ID)
        )
        run = fake.start_run("probe_three", WORKFLOW_ID, {"text": "alpha beta"})
        fake.wait_closed(WORKFLOW_ID, run)
        self.runs_before = len(fake.run_ids(WORKFLOW_ID))
        self.clis: list[Cli] = []
        self.edits = 0
        self.last_edit = 0.0
        self.stops: list[float] = []  # signal to exit, each process stopped
        self.tracebacks = 0

    def watch(self, *, ready: bool = True) -> Cli:
        cli = Cli("watch", "--no-wait-worker", "--no-follow", cwd=self.root)
        self.clis.append(cli)
        if ready:
            cli.expect("watching ", timeout=30)
        return cli

    def edit(self, path: str = PROMPT) -> None:
        self.edits += 1
        (self.root / path).write_text(f"<user>polish v{self.edits}</user>\n")
        self.last_edit = time.monotonic()
        time.sleep(DEBOUNCE_MS / 1000 * 3)  # one burst per edit

    def made(self) -> int:
        return len(self.fake.run_ids(WORKFLOW_ID)) - self.runs_before

    def settle(self, due: int) -> None:
        deadline = time.monotonic() + SETTLE_S
        while self.made() < due and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.0)  # a second reset, if one were coming, would come now

    def stop(self, cli: Cli, sig: int = signal.SIGINT) -> None:
        """Stop a running process by a signal; note how long it took and any traceback."""
        if cli.process.poll() is None:
            code, took = cli.stop(sig, timeout=10)
            self.stops.append(took)
        else:
            code = cli.wait()
        if code == 3 or any("Traceback" in line for line in cli.errors):
            self.tracebacks += 1
        self.clis.remove(cli)

    def outcome(self, name: str, due: int, note: str = "") -> Outcome:
        for cli in list(self.clis):
            self.stop(cli)
        result = Outcome(name, due, made=self.made(), note=note, tracebacks=self.tracebacks)
        resets = [r for r in self.fake.requests if r.method == "POST" and r.path.endswith("/reset")]
        if self.edits and not any(r.received_at > self.last_edit for r in resets):
            result.lost = 1  # the last content never went out
        result.stop_s = max(self.stops, default=0.0)
        return result


# -- scenarios ------------------------------------------------------------------------------


def api_down_at_the_edit(b: Bench) -> Outcome:
    b.watch()
    b.fake.set_down(True)
    b.edit()
    time.sleep(1.0)
    b.fake.set_down(False)
    b.settle(1)
    return b.outcome("the API down at the edit, back 1 s later", 1)


def slow_api(b: Bench) -> Outcome:
    first = b.watch()
    b.fake.inject_delay("GET", r"/workflow/", 2.0, times=None)
    b.edit()
    b.settle(1)
    b.fake.inject_delay("GET", r"/workflow/", 8.0, times=None)
    b.edit()
    time.sleep(0.5)
    b.stop(first)  # Ctrl-C while this edit's requests hang
    b.fake.clear_faults()
    b.watch()  # the edit made before the Ctrl-C is caught up at start
    b.settle(2)
    return b.outcome("every read 2 s, then 8 s: Ctrl-C mid-request, restart", 2)


def reset_answer_lost(b: Bench) -> Outcome:
    b.watch()
    b.fake.drop_response("POST", r"/reset$")
    b.edit()
    b.settle(1)
    return b.outcome("the reset's answer lost (found by its token)", 1)


def reset_refused_500(b: Bench) -> Outcome:
    b.watch()
    b.fake.inject("POST", r"/reset$", status=500, body={"error": "Error", "message": "boom"})
    b.edit()
    time.sleep(1.0)
    b.edit()  # the failed change stays pending and goes with the next
    b.settle(1)
    return b.outcome("a reset refused with 500, then an edit", 1)


def malformed_history(b: Bench) -> Outcome:
    b.watch()
    b.fake.inject(
        "GET", r"/history", status=200, body={"events": {"not": "a list"}, "nextPageToken": None}
    )
    b.edit()
    b.settle(1)
    return b.outcome("a history answer of the wrong shape (tried again)", 1)


def fifo_matching_a_rule(b: Bench) -> Outcome:
    os.mkfifo(b.root / "prompts" / "pipe.prompt")
    b.watch()
    b.edit()
    b.settle(1)
    return b.outcome("a FIFO matching a rule", 1)


def folder_deleted_and_recreated(b: Bench) -> Outcome:
    b.watch()
    shutil.rmtree(b.root / "prompts")
    (b.root / "prompts").mkdir()
    b.edit()  # recreated with new content, in the same burst
    b.settle(1)
    b.edit()
    b.settle(2)
    return b.outcome("the prompts folder deleted and recreated in one burst, then an edit", 2)


def second_daemon(b: Bench) -> Outcome:
    b.watch()
    second = b.watch(ready=False)
    code = second.process.wait(timeout=10)
    b.stop(second)
    b.edit()
    b.settle(1)
    note = "the second refused (exit 2)" if code == 2 else f"the second exited {code}"
    return b.outcome("a second watch on the same config", 1, note=note)


def sigterm_mid_reset(b: Bench) -> Outcome:
    first = b.watch()
    b.fake.inject_delay("POST", r"/reset$", 1.0)
    b.edit()
    b.fake.wait_for_request(lambda r: r.method == "POST" and r.path.endswith("/reset"))
    b.stop(first, signal.SIGTERM)
    b.watch()  # finds the run the reset made, by its token; sends nothing again
    b.settle(1)
    return b.outcome("SIGTERM while the reset is in flight, then a restart", 1)


def damaged_state(b: Bench) -> Outcome:
    b.stop(b.watch())
    state = b.root / ".output-reset"
    with (state / "resets.jsonl").open("ab") as log:
        log.write(b"\xff\xfe not json\n")
    (state / "state.json").write_bytes(b'{"version": 1, "pins": {"x": ')
    b.watch()
    b.edit()
    b.settle(1)
    return b.outcome("a truncated state file and a bad byte in the audit log", 1)


SCENARIOS: tuple[Callable[[Bench], Outcome], ...] = (
    api_down_at_the_edit,
    slow_api,
    reset_answer_lost,
    reset_refused_500,
    malformed_history,
    fifo_matching_a_rule,
    folder_deleted_and_recreated,
    second_daemon,
    sigterm_mid_reset,
    damaged_state,
)


def run(quick: bool) -> Section:
    section = Section("8. Faults: one fault per scenario, `watch` as a real process")
    section.setup.append(
        f"`watch --no-wait-worker --no-follow` against the API double on loopback, workflow "
        f"probe_three (one completed run, pinned by id), `prompts/*.prompt` -> rerun "
        f"polishDraft, debounce {DEBOUNCE_MS} ms. 'resets done' counts the runs the resets "
        "made (the double's run list), so a refused or lost request that reset nothing is not "
        "counted; the signal to exit is SIGINT at the end (SIGTERM mid-reset in one scenario, "
        "Ctrl-C mid-request in another)."
    )
    outcomes: list[Outcome] = []
    for scenario in SCENARIOS:
        with FakeOutputApi() as fake, temp_tree("faults") as root:
            fake.define_workflow(
                "probe_three", [Step("extractTopics"), Step("draftOutline"), Step("polishDraft")]
            )
            outcomes.append(scenario(Bench(fake, root)))
        say(f"faults: {outcomes[-1].name}: {'ok' if outcomes[-1].survived else 'FAILED'}")
    table = section.table(
        "fault",
        "resets due",
        "resets done",
        "edits lost",
        "resets twice",
        "tracebacks",
        "longest signal to exit s",
        "note",
    )
    for o in outcomes:
        table.add(o.name, o.due, o.made, o.lost, o.twice, o.tracebacks, o.stop_s, o.note)
    survived = sum(o.survived for o in outcomes)
    section.targets += [
        Target("faults survived", survived, len(outcomes), f"of {len(outcomes)}", "exactly"),
        Target("edits lost", sum(o.lost for o in outcomes), 0, "edits", "exactly"),
        Target("resets sent twice", sum(o.twice for o in outcomes), 0, "resets", "exactly"),
        Target("tracebacks", sum(o.tracebacks for o in outcomes), 0, "tracebacks", "exactly"),
        Target("longest signal to exit", max(o.stop_s for o in outcomes), 0.5, "s"),
    ]
    return section
