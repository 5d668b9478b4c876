"""The small interface the daemon and the CLI need from a workflow engine.

Two adapters implement it: Output's HTTP API (output_api.py) and Temporal itself
(runner/temporal). Everything here is data and signatures.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from runner.history import Activity, RunHistory


@dataclass(frozen=True, slots=True, kw_only=True)
class RunStatus:
    workflow_id: str
    run_id: str
    status: str
    started_at: float | None = None  # epoch seconds
    workflow_type: str | None = None

    @property
    def running(self) -> bool:
        return self.status == "running"


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkflowResult:
    """How a run that was waited for ended (Output's result, docs/output-api.md §3.12)."""

    workflow_id: str
    run_id: str | None
    status: str  # "completed", "failed", "terminated", ...
    output: Any = None
    error: str | None = None  # the failure's message when it did not complete


OnSteps = Callable[[list[Activity]], None]


class Engine(Protocol):
    """What output-reset asks of the engine that runs the workflows."""

    description: str
    # True when a reset can target any workflow task event (Temporal), False when it names a
    # step and the engine resolves it to the step's last occurrence (the Output API).
    resets_by_event: bool
    # True when edits restart a worker whose readiness can be observed (Output's dev worker).
    watches_worker: bool

    def status(self, workflow_id: str, run_id: str | None = None) -> RunStatus:
        """A run's status; the latest run of the id when `run_id` is None."""
        ...

    def runs_of_type(self, workflow_type: str) -> list[RunStatus]:
        """Runs of a workflow type (every workflow id), newest start first."""
        ...

    def history(self, workflow_id: str, run_id: str, *, payloads: bool = False) -> RunHistory: ...

    def follow(
        self,
        history: RunHistory,
        *,
        on_steps: OnSteps,
        stop: threading.Event,
        payloads: bool = False,
    ) -> None:
        """Feed new events into `history` until the run closes or `stop` is set.

        A long poll that ends with nothing new is not a failure. Any failure is raised as an
        `ApiError` (`retryable` when following again may work) and never retried here: the
        caller follows again with the same history, whose events already fed are skipped.
        """
        ...

    def reset(
        self, workflow_id: str, run_id: str, *, step: str | None, event_id: int | None, reason: str
    ) -> str:
        """Reset once (never retried) after `step`, or to `event_id`; return the new run id.

        Raises ResetOutcomeUnknown when the request went out but its answer was lost.
        """
        ...

    def find_reset(self, workflow_id: str, base_run_id: str, token: str) -> str | None:
        """The run a lost reset created from `base_run_id`, found by its reason's token."""
        ...

    def run_input(self, workflow_id: str, run_id: str) -> Any: ...

    def start(self, workflow_type: str, workflow_id: str, input: Any) -> str:
        """A new run of `workflow_type` under `workflow_id` with `input`; its run id. Never
        retried (ResetOutcomeUnknown when the answer is lost). An id with no run yet (a
        dataset case's first run) runs where runs of `workflow_type` run."""
        ...

    def run_workflow(self, workflow_type: str, input: Any, *, timeout_s: float) -> WorkflowResult:
        """Run `workflow_type` with `input` under a new id and wait for its end (an eval
        workflow: Output's POST /workflow/run). NoSuchWorkflow when the engine can tell that the
        worker does not know it (Output's catalog can; Temporal cannot, and times out); ApiError
        when it did not end within `timeout_s` (it keeps running)."""
        ...

    def terminate(self, workflow_id: str, run_id: str, reason: str) -> None: ...

    def trace(self, workflow_id: str, run_id: str) -> Any:
        """The run's trace tree when one can be read (closed runs only), else None."""
        ...

    def worker_status(self) -> RunStatus | None:
        """The run that marks which worker is up (Output's catalog workflow: a new worker with
        new code starts a new one), or None when the engine has no such thing."""
        ...

    def wait_worker_answers(self) -> None:
        """Block until the worker answers a query (it does not while it restarts)."""
        ...

    def close(self) -> None: ...
