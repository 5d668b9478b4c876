"""Run `output-reset` as a real subprocess and read its output line by line, with deadlines."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest


def clean_environment() -> dict[str, str]:
    """The test's environment without the developer's own Output settings."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith(("OUTPUT_", "TEMPORAL_"))}
    return {**kept, "NO_COLOR": "1"}


class Cli:
    def __init__(
        self,
        *args: str,
        cwd: Path,
        env: dict[str, str] | None = None,
        program: list[str] | None = None,
    ) -> None:
        """`program` (this Python's `-m runner` unless told) with `args`."""
        environment = {**clean_environment(), "PYTHONUNBUFFERED": "1", **(env or {})}
        self.process = subprocess.Popen(
            [*(program or [sys.executable, "-m", "runner"]), *args],
            cwd=cwd,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[tuple[str, str]] = queue.Queue()  # (stream, line)
        self.output: list[str] = []
        self.errors: list[str] = []
        self.stamped: list[tuple[float, str]] = []  # (time.monotonic() read, stdout line)
        self._backlog: list[tuple[str, str]] = []  # read, not matched yet
        self._readers = [
            threading.Thread(
                target=self._read, args=("out", self.process.stdout, self.output), daemon=True
            ),
            threading.Thread(
                target=self._read, args=("err", self.process.stderr, self.errors), daemon=True
            ),
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, name: str, stream: object, into: list[str]) -> None:
        assert hasattr(stream, "readline")
        for line in iter(stream.readline, ""):
            if name == "out":
                self.stamped.append((time.monotonic(), line.rstrip("\n")))
            into.append(line.rstrip("\n"))
            self.lines.put((name, line.rstrip("\n")))

    def expect(self, text: str, timeout: float = 10.0) -> str:
        """The next line that contains `text`, in the order of its own stream (stdout or
        stderr): the lines of that stream before it are passed over; the other stream's are
        kept, since two pipes interleave as they please."""
        deadline = time.monotonic() + timeout
        while True:
            for i, (stream, line) in enumerate(self._backlog):
                if text in line:
                    self._backlog = [
                        entry
                        for j, entry in enumerate(self._backlog)
                        if j > i or entry[0] != stream
                    ]
                    return line
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"no line with {text!r} within {timeout} s\nstdout: {self.output}\n"
                    f"stderr: {self.errors}"
                )
            try:
                self._backlog.append(self.lines.get(timeout=remaining))
            except queue.Empty:
                continue

    def stop(self, sig: int = signal.SIGINT, timeout: float = 5.0) -> tuple[int, float]:
        """Send a signal; return the exit code and how long the process took to end."""
        started = time.monotonic()
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout=timeout)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
        took = time.monotonic() - started
        self._close()
        return code, took

    def wait(self, timeout: float = 10.0) -> int:
        code = self.process.wait(timeout=timeout)
        self._close()
        return code

    def _close(self) -> None:
        for reader in self._readers:
            reader.join(timeout=2)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


def run_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {**clean_environment(), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "runner", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def run_main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """`output-reset ARGV` in this process (fast): exit code, stdout, stderr."""
    from runner.cli import main

    old = sys.argv
    sys.argv = ["output-reset", *argv]
    try:
        main()
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    finally:
        sys.argv = old
    out, err = capsys.readouterr()
    return code, out, err


def processes_naming(text: str) -> list[int]:
    """The processes whose command line contains `text` (a zombie has none): a test's folder
    in it finds what a command started there, even after that command exited."""
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if text.encode() in command:
            found.append(int(entry.name))
    return found
