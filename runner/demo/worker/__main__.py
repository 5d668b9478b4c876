"""`python -m runner.demo.worker`: serve the example workflows, optionally start a run.

Prints `worker ready on task queue Q` once polling, then `started WORKFLOW_ID run RUN_ID` for
`--start`, one line each and flushed, so a parent process can wait for them. SIGINT or SIGTERM
stops it cleanly (exit code 0).
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.exceptions import WorkflowAlreadyStartedError

from runner.demo.worker.steps import Settings
from runner.demo.worker.worker import new_worker, start_run
from runner.demo.worker.workflows import STEPS

DEFAULT_PROMPTS = Path(__file__).parent / "prompts"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m runner.demo.worker",
        description="The example Temporal worker of output-reset (steps read prompts/*.prompt).",
    )
    parser.add_argument("--address", default="localhost:7233", help="Temporal frontend host:port")
    parser.add_argument("--namespace", default="default")
    parser.add_argument("--task-queue", default="output-reset-example")
    parser.add_argument("--prompts", type=Path, default=DEFAULT_PROMPTS, help="prompts folder")
    parser.add_argument(
        "--log", type=Path, default=Path("invocations.jsonl"), help="invocations log (JSON lines)"
    )
    parser.add_argument("--start", metavar="WORKFLOW_ID", help="start a run once the worker is up")
    parser.add_argument(
        "--workflow", default="blog_digest", choices=sorted(STEPS), help="the type to --start"
    )
    parser.add_argument("--input", default="{}", help="the run's input, a JSON object")
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> int:
    try:
        request: dict[str, Any] = json.loads(args.input)
    except json.JSONDecodeError as exc:
        print(f"error: --input is not JSON ({exc})", file=sys.stderr)
        return 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    settings = Settings(prompts=args.prompts.resolve(), log=args.log.resolve())
    try:
        client = await Client.connect(args.address, namespace=args.namespace)
    except RuntimeError as exc:
        print(f"error: cannot connect to Temporal at {args.address}: {exc}", file=sys.stderr)
        return 1
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as executor:
        worker = new_worker(
            client, task_queue=args.task_queue, settings=settings, executor=executor
        )
        async with worker:
            print(f"worker ready on task queue {args.task_queue}", flush=True)
            if args.start:
                try:
                    run_id = await start_run(
                        client,
                        workflow_type=args.workflow,
                        workflow_id=args.start,
                        request=request,
                        task_queue=args.task_queue,
                    )
                except WorkflowAlreadyStartedError:
                    print(f"error: {args.start} already has a running run", file=sys.stderr)
                    return 1
                print(f"started {args.start} run {run_id}", flush=True)
            await stop.wait()
    return 0


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(serve(parse_args(argv)))


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip interpreter teardown: the SDK's Rust threads can abort it ("PyGILState_Release:
    # thread state must be current", temporalio/sdk-python#300), turning exit 0 into 134.
    os._exit(code)
