"""Run a real Daemon (real watcher, real files) in a thread and read what it reports."""

from __future__ import annotations

import queue
import threading
import time
from pathlib import Path
from typing import TypeVar

from runner.config import load_config
from runner.daemon import Daemon, Options
from runner.engine import Engine
from runner.reports import Decided, Ready, Report

R = TypeVar("R")

CONFIG = """\
debounce_ms: {debounce}
workflows:
  - id: rec-three-1
    rules:
      - files: src/workflows/probe_three/prompts/polish@v1.prompt
        rerun: polishDraft
      - files: src/workflows/probe_three/prompts/draft@v1.prompt
        rerun: draftOutline
      - files: src/workflows/probe_three/steps.ts
        reset_after: extractTopics
"""
PROMPTS = ("polish@v1.prompt", "draft@v1.prompt")


def make_project(root: Path, *, debounce_ms: int = 50) -> Path:
    """A small Output-like project mapped to the probe_three workflow of the recordings."""
    prompts = root / "src" / "workflows" / "probe_three" / "prompts"
    prompts.mkdir(parents=True)
    for name in PROMPTS:
        (prompts / name).write_text(f"---\nmodel: x\n---\n<user>{name} v1</user>\n")
    (root / "src" / "workflows" / "probe_three" / "steps.ts").write_text("export const a = 1;\n")
    (root / "README.md").write_text("not mapped\n")
    config = root / "output-reset.yaml"
    config.write_text(CONFIG.format(debounce=debounce_ms))
    return config


class Running:
    def __init__(self, config: Path, engine: Engine, options: Options) -> None:
        self.reports: queue.Queue[Report] = queue.Queue()
        self.seen: list[Report] = []
        self._backlog: list[Report] = []
        self.daemon = Daemon(load_config(config), engine, self.reports.put, options=options)
        self.failure: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="test-daemon")

    def _run(self) -> None:
        try:
            self.daemon.run()
        except BaseException as exc:
            self.failure = exc
            raise

    def __enter__(self) -> Running:
        self.thread.start()
        self.wait_for(Ready)
        return self

    def __exit__(self, *exc: object) -> None:
        self.daemon.stop()
        self.thread.join(timeout=5)
        assert not self.thread.is_alive(), "the daemon did not stop within 5 s"
        # Jobs still under way (an eval run, say) are daemon threads the process would not wait
        # for; here they finish before the test closes the engine under them.
        for job in threading.enumerate():
            if job.name == "output-reset-job":
                job.join(timeout=5)

    def wait_for(self, kind: type[R], timeout: float = 5.0) -> R:
        """The next report of this kind; reports of other kinds are kept for later calls."""
        for i, report in enumerate(self._backlog):
            if isinstance(report, kind):
                del self._backlog[: i + 1]
                return report
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {kind.__name__} within {timeout} s; saw {self.seen}")
            try:
                report = self.reports.get(timeout=remaining)
            except queue.Empty:
                continue
            self.seen.append(report)
            if isinstance(report, kind):
                return report
            self._backlog.append(report)

    def decision(self, timeout: float = 5.0) -> Decided:
        return self.wait_for(Decided, timeout)
