"""Helpers for the Temporal tests: a project folder, bounded waits, rules, a `watch` process,
configs for either engine, and what the Output API double saw."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx

import runner.demo.worker as example_worker
from runner.config import Rule
from runner.demo.worker.steps import Invocation, read_invocations
from runner.engine import Engine
from runner.history import RunHistory
from runner.plan import Change
from runner.state import StateStore
from tests.temporal.output_bridge import BridgeReset, OutputBridge

T = TypeVar("T")

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_PROMPTS = Path(example_worker.__file__).parent / "prompts"
DIGEST_STEPS = ["fetch_article", "extract_points", "draft_digest", "polish_digest"]
RUN_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class Project:
    root: Path
    prompts: Path
    log: Path

    def prompt(self, step: str) -> Path:
        return self.prompts / f"{step}.prompt"

    def edit(self, step: str, text: str) -> None:
        self.prompt(step).write_text(text + "\n", encoding="utf-8")

    def invocations(self, run_id: str | None = None) -> list[Invocation]:
        found = read_invocations(self.log)
        return [i for i in found if run_id is None or i.run_id == run_id]

    def steps_run(self, run_id: str) -> list[str]:
        return [i.step for i in self.invocations(run_id)]


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def wait_closed(
    engine: Engine, workflow_id: str, run_id: str, timeout: float = RUN_TIMEOUT_S
) -> RunHistory:
    """Follow the run until it closes (bounded), then read it again with payloads."""
    following = RunHistory(workflow_id=workflow_id, run_id=run_id)
    give_up = threading.Event()
    timer = threading.Timer(timeout, give_up.set)
    timer.start()
    try:
        engine.follow(following, on_steps=lambda done: None, stop=give_up)
    finally:
        timer.cancel()
        timer.join()
    assert following.closed, f"run {run_id} of {workflow_id} did not close within {timeout} s"
    return engine.history(workflow_id, run_id, payloads=True)


def eventually(probe: Callable[[], T | None], what: str, timeout: float = 10.0) -> T:
    """Poll `probe` (every 50 ms, up to `timeout`) until it returns something truthy."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        pause.wait(0.05)


def rerun(step: str, *files: str) -> Change:
    shown = files or (f"prompts/{step}.prompt",)
    return Change(rule=Rule(files=shown, action="rerun", step=step, line=1), files=shown)


def reset_after(step: str, occurrence: int | None = None, *files: str) -> Change:
    shown = files or ("prompts/steps.py",)
    rule = Rule(files=shown, action="reset_after", step=step, line=1, occurrence=occurrence)
    return Change(rule=rule, files=shown)


def event_types(history_events: Iterable[dict[str, Any]]) -> list[str]:
    return [str(e["eventTypeName"]) for e in history_events]


# -- `output-reset watch --json` as a subprocess ----------------------------------------------


class Watch:
    """`python -m runner watch --json` in its own process group, its events read on a thread."""

    def __init__(self, config: Path, *extra: str) -> None:
        self.config = config
        self.events: list[dict[str, Any]] = []
        self.stderr_path = config.parent / "watch.stderr"
        self._lines: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._backlog: list[dict[str, Any]] = []
        with self.stderr_path.open("wb") as stderr:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "runner",
                    "watch",
                    "-c",
                    str(config),
                    "--no-wait-worker",
                    "--json",
                    *extra,
                ],
                cwd=config.parent,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=stderr,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
                start_new_session=True,
            )
        self._reader = threading.Thread(target=self._read, name="test-watch-stdout")
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            text = raw.decode(errors="replace").strip()
            if text.startswith("{"):
                self._lines.put(json.loads(text))
        self._lines.put(None)

    def __enter__(self) -> Watch:
        self.wait_for("ready", timeout=30)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        self._reader.join(10)
        if self.process.stdout is not None:
            self.process.stdout.close()

    def wait_for(self, event: str, timeout: float = RUN_TIMEOUT_S, **fields: Any) -> dict[str, Any]:
        """The next event of this kind with these fields; others are kept for later calls."""
        for i, seen in enumerate(self._backlog):
            if _matches(seen, event, fields):
                del self._backlog[i]
                return seen
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"watch printed no {event} {fields} within {timeout} s; it printed "
                    f"{self.events}; stderr: {self.stderr()}"
                )
            try:
                item = self._lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if item is None:
                raise AssertionError(
                    f"watch exited ({self.process.wait()}) before a {event} {fields}; it "
                    f"printed {self.events}; stderr: {self.stderr()}"
                )
            self.events.append(item)
            if _matches(item, event, fields):
                return item
            self._backlog.append(item)

    def interrupt(self, timeout: float = 15.0) -> int:
        """Ctrl-C; wait for the exit and for every line it printed."""
        self.process.send_signal(signal.SIGINT)
        code = self.process.wait(timeout)
        self._reader.join(timeout)
        while True:
            item = self._lines.get(timeout=timeout)
            if item is None:
                break
            self.events.append(item)
        return code

    def all(self, event: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("event") == event]

    def stderr(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")
        except OSError:
            return ""


def _matches(item: dict[str, Any], event: str, fields: dict[str, Any]) -> bool:
    return item.get("event") == event and all(item.get(k) == v for k, v in fields.items())


def write_config(
    root: Path, address: str, workflow_id: str, rules: str, debounce: int = 150
) -> Path:
    """An output-reset.yaml for the temporal engine; `rules` is the YAML list, indented 6."""
    engine = f"engine:\n  kind: temporal\n  address: {address}\n"
    return _write_config(root, engine, workflow_id, rules, debounce)


def write_api_config(root: Path, url: str, workflow_id: str, rules: str) -> Path:
    """An output-reset.yaml for the default engine, the Output API at `url`."""
    return _write_config(root, f"api:\n  url: {url}\n", workflow_id, rules, 150)


def _write_config(root: Path, engine: str, workflow_id: str, rules: str, debounce: int) -> Path:
    path = root / "output-reset.yaml"
    path.write_text(
        f"{engine}debounce_ms: {debounce}\nworkflows:\n  - id: {workflow_id}\n    rules:\n{rules}",
        encoding="utf-8",
    )
    return path


def rules_for(steps: Iterable[str]) -> str:
    """One `rerun` rule per step, watching prompts/<step>.prompt."""
    return "".join(f"      - files: prompts/{s}.prompt\n        rerun: {s}\n" for s in steps)


def pinned_run(project: Project, workflow_id: str) -> str:
    """The run the state file pins for this workflow id."""
    state = StateStore(project.root / ".output-reset")
    assert state.path.is_file()
    return state.load()[workflow_id].run_id


def finish(watch: Watch) -> None:
    """Ctrl-C: the watcher stops cleanly (exit code 0)."""
    code = watch.interrupt()
    assert code == 0, f"watch exited with {code}; stderr: {watch.stderr()}"


def edit_and_wait(watch: Watch, project: Project, edits: dict[str, str]) -> dict[str, Any]:
    """Edit prompts, then wait for the one reset and for its new run to finish."""
    for step, text in edits.items():
        project.edit(step, text)
    decision = watch.wait_for("decision")
    assert decision.get("newRunId"), decision
    watch.wait_for("run_finished", runId=decision["newRunId"])
    return decision


# -- what the Output API double saw, and the histories it serves ---------------------------------


def the_one_reset(
    bridge: OutputBridge, workflow_id: str, base_run: str, step: str, decision: dict[str, Any]
) -> BridgeReset:
    """Exactly one reset POST, pinned to the base run, naming `step`, with the decision's
    reason; the bridge's §3.2 point is the planner's predicted event."""
    posts = bridge.requests("POST", "/reset")
    assert [(p.path, p.json) for p in posts] == [
        (
            f"/workflow/{workflow_id}/runs/{base_run}/reset",
            {"stepName": step, "reason": decision["reason"]},
        )
    ]
    assert len(bridge.resets) == 1
    sent = bridge.resets[0]
    assert (sent.step, sent.new_run_id) == (step, decision["newRunId"])
    assert sent.event_id == decision["resetEventId"]
    return sent


def marker_of(after: RunHistory, base_run: str) -> int:
    """The event of the reset marker that made `after` from `base_run` (Temporal's)."""
    marker = after.reset_marker_to(base_run)
    assert marker is not None, after.reset_markers
    return marker.event_id


def events_of(http: httpx.Client, workflow_id: str, run_id: str) -> list[dict[str, Any]]:
    """Every event of a run through the bridge's paged history route, with payloads."""
    path = f"/workflow/{workflow_id}/runs/{run_id}/history"
    events: list[dict[str, Any]] = []
    params = {"pageSize": "50", "includePayloads": "true"}
    while True:
        page = http.get(path, params=params).json()
        events += page["events"]
        if not page["nextPageToken"]:
            return events
        params["pageToken"] = page["nextPageToken"]
