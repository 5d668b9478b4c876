"""The in-memory Temporal-like state behind the fake API: runs, their histories, and the
server-side operations (start, reset, terminate, cancel, catalog swap) with the semantics the
recordings show. Everything is guarded by one `threading.Condition`, notified on every change,
so HTTP long-polls, SSE streams and test waits all block on the same thing.
"""

from __future__ import annotations

import copy
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from tests.fakeapi import events as ev
from tests.fakeapi.program import WorkflowDef

CATALOG_TYPE = "$catalog"
RESETTER_IDENTITY = "history-resetter"


class ApiError(Exception):
    """An error the API answers with a JSON body `{error, message, workflowId?, ...}`."""

    def __init__(
        self,
        status: int,
        error: str,
        message: str,
        *,
        workflow_id: str | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {error}: {message}")
        self.status = status
        self.body: dict[str, Any] = {"error": error, "message": message}
        if workflow_id is not None:
            self.body["workflowId"] = workflow_id
        self.body.update(extra or {})
        self.headers = headers or {}


def workflow_not_found(workflow_id: str) -> ApiError:
    return ApiError(
        404,
        "WorkflowNotFoundError",
        f"workflow not found for ID: {workflow_id}",
        workflow_id=workflow_id,
    )


def execution_not_found_message(workflow_id: str, run_id: str) -> str:
    return f'workflow execution not found for workflow ID "{workflow_id}" and run ID "{run_id}"'


@dataclass
class WorkerProcess:
    """The identity of the (simulated) worker process; a reload starts a new one."""

    pid: int
    sticky_suffix: str = field(default_factory=lambda: os.urandom(16).hex())

    @property
    def identity(self) -> str:
        return f"{self.pid}@vm"

    @property
    def sticky_queue(self) -> str:
        return f"{self.identity}-{self.sticky_suffix}"


class _Batch:
    """Events appended in one history transaction; pages and SSE frames hold whole batches."""

    def __init__(self, run: Run) -> None:
        self._run = run

    def add(self, type_name: str, attributes: ev.Attributes, *, time_ms: int | None = None) -> int:
        run = self._run
        event_id = len(run.events) + 1
        event = ev.make_event(
            event_id, type_name, ev.now_ms() if time_ms is None else time_ms, attributes
        )
        run.events.append(event)
        run.history_bytes += len(ev.compact_json(event))
        return event_id


@dataclass(eq=False)
class Run:
    workflow_id: str
    run_id: str
    workflow_type: str
    start_ms: int  # describe startTime: the reset time for a reset run (docs/output-api.md §3.2)
    queue: str
    parent: tuple[str, str] | None = None
    parent_initiated_id: int = 0
    events: list[ev.Event] = field(default_factory=list)
    batch_ends: list[int] = field(default_factory=list)
    history_bytes: int = 0
    status: str = "running"
    close_ms: int | None = None
    close_order: int = 0  # orders runs closed within the same millisecond
    invocations: list[str] = field(default_factory=list)
    wft_pending: bool = False
    wft_worker: str | None = None  # identity of the worker that completed the last task
    redispatch: list[int] = field(default_factory=list)  # scheduled ids to execute again

    @contextmanager
    def batch(self) -> Iterator[_Batch]:
        yield _Batch(self)
        if not self.batch_ends or self.batch_ends[-1] != len(self.events):
            self.batch_ends.append(len(self.events))

    @property
    def is_catalog(self) -> bool:
        return self.workflow_type == CATALOG_TYPE

    @property
    def running(self) -> bool:
        return self.status == "running"

    def event(self, event_id: int) -> ev.Event:
        return self.events[event_id - 1]

    def started_attributes(self) -> ev.Attributes:
        return ev.attributes_of(self.events[0])

    @property
    def input(self) -> Any:
        args = self.started_attributes().get("input") or [None]
        return args[0]

    @property
    def first_execution_run_id(self) -> str:
        return str(self.started_attributes()["firstExecutionRunId"])

    def last_event_id(self, type_name: str) -> int:
        for event in reversed(self.events):
            if event["eventTypeName"] == type_name:
                return int(event["eventId"])
        raise LookupError(type_name)

    def terminal_event(self) -> ev.Event | None:
        if self.events and self.events[-1]["eventTypeName"] in ev.TERMINAL_STATUS:
            return self.events[-1]
        return None

    def memo(self) -> dict[str, Any]:
        """The run's memo: inherited at start (child runs) plus every upsert so far."""
        memo: dict[str, Any] = {}
        start_memo = self.started_attributes().get("memo", {}).get("fields", {})
        memo.update({key: ev.decode_payload(blob) for key, blob in start_memo.items()})
        for event in self.events:
            if event["eventTypeName"] == "WORKFLOW_PROPERTIES_MODIFIED":
                upserted = ev.attributes_of(event)["upsertedMemo"]["fields"]
                memo.update({key: ev.decode_payload(blob) for key, blob in upserted.items()})
        return memo

    def page(self, start: int, max_batches: int) -> tuple[list[ev.Event], int]:
        """Events from index `start` through `max_batches` whole batches, and the next index."""
        end = start
        taken = 0
        for batch_end in self.batch_ends:
            if batch_end <= start:
                continue
            end = batch_end
            taken += 1
            if taken >= max_batches:
                break
        return self.events[start:end], end

    def describe(self) -> dict[str, Any]:
        return {
            "workflowId": self.workflow_id,
            "runId": self.run_id,
            "status": self.status,
            "startTime": ev.iso(self.start_ms),
            "closeTime": None if self.close_ms is None else ev.iso(self.close_ms),
            "historyLength": len(self.events),
            "taskQueue": self.queue,
        }


@dataclass
class Reload:
    deadline: float  # time.monotonic() when the new worker takes over
    change_hash: bool
    new_code_version: int | None
    pause: bool


class Store:
    def __init__(self, catalog_id: str) -> None:
        self.cond = threading.Condition(threading.RLock())
        self.stopping = False
        self.catalog_id = catalog_id
        self.workflows: dict[str, WorkflowDef] = {}
        self.names: dict[str, str] = {}  # name or alias -> workflow name
        self.runs: dict[str, Run] = {}
        self.by_workflow: dict[str, list[Run]] = {}
        self.code_version = 1
        self.worker = WorkerProcess(pid=24074)
        self.reload: Reload | None = None
        self._closed_count = 0
        self._start_catalog_run()

    # --- lookups -----------------------------------------------------------------------------

    def notify(self) -> None:
        with self.cond:
            self.cond.notify_all()

    def get(self, workflow_id: str, run_id: str) -> Run | None:
        run = self.runs.get(run_id)
        return run if run is not None and run.workflow_id == workflow_id else None

    def latest(self, workflow_id: str) -> Run | None:
        runs = self.by_workflow.get(workflow_id)
        return runs[-1] if runs else None

    def catalog_run(self) -> Run:
        run = self.latest(self.catalog_id)
        assert run is not None
        return run

    def worker_paused(self) -> bool:
        return self.reload is not None and self.reload.pause

    def define(self, definition: WorkflowDef) -> None:
        with self.cond:
            self.workflows[definition.name] = definition
            self.names[definition.name] = definition.name
            for alias in definition.aliases:
                self.names[alias] = definition.name

    def _register(self, run: Run) -> Run:
        self.runs[run.run_id] = run
        self.by_workflow.setdefault(run.workflow_id, []).append(run)
        self.notify()
        return run

    # --- starting runs -----------------------------------------------------------------------

    def start(self, workflow_name: str, workflow_id: str, input_value: Any) -> Run:
        with self.cond:
            name = self.names.get(workflow_name)
            if name is None:
                raise ApiError(
                    424,
                    "UnsupportedWorkflowError",
                    f"Workflow {workflow_name} is not supported in the task queue "
                    f"{self.catalog_id}.",
                )
            self._check_children_defined(name)
            current = self.latest(workflow_id)
            if current is not None and current.running:
                raise ApiError(
                    500,
                    "WorkflowExecutionAlreadyStartedError",
                    "Workflow execution already started",
                    workflow_id=workflow_id,
                )
            start_ms = ev.now_ms()
            run = Run(workflow_id, ev.uuid7(start_ms), name, start_ms, self.catalog_id)
            with run.batch() as batch:
                batch.add(
                    *ev.workflow_execution_started_root(
                        workflow_type=name,
                        workflow_id=workflow_id,
                        run_id=run.run_id,
                        input_value=input_value,
                        start_ms=start_ms,
                        queue=self.catalog_id,
                    ),
                    time_ms=start_ms,
                )
                self.schedule_workflow_task(run, batch)
            return self._register(run)

    def _check_children_defined(self, name: str, seen: frozenset[str] = frozenset()) -> None:
        for child in self.workflows[name].child_workflows():
            if child not in self.workflows:
                raise ValueError(f"workflow {name!r} calls undefined child workflow {child!r}")
            if child not in seen:
                self._check_children_defined(child, seen | {name})

    def start_child(
        self, parent: Run, initiated_id: int, workflow_id: str, workflow_type: str, value: Any
    ) -> Run:
        """Start a child execution and record CHILD_WORKFLOW_EXECUTION_STARTED in the parent."""
        with self.cond:
            parent_start = parent.started_attributes()
            root = parent_start.get("rootWorkflowExecution")
            root_pair = (
                (root["workflowId"], root["runId"]) if root else (parent.workflow_id, parent.run_id)
            )
            start_ms = ev.now_ms()
            child = Run(
                workflow_id,
                ev.uuid7(start_ms),
                workflow_type,
                start_ms,
                self.catalog_id,
                parent=(parent.workflow_id, parent.run_id),
                parent_initiated_id=initiated_id,
            )
            with child.batch() as batch:
                batch.add(
                    *ev.workflow_execution_started_child(
                        workflow_type=workflow_type,
                        workflow_id=workflow_id,
                        run_id=child.run_id,
                        input_value=value,
                        parent=(parent.workflow_id, parent.run_id),
                        parent_initiated_id=initiated_id,
                        root=root_pair,
                        memo=parent.memo(),
                        queue=self.catalog_id,
                    ),
                    time_ms=start_ms,
                )
                self.schedule_workflow_task(child, batch)
            self._register(child)
            with parent.batch() as batch:
                ref = ev.ChildRef(workflow_id, child.run_id, workflow_type)
                batch.add(*ev.child_started(ref, initiated_id))
                self.schedule_workflow_task(parent, batch)
            return child

    def schedule_workflow_task(self, run: Run, batch: _Batch) -> None:
        """WORKFLOW_TASK_SCHEDULED, unless one is already pending (events buffer until then)."""
        if run.wft_pending:
            return
        sticky = self.worker.sticky_queue if run.wft_worker == self.worker.identity else None
        batch.add(*ev.workflow_task_scheduled(self.catalog_id, sticky))
        run.wft_pending = True
        self.notify()

    # --- closing runs ------------------------------------------------------------------------

    def close(self, run: Run, status: str) -> None:
        """Mark a run closed (its terminal event is already in the history) and tell its parent."""
        with self.cond:
            run.status = status
            run.close_ms = ev.now_ms()
            self._closed_count += 1
            run.close_order = self._closed_count
            run.wft_pending = False
            run.redispatch.clear()
            self.notify()
            if run.parent is None or status not in ("completed", "failed"):
                return
            parent = self.get(*run.parent)
            if parent is None or not parent.running:
                return
            started_id = next(
                (
                    int(event["eventId"])
                    for event in parent.events
                    if event["eventTypeName"] == "CHILD_WORKFLOW_EXECUTION_STARTED"
                    and ev.attributes_of(event)["workflowExecution"]["runId"] == run.run_id
                ),
                None,
            )
            if started_id is None:
                return  # a reset child run: the parent only knows the original child run
            child = ev.ChildRef(run.workflow_id, run.run_id, run.workflow_type)
            initiated_id = run.parent_initiated_id
            with parent.batch() as batch:
                if status == "completed":
                    result = ev.attributes_of(run.events[-1])["result"][0]
                    batch.add(*ev.child_completed(child, initiated_id, started_id, result))
                else:
                    message = "Child workflow execution failed"
                    batch.add(*ev.child_failed(child, initiated_id, started_id, message))
                self.schedule_workflow_task(parent, batch)

    def terminate(self, run: Run, reason: str, identity: str) -> None:
        with self.cond:
            with run.batch() as batch:
                batch.add(*ev.workflow_execution_terminated(reason, identity))
            self.close(run, "terminated")
            # parentClosePolicy 1 (TERMINATE): running children go down with their parent.
            for child in list(self.runs.values()):
                if child.parent == (run.workflow_id, run.run_id) and child.running:
                    self.terminate(child, "by parent close policy", "history-service")

    def cancel(self, run: Run) -> None:
        """Graceful stop: the worker acknowledges the cancellation in its next workflow task."""
        with self.cond:
            with run.batch() as batch:
                batch.add(*ev.workflow_execution_cancel_requested())
                self.schedule_workflow_task(run, batch)
            run.wft_pending = False
            scheduled_id = run.last_event_id("WORKFLOW_TASK_SCHEDULED")
            identity = self.worker.identity
            with run.batch() as batch:
                started_id = batch.add(
                    *ev.workflow_task_started(scheduled_id, identity, run.history_bytes)
                )
            with run.batch() as batch:
                completed_id = batch.add(
                    *ev.workflow_task_completed(
                        scheduled_id, started_id, identity, first_in_history=False
                    )
                )
                batch.add(*ev.workflow_execution_canceled(completed_id))
            self.close(run, "cancelled")

    # --- reset -------------------------------------------------------------------------------

    def reset(self, workflow_id: str, run_id: str, step_name: str, reason: str | None) -> Run:
        """Temporal ResetWorkflowExecution as the API drives it (docs/output-api.md §5.2)."""
        with self.cond:
            base = self.get(workflow_id, run_id)
            if base is None:
                # Not mapped by the API: a raw gRPC error (recordings 2-16, 2-17).
                message = execution_not_found_message(workflow_id, run_id)
                raise ApiError(500, "Error", f"5 NOT_FOUND: {message}")
            suffix = f"#{step_name}"
            scheduled = [
                int(event["eventId"])
                for event in base.events
                if event["eventTypeName"] == "ACTIVITY_TASK_SCHEDULED"
                and ev.attributes_of(event)["activityType"]["name"].endswith(suffix)
            ]
            if not scheduled:
                raise ApiError(
                    404,
                    "StepNotFoundError",
                    f'Step "{step_name}" was not found in the workflow history.',
                )
            not_completed = ApiError(
                409,
                "StepNotCompletedError",
                f'Step "{step_name}" has not completed. Cannot reset to an incomplete step.',
            )
            completed_id = next(
                (
                    int(event["eventId"])
                    for event in base.events
                    if event["eventTypeName"] == "ACTIVITY_TASK_COMPLETED"
                    and int(ev.attributes_of(event)["scheduledEventId"]) == scheduled[-1]
                ),
                None,
            )
            if completed_id is None:
                raise not_completed
            point = next(
                (
                    event
                    for event in base.events[completed_id:]
                    if event["eventTypeName"] == "WORKFLOW_TASK_COMPLETED"
                ),
                None,
            )
            if point is None:
                raise not_completed
            if reason is None:
                reason = f'Reset to re-run from after step "{step_name}"'

            for other in list(self.by_workflow[workflow_id]):
                if other.running:
                    self.terminate(other, reason, RESETTER_IDENTITY)
            return self._fork(base, point, reason)

    def _fork(self, base: Run, point: ev.Event, reason: str) -> Run:
        keep = int(point["eventId"]) - 1
        reset_ms = ev.now_ms()
        run = Run(
            base.workflow_id,
            ev.uuid4(),
            base.workflow_type,
            reset_ms,
            base.queue,
            parent=base.parent,
            parent_initiated_id=base.parent_initiated_id,
        )
        run.events = copy.deepcopy(base.events[:keep])
        run.batch_ends = [end for end in base.batch_ends if end <= keep]
        run.history_bytes = sum(len(ev.compact_json(event)) for event in run.events)
        point_attrs = ev.attributes_of(point)
        with run.batch() as batch:
            batch.add(
                *ev.workflow_task_failed_reset(
                    scheduled_id=int(point_attrs["scheduledEventId"]),
                    started_id=int(point_attrs["startedEventId"]),
                    reason=reason,
                    base_run_id=base.run_id,
                    new_run_id=run.run_id,
                ),
                time_ms=reset_ms,
            )
            self.schedule_workflow_task(run, batch)
        closed = {
            int(ev.attributes_of(event)["scheduledEventId"])
            for event in run.events
            if event["eventTypeName"] in ("ACTIVITY_TASK_COMPLETED", "ACTIVITY_TASK_FAILED")
        }
        # Activities scheduled but not completed at the reset point run again (recording 3-06).
        run.redispatch = [
            int(event["eventId"])
            for event in run.events
            if event["eventTypeName"] == "ACTIVITY_TASK_SCHEDULED"
            and int(event["eventId"]) not in closed
        ]
        return self._register(run)

    # --- runs list ---------------------------------------------------------------------------

    def list_runs(self, workflow_type: str | None, catalog: str | None, limit: int) -> list[Run]:
        """Open runs first, newest start first; then closed runs, newest close first (§2.3)."""
        with self.cond:
            position = {run.run_id: index for index, run in enumerate(self.runs.values())}
            runs = [
                run
                for run in self.runs.values()
                if (workflow_type is None or run.workflow_type == workflow_type)
                and (catalog is None or run.queue == catalog)
            ]
            open_runs = sorted(
                (run for run in runs if run.running),
                key=lambda run: (run.start_ms, position[run.run_id]),
                reverse=True,
            )
            closed_runs = sorted(
                (run for run in runs if not run.running),
                key=lambda run: (run.close_ms or 0, run.close_order),
                reverse=True,
            )
            return (open_runs + closed_runs)[:limit]

    # --- catalog workflow and worker reloads -------------------------------------------------

    def _start_catalog_run(self) -> None:
        start_ms = ev.now_ms()
        run = Run(self.catalog_id, ev.uuid7(start_ms), CATALOG_TYPE, start_ms, self.catalog_id)
        with run.batch() as batch:
            batch.add(
                *ev.workflow_execution_started_root(
                    workflow_type=CATALOG_TYPE,
                    workflow_id=self.catalog_id,
                    run_id=run.run_id,
                    input_value=None,
                    start_ms=start_ms,
                    queue=self.catalog_id,
                    identity=self.worker.identity,
                ),
                time_ms=start_ms,
            )
            batch.add(*ev.workflow_task_scheduled(self.catalog_id, None))
        self._catalog_task(run, last=False)
        self._register(run)

    def _catalog_task(self, run: Run, *, last: bool) -> None:
        identity = self.worker.identity
        scheduled_id = len(run.events)
        with run.batch() as batch:
            started_id = batch.add(
                *ev.workflow_task_started(scheduled_id, identity, run.history_bytes)
            )
        with run.batch() as batch:
            completed_id = batch.add(
                *ev.workflow_task_completed(
                    scheduled_id, started_id, identity, first_in_history=scheduled_id == 2
                )
            )
            if last:
                batch.add(*ev.workflow_execution_completed(None, completed_id))
        run.wft_worker = identity

    def begin_reload(self, reload: Reload) -> None:
        with self.cond:
            self.reload = reload
            self.notify()

    def finish_reload(self) -> None:
        """The new worker is up: new pid, new code, and a new catalog run if the hash changed."""
        with self.cond:
            reload = self.reload
            if reload is None:
                return
            self.reload = None
            self.worker = WorkerProcess(pid=self.worker.pid + 1)
            if reload.new_code_version is not None:
                self.code_version = reload.new_code_version
            if reload.change_hash:
                old = self.catalog_run()
                with old.batch() as batch:
                    batch.add(*ev.workflow_task_scheduled(self.catalog_id, None))
                self._catalog_task(old, last=True)
                self.close(old, "completed")
                self._start_catalog_run()
            self.notify()

    def reload_pending(self) -> float | None:
        """Seconds until the reload finishes, or None when no reload is pending."""
        with self.cond:
            if self.reload is None:
                return None
            return max(0.0, self.reload.deadline - time.monotonic())
