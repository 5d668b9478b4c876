"""The simulated Output worker: one thread that runs workflow tasks and activities.

Workflow tasks replay the program against the run's history (`program.replay`) and append the
commands' events; activities run for their `duration_s` (and until their `gate` is set) and are
recorded as STARTED + COMPLETED when they finish, as Temporal does (docs/output-api.md §4.4).
Pending workflow tasks are always handled before the next activity completion, so event layouts
are deterministic.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from tests.fakeapi import events as ev
from tests.fakeapi.evals import eval_commands
from tests.fakeapi.inputs import failure_message, workflow_execution_failed_validation
from tests.fakeapi.model import Run, Store
from tests.fakeapi.program import (
    INTERNAL_PREFIX,
    TRACE_STEP,
    Command,
    CompleteWorkflow,
    FailWorkflow,
    RejectInput,
    ScheduleActivity,
    StartChild,
    Step,
    UpsertMemo,
    WorkflowDef,
    plan,
    replay,
    step_result,
)

logger = logging.getLogger(__name__)

_GATE_POLL_S = 0.005  # a threading.Event cannot wake another waiter, so gates are polled


@dataclass(eq=False)
class _Execution:
    """One activity attempt in flight on the worker."""

    run: Run
    scheduled_id: int
    step: Step
    start_ms: int
    due: float  # time.monotonic()
    ok: bool
    outcome: Any  # the result, or the failure message
    identity: str
    non_retryable: bool = False  # failed on its first attempt (an evaluator that threw)

    def finished(self, now: float) -> bool:
        return now >= self.due and (self.step.gate is None or self.step.gate.is_set())


class Worker:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._executions: list[_Execution] = []
        self._thread = threading.Thread(target=self._loop, name="fakeapi-worker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with self._store.cond:
            self._store.stopping = True
            self._store.cond.notify_all()
        self._thread.join(timeout=10)

    # --- loop --------------------------------------------------------------------------------

    def _loop(self) -> None:
        store = self._store
        with store.cond:
            while not store.stopping:
                try:
                    progressed = self._step()
                except Exception:  # a bug in the fake: log it, keep serving the other runs
                    logger.exception("fake worker step failed")
                    progressed = False
                if not progressed:
                    store.cond.wait(self._next_wakeup())

    def _step(self) -> bool:
        """Do the next unit of ready work; False when there is nothing to do right now."""
        store = self._store
        now = time.monotonic()
        # A closed run (terminated, cancelled) rejects its activities' completions: forget them.
        self._executions = [execution for execution in self._executions if execution.run.running]
        if store.reload is not None and now >= store.reload.deadline:
            store.finish_reload()
            return True
        if not store.worker_paused():
            for run in list(store.runs.values()):
                if run.running and run.redispatch:
                    for scheduled_id in run.redispatch:
                        self._start_activity(run, scheduled_id)
                    run.redispatch.clear()
                    return True
            for run in list(store.runs.values()):
                if run.running and run.wft_pending and not run.is_catalog:
                    self._workflow_task(run)
                    return True
        for execution in self._executions:
            if execution.finished(now):
                self._executions.remove(execution)
                self._finish_activity(execution)
                return True
        return False

    def _next_wakeup(self) -> float | None:
        now = time.monotonic()
        wakeups: list[float] = []
        if self._store.reload is not None:
            wakeups.append(self._store.reload.deadline - now)
        for execution in self._executions:
            if execution.step.gate is not None and not execution.step.gate.is_set():
                wakeups.append(max(_GATE_POLL_S, execution.due - now))
            else:
                wakeups.append(execution.due - now)
        return max(0.0, min(wakeups)) if wakeups else None

    # --- workflow tasks ----------------------------------------------------------------------

    def _workflow_task(self, run: Run) -> None:
        store = self._store
        run.wft_pending = False
        identity = store.worker.identity
        scheduled_id = run.last_event_id("WORKFLOW_TASK_SCHEDULED")
        first = not any(e["eventTypeName"] == "WORKFLOW_TASK_COMPLETED" for e in run.events)
        with run.batch() as batch:
            started_id = batch.add(
                *ev.workflow_task_started(scheduled_id, identity, run.history_bytes)
            )
        commands = self._commands(store.workflows[run.workflow_type], run)
        activities: list[tuple[int, Step]] = []
        children: list[tuple[int, StartChild, str]] = []
        closing: str | None = None
        with run.batch() as batch:
            completed_id = batch.add(
                *ev.workflow_task_completed(
                    scheduled_id, started_id, identity, first_in_history=first
                )
            )
            for command in commands:
                if isinstance(command, UpsertMemo):
                    values = {key: self._memo_value(run, key) for key in command.keys}
                    batch.add(*ev.workflow_properties_modified(completed_id, values))
                elif isinstance(command, ScheduleActivity):
                    scheduled = batch.add(*self._scheduled_event(run, command, completed_id))
                    activities.append((scheduled, command.step))
                elif isinstance(command, StartChild):
                    child_id = ev.child_workflow_id(run.workflow_id)
                    initiated = batch.add(
                        *ev.start_child_initiated(
                            workflow_id=child_id,
                            workflow_type=command.workflow,
                            input_value=command.input,
                            wft_completed_id=completed_id,
                            memo=run.memo(),
                            queue=store.catalog_id,
                        )
                    )
                    children.append((initiated, command, child_id))
                elif isinstance(command, CompleteWorkflow):
                    batch.add(*ev.workflow_execution_completed(command.result, completed_id))
                    closing = "completed"
                elif isinstance(command, FailWorkflow):
                    batch.add(
                        *ev.workflow_execution_failed(
                            activity_type=command.activity_type,
                            message=command.message,
                            wft_completed_id=completed_id,
                        )
                    )
                    closing = "failed"
                elif isinstance(command, RejectInput):
                    batch.add(*workflow_execution_failed_validation(command.message, completed_id))
                    closing = "failed"
        run.wft_worker = identity
        store.cond.notify_all()
        if closing is not None:
            store.close(run, closing)
            return
        for scheduled, step in activities:
            self._execute(run, scheduled, step)
        for initiated, child, child_id in children:
            store.start_child(run, initiated, child_id, child.workflow, child.input)

    @staticmethod
    def _commands(definition: WorkflowDef, run: Run) -> list[Command]:
        if definition.evaluation is not None:
            return eval_commands(definition, run.events, run.input)
        issues = definition.validate(run.input) if definition.validate is not None else []
        invalid = failure_message(definition.name, issues) if issues else None
        stages = plan(definition, is_root=run.parent is None)
        return replay(stages, run.events, run.input, run.workflow_type, invalid)

    def _scheduled_event(
        self, run: Run, command: ScheduleActivity, completed_id: int
    ) -> tuple[str, ev.Attributes]:
        prefix = INTERNAL_PREFIX if command.internal else run.workflow_type
        return ev.activity_task_scheduled(
            activity_id=command.activity_id,
            activity_type=f"{prefix}#{command.step.name}",
            header=self._header(run),
            # getTraceDestinations takes the traceInfo (recording 1-09)
            input_value=self._trace_info(run) if command.internal else command.input,
            wft_completed_id=completed_id,
            queue=self._store.catalog_id,
            run_timeout_s=None if run.parent else 86400,
        )

    def _memo_value(self, run: Run, key: str) -> Any:
        if key == "payloadVersion":
            return "2"
        if key == "traceInfo":
            return self._trace_info(run)
        if key == "trace":
            start_ms = ev.iso_to_ms(run.events[0]["eventTime"])
            return {"local": ev.trace_path(run.workflow_type, run.workflow_id, start_ms)}
        return ev.ACTIVITY_OPTIONS

    def _trace_info(self, run: Run) -> dict[str, Any]:
        return {
            "workflowId": run.workflow_id,
            "workflowType": run.workflow_type,
            "runId": run.run_id,
            "startTime": ev.iso_to_ms(run.events[0]["eventTime"]),
        }

    def _header(self, run: Run) -> dict[str, Any]:
        """Activity headers: the memo plus workflowDetails (Appendix B, recordings 2-02, 4-04)."""
        memo = run.memo()
        started = run.started_attributes()
        details: dict[str, Any] = {
            "attempt": 1,
            "firstExecutionRunId": started["firstExecutionRunId"],
            "runId": run.run_id,
            "runStartTime": ev.iso_to_ms(run.events[2]["eventTime"]),
            "startTime": ev.iso_to_ms(run.events[0]["eventTime"]),
            "workflowId": run.workflow_id,
            "workflowType": run.workflow_type,
        }
        if "parentWorkflowExecution" in started:
            details["parent"] = {**started["parentWorkflowExecution"], "namespace": ev.NAMESPACE}
            details["root"] = started["rootWorkflowExecution"]
        header: dict[str, Any] = {}
        if "traceInfo" in memo:
            # A root recomputes it (a reset run shows its own id); a child inherits the parent's.
            header["traceInfo"] = memo["traceInfo"] if run.parent else self._trace_info(run)
        header["workflowDetails"] = dict(sorted(details.items()))
        for key in ("payloadVersion", "activityOptions", "trace"):
            if key in memo:
                header[key] = memo[key]
        return header

    # --- activities --------------------------------------------------------------------------

    def _start_activity(self, run: Run, scheduled_id: int) -> None:
        """Execute an activity already scheduled in the history (re-dispatch after a reset)."""
        attrs = ev.attributes_of(run.event(scheduled_id))
        prefix, _, name = attrs["activityType"]["name"].rpartition("#")
        if prefix == INTERNAL_PREFIX:
            step = TRACE_STEP
        else:
            definition = self._store.workflows[run.workflow_type]
            step = next((s for s in definition.steps() if s.name == name), Step(name))
        self._execute(run, scheduled_id, step)

    def _execute(self, run: Run, scheduled_id: int, step: Step) -> None:
        store = self._store
        attrs = ev.attributes_of(run.event(scheduled_id))
        value = attrs["input"][0]
        evaluation = store.workflows[run.workflow_type].evaluation
        ok = not step.fail
        outcome: Any
        if attrs["activityType"]["name"].startswith(f"{INTERNAL_PREFIX}#"):
            ok, outcome = True, {"local": self._memo_value(run, "trace")["local"]}
        elif evaluation is not None:
            ok, outcome = evaluation.judge(step.name, value)
        elif step.fail:
            outcome = f"{step.name} failed"
        else:
            # The code version is read when the attempt starts: in-flight steps finish on old code.
            outcome = step_result(step.name, store.code_version, value)
        run.invocations.append(step.name)
        self._executions.append(
            _Execution(
                run=run,
                scheduled_id=scheduled_id,
                step=step,
                start_ms=ev.now_ms(),
                due=time.monotonic() + step.duration_s,
                ok=ok,
                outcome=outcome,
                identity=store.worker.identity,
                # Output fails an evaluator's FatalError on its first attempt (e-09, e-18).
                non_retryable=evaluation is not None,
            )
        )
        store.cond.notify_all()

    def _finish_activity(self, execution: _Execution) -> None:
        run = execution.run
        with run.batch() as batch:
            attempt = 1 if execution.ok or execution.non_retryable else ev.MAXIMUM_ATTEMPTS
            started_id = batch.add(
                *ev.activity_task_started(execution.scheduled_id, execution.identity, attempt),
                time_ms=execution.start_ms,
            )
            if execution.ok:
                batch.add(
                    *ev.activity_task_completed(
                        execution.scheduled_id, started_id, execution.identity, execution.outcome
                    )
                )
            else:
                retry_state = (
                    ev.RETRY_STATE_NON_RETRYABLE_FAILURE
                    if execution.non_retryable
                    else ev.RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED
                )
                batch.add(
                    *ev.activity_task_failed(
                        execution.scheduled_id,
                        started_id,
                        execution.identity,
                        execution.outcome,
                        retry_state,
                    )
                )
            self._store.schedule_workflow_task(run, batch)
