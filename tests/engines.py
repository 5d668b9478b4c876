"""An in-memory `Engine` for daemon tests: recorded histories in, resets recorded out."""

from __future__ import annotations

import queue
import threading
import uuid
from dataclasses import dataclass
from typing import Any

from runner.engine import OnSteps, RunStatus, WorkflowResult
from runner.errors import ApiError, NoSuchWorkflow
from runner.history import RunHistory
from tests.recordings import recording


@dataclass(frozen=True, slots=True)
class ResetCall:
    workflow_id: str
    run_id: str
    step: str
    reason: str
    new_run_id: str


class RecordingEngine:
    """Every run (original or reset) has the events of one recording; resets are recorded."""

    description = "recording engine"
    resets_by_event = False
    watches_worker = True

    def __init__(self, prefix: str = "1-06") -> None:
        body = recording(prefix)["body"]
        self.events: list[dict[str, Any]] = body["events"]
        self.workflow_id: str = body["workflow"]["workflowId"]
        self.workflow_type = "probe_three"
        self.latest = str(body["runId"])
        self.runs = [self.latest]
        self.resets: queue.Queue[ResetCall] = queue.Queue()
        self.marker = "catalog-1"
        self.marker_at: float | None = None  # wall-clock start of the catalog run
        self.down = False
        self.trace_tree: Any = None
        self.eval_output: Any = None  # what run_workflow answers for an eval workflow
        self.ran: list[tuple[str, Any]] = []
        self._lock = threading.Lock()

    def _check(self) -> None:
        if self.down:
            raise ApiError("cannot reach the engine (connection refused)", retryable=True)

    def status(self, workflow_id: str, run_id: str | None = None) -> RunStatus:
        self._check()
        return RunStatus(workflow_id=workflow_id, run_id=run_id or self.latest, status="completed")

    def runs_of_type(self, workflow_type: str) -> list[RunStatus]:
        self._check()
        return [self.status(self.workflow_id)]

    def history(self, workflow_id: str, run_id: str, *, payloads: bool = False) -> RunHistory:
        self._check()
        history = RunHistory(workflow_id=workflow_id, run_id=run_id)
        history.feed(self.events)
        return history

    def follow(
        self,
        history: RunHistory,
        *,
        on_steps: OnSteps,
        stop: threading.Event,
        payloads: bool = False,
    ) -> None:
        done = history.feed(self.events)
        on_steps(done)

    def reset(
        self, workflow_id: str, run_id: str, *, step: str | None, event_id: int | None, reason: str
    ) -> str:
        self._check()
        step = step or f"event {event_id}"
        new_run = str(uuid.uuid4())
        with self._lock:
            self.latest = new_run
            self.runs.append(new_run)
        self.resets.put(ResetCall(workflow_id, run_id, step, reason, new_run))
        return new_run

    def find_reset(self, workflow_id: str, base_run_id: str, token: str) -> str | None:
        return None

    def run_input(self, workflow_id: str, run_id: str) -> Any:
        return {"text": "alpha beta gamma delta", "delayMs": 1000}

    def start(self, workflow_type: str, workflow_id: str, input: Any) -> str:
        return self.reset(workflow_id, self.latest, step="(start)", event_id=None, reason="fresh")

    def terminate(self, workflow_id: str, run_id: str, reason: str) -> None:
        pass

    def trace(self, workflow_id: str, run_id: str) -> Any:
        return self.trace_tree

    def run_workflow(self, workflow_type: str, input: Any, *, timeout_s: float) -> WorkflowResult:
        self._check()
        self.ran.append((workflow_type, input))
        if self.eval_output is None:
            raise NoSuchWorkflow(f"the worker has no workflow {workflow_type}", status=424)
        return WorkflowResult(
            workflow_id="eval-1",
            run_id=str(uuid.uuid4()),
            status="completed",
            output=self.eval_output,
        )

    def worker_status(self) -> RunStatus | None:
        self._check()
        return RunStatus(
            workflow_id="main", run_id=self.marker, status="running", started_at=self.marker_at
        )

    def wait_worker_answers(self) -> None:
        self._check()

    def close(self) -> None:
        pass
