"""Fold a run's serialized history events into a compact summary (pure core: no I/O).

Events arrive page by page (or batch by batch from a follow) and are folded into one `Activity`
per scheduled activity and one `ChildRun` per started child, so a 50,000-event history costs a few
megabytes instead of the raw event list. Ordering uses eventId only: `ACTIVITY_TASK_STARTED` is
written when an attempt ends and its eventTime goes backwards (docs/output-api.md §4.4).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from runner.errors import BadAnswer

INTERNAL_PREFIX = "__internal#"
TRACE_ANCHOR = "getTraceDestinations"

Outcome = Literal["scheduled", "completed", "failed", "timed_out", "canceled"]

TERMINAL_EVENTS: dict[str, str] = {
    "WORKFLOW_EXECUTION_COMPLETED": "completed",
    "WORKFLOW_EXECUTION_FAILED": "failed",
    "WORKFLOW_EXECUTION_TIMED_OUT": "timed_out",
    "WORKFLOW_EXECUTION_CANCELED": "cancelled",
    "WORKFLOW_EXECUTION_TERMINATED": "terminated",
    "WORKFLOW_EXECUTION_CONTINUED_AS_NEW": "continued_as_new",
}

# eventType numbers, for events whose eventTypeName the API did not know (docs/output-api.md §4.1).
_NAMES_BY_NUMBER = {
    1: "WORKFLOW_EXECUTION_STARTED",
    2: "WORKFLOW_EXECUTION_COMPLETED",
    3: "WORKFLOW_EXECUTION_FAILED",
    4: "WORKFLOW_EXECUTION_TIMED_OUT",
    7: "WORKFLOW_TASK_COMPLETED",
    9: "WORKFLOW_TASK_FAILED",
    10: "ACTIVITY_TASK_SCHEDULED",
    11: "ACTIVITY_TASK_STARTED",
    12: "ACTIVITY_TASK_COMPLETED",
    13: "ACTIVITY_TASK_FAILED",
    14: "ACTIVITY_TASK_TIMED_OUT",
    16: "ACTIVITY_TASK_CANCELED",
    21: "WORKFLOW_EXECUTION_CANCELED",
    27: "WORKFLOW_EXECUTION_TERMINATED",
    28: "WORKFLOW_EXECUTION_CONTINUED_AS_NEW",
    29: "START_CHILD_WORKFLOW_EXECUTION_INITIATED",
    31: "CHILD_WORKFLOW_EXECUTION_STARTED",
    32: "CHILD_WORKFLOW_EXECUTION_COMPLETED",
    33: "CHILD_WORKFLOW_EXECUTION_FAILED",
}
_ACTIVITY_CLOSE: dict[str, Outcome] = {
    "ACTIVITY_TASK_COMPLETED": "completed",
    "ACTIVITY_TASK_FAILED": "failed",
    "ACTIVITY_TASK_TIMED_OUT": "timed_out",
    "ACTIVITY_TASK_CANCELED": "canceled",
}
_CHILD_CLOSE = {
    "CHILD_WORKFLOW_EXECUTION_COMPLETED": "completed",
    "CHILD_WORKFLOW_EXECUTION_FAILED": "failed",
    "CHILD_WORKFLOW_EXECUTION_CANCELED": "cancelled",
    "CHILD_WORKFLOW_EXECUTION_TIMED_OUT": "timed_out",
    "CHILD_WORKFLOW_EXECUTION_TERMINATED": "terminated",
}
RESET_CAUSE = 20  # WORKFLOW_TASK_FAILED_CAUSE_RESET_WORKFLOW


@dataclass(slots=True)
class Activity:
    """One scheduled activity (one occurrence of a step), joined to how it ended."""

    scheduled_id: int
    activity_type: str
    activity_id: str
    scheduled_by: int  # the WORKFLOW_TASK_COMPLETED that scheduled it
    scheduled_at: str | None
    started_at: str | None = None
    closed_id: int | None = None
    closed_at: str | None = None
    outcome: Outcome = "scheduled"
    attempt: int = 1
    result: Any = None

    @property
    def step(self) -> str:
        """The bare step name: what the API's reset `stepName` matches (by `#<name>` suffix)."""
        return self.activity_type.rpartition("#")[2]

    @property
    def internal(self) -> bool:
        return self.activity_type.startswith(INTERNAL_PREFIX)

    @property
    def completed_id(self) -> int | None:
        return self.closed_id if self.outcome == "completed" else None

    @property
    def duration_s(self) -> float | None:
        return _seconds_between(self.started_at or self.scheduled_at, self.closed_at)


@dataclass(slots=True)
class ChildRun:
    """A child workflow the run started; its steps live only in its own history."""

    initiated_id: int
    workflow_id: str
    workflow_type: str
    scheduled_by: int = 0  # the WORKFLOW_TASK_COMPLETED that started it
    run_id: str | None = None
    outcome: str = "running"


@dataclass(slots=True)
class ResetMarker:
    event_id: int
    base_run_id: str
    new_run_id: str
    reason: str | None


@dataclass(slots=True)
class RunHistory:
    """Everything the planner and the follower need from one run's history."""

    workflow_id: str
    run_id: str
    workflow_type: str | None = None
    parent_id: str | None = None  # the parent workflow id, when this is a child run
    # The run whose start event this history begins with: another run's when this run was
    # made by a reset (the reset copies the kept events, start event included).
    original_run_id: str | None = None
    input: Any = None
    activities: list[Activity] = field(default_factory=list)
    children: list[ChildRun] = field(default_factory=list)
    reset_markers: list[ResetMarker] = field(default_factory=list)
    task_completed: list[int] = field(default_factory=list, repr=False)
    status: str = "running"
    result: Any = None
    last_event_id: int = 0
    started_at: str | None = None
    closed_at: str | None = None
    _by_scheduled: dict[int, Activity] = field(default_factory=dict, repr=False)
    _children_by_initiated: dict[int, ChildRun] = field(default_factory=dict, repr=False)

    @property
    def closed(self) -> bool:
        return self.status != "running"

    def feed(self, events: Iterable[Mapping[str, Any]]) -> list[Activity]:
        """Fold events in; return the activities that closed in this batch, in order.

        Events at or below `last_event_id` are skipped, so overlapping batches (a resumed
        stream, a re-read page) are harmless. An event that does not fit the API's shape
        raises BadAnswer (the adapter names the route).
        """
        closed: list[Activity] = []
        for raw in events:
            event = _Event.of(raw)
            if event.id <= self.last_event_id:
                continue
            self.last_event_id = event.id
            handler = _HANDLERS.get(event.name)
            if handler is None:
                continue
            done = handler(self, event)
            if done is not None:
                closed.append(done)
        return closed

    def _scheduled(self, event: _Event) -> None:
        activity = Activity(
            scheduled_id=event.id,
            activity_type=event.text("activityType", "name"),
            activity_id=event.text("activityId"),
            scheduled_by=event.number("workflowTaskCompletedEventId"),
            scheduled_at=event.when,
        )
        self.activities.append(activity)
        self._by_scheduled[event.id] = activity

    def _started(self, event: _Event) -> None:
        started = self._by_scheduled.get(event.number("scheduledEventId"))
        if started is not None:
            started.started_at = event.when
            started.attempt = event.number("attempt") or 1

    def _activity_closed(self, event: _Event) -> Activity | None:
        done = self._by_scheduled.get(event.number("scheduledEventId"))
        if done is None:
            return None
        done.outcome = _ACTIVITY_CLOSE[event.name]
        done.closed_id = event.id
        done.closed_at = event.when
        if "result" in event.attrs:
            done.result = _single(event.attrs["result"])
        return done

    def _child_initiated(self, event: _Event) -> None:
        child = ChildRun(
            initiated_id=event.id,
            workflow_id=event.text("workflowId"),
            workflow_type=event.text("workflowType", "name"),
            scheduled_by=event.number("workflowTaskCompletedEventId"),
        )
        self.children.append(child)
        self._children_by_initiated[event.id] = child

    def _child_started(self, event: _Event) -> None:
        found = self._children_by_initiated.get(event.number("initiatedEventId"))
        if found is not None:
            found.run_id = event.text("workflowExecution", "runId") or None

    def _child_closed(self, event: _Event) -> None:
        found = self._children_by_initiated.get(event.number("initiatedEventId"))
        if found is not None:
            found.outcome = _CHILD_CLOSE[event.name]

    def _task_completed(self, event: _Event) -> None:
        self.task_completed.append(event.id)

    def _task_failed(self, event: _Event) -> None:
        if event.attrs.get("cause") != RESET_CAUSE:
            return
        failure = event.attrs.get("failure")
        message = failure.get("message") if isinstance(failure, dict) else None
        self.reset_markers.append(
            ResetMarker(
                event_id=event.id,
                base_run_id=event.text("baseRunId"),
                new_run_id=event.text("newRunId"),
                reason=message if isinstance(message, str) else None,
            )
        )

    def _workflow_started(self, event: _Event) -> None:
        self.workflow_type = event.text("workflowType", "name") or None
        self.parent_id = event.text("parentWorkflowExecution", "workflowId") or None
        self.original_run_id = event.text("originalExecutionRunId") or self.run_id
        self.started_at = event.when
        if "input" in event.attrs:
            self.input = _single(event.attrs["input"])

    def _workflow_closed(self, event: _Event) -> None:
        self.status = TERMINAL_EVENTS[event.name]
        self.closed_at = event.when
        if "result" in event.attrs:
            self.result = _single(event.attrs["result"])

    # -- questions the planner asks -------------------------------------------------------

    def occurrences(self, step: str) -> list[Activity]:
        """Occurrences of a step, matched like the API does: by `#<step>` suffix.

        A name that contains `#` is taken as a full activity type instead.
        """
        if "#" in step:
            return [a for a in self.activities if a.activity_type == step]
        suffix = "#" + step
        return [a for a in self.activities if a.activity_type.endswith(suffix)]

    def child_containing(self, children: Mapping[str, RunHistory], step: str) -> ChildRun | None:
        """The first child (by start order) whose own history ran `step`."""
        for child in self.children:
            history = children.get(child.workflow_id)
            if history is not None and (
                history.occurrences(step) or history.child_containing(children, step)
            ):
                return child
        return None

    def last_user_step(self) -> Activity | None:
        for activity in reversed(self.activities):
            if not activity.internal:
                return activity
        return None

    def steps_in_order(self) -> list[str]:
        """User step names in order of first scheduling, each once."""
        seen: dict[str, None] = {}
        for activity in self.activities:
            if not activity.internal:
                seen.setdefault(activity.step, None)
        return list(seen)

    def first_task_completed_after(self, event_id: int) -> int | None:
        """The reset point the API derives from a completion (docs/output-api.md §5.2)."""
        i = bisect.bisect_right(self.task_completed, event_id)
        return self.task_completed[i] if i < len(self.task_completed) else None

    def replayed_until(self) -> int | None:
        """The event that ends the part of this run copied from the run it was reset from
        (its steps were replayed, not executed here): 0 when the run was not made by a
        reset, None while that cannot be told yet (the marker may be on a later page)."""
        if self.original_run_id is None:
            return None
        if self.original_run_id == self.run_id:
            return 0
        for marker in reversed(self.reset_markers):
            if marker.new_run_id == self.run_id:
                return marker.event_id
        return None

    def reset_marker_to(self, base_run_id: str) -> ResetMarker | None:
        """The marker that created this run from `base_run_id`, if this run is such a reset."""
        if self.reset_markers:
            last = self.reset_markers[-1]
            if last.base_run_id == base_run_id and last.new_run_id == self.run_id:
                return last
        return None


@dataclass(frozen=True, slots=True)
class _Event:
    """One serialized event, with checked access to the fields the fold reads."""

    id: int
    name: str
    attrs: Mapping[str, Any]
    when: str | None

    @classmethod
    def of(cls, raw: Any) -> _Event:
        if not isinstance(raw, Mapping):
            raise BadAnswer(f"a history event is {type(raw).__name__}, not an object")
        try:
            event_id = _int64(raw.get("eventId"))
        except BadAnswer as exc:
            raise BadAnswer(f"a history event has {exc}") from None
        if event_id <= 0:
            raise BadAnswer(f"a history event has no eventId ({_shown(raw.get('eventId'))})")
        name = raw.get("eventTypeName")
        if not isinstance(name, str) or not name:
            number = raw.get("eventType")
            name = _NAMES_BY_NUMBER.get(number, "") if isinstance(number, int) else ""
        when = raw.get("eventTime")
        return cls(event_id, name, _attributes(raw), when if isinstance(when, str) else None)

    def text(self, *keys: str) -> str:
        """A string field (`keys` walks into nested objects); "" when absent or not text."""
        value: Any = self.attrs
        for key in keys:
            value = value.get(key) if isinstance(value, Mapping) else None
        return value if isinstance(value, str) else ""

    def number(self, key: str) -> int:
        try:
            return _int64(self.attrs.get(key))
        except BadAnswer as exc:
            raise BadAnswer(f"event {self.id} ({self.name}) has {key} {exc}") from None


_Handler = Callable[[RunHistory, _Event], "Activity | None"]
_HANDLERS: dict[str, _Handler] = {
    "ACTIVITY_TASK_SCHEDULED": RunHistory._scheduled,
    "ACTIVITY_TASK_STARTED": RunHistory._started,
    **dict.fromkeys(_ACTIVITY_CLOSE, RunHistory._activity_closed),
    "START_CHILD_WORKFLOW_EXECUTION_INITIATED": RunHistory._child_initiated,
    "CHILD_WORKFLOW_EXECUTION_STARTED": RunHistory._child_started,
    **dict.fromkeys(_CHILD_CLOSE, RunHistory._child_closed),
    "WORKFLOW_TASK_COMPLETED": RunHistory._task_completed,
    "WORKFLOW_TASK_FAILED": RunHistory._task_failed,
    "WORKFLOW_EXECUTION_STARTED": RunHistory._workflow_started,
    **dict.fromkeys(TERMINAL_EVENTS, RunHistory._workflow_closed),
}


def _attributes(event: Mapping[str, Any]) -> Mapping[str, Any]:
    for key, value in event.items():
        if isinstance(key, str) and key.endswith("EventAttributes") and isinstance(value, dict):
            return value
    return {}


def _int64(value: Any) -> int:
    """eventIds come as strings, other int64s as protobuf Long objects (docs/output-api.md
    §4.2); anything else that is not a whole number is a BadAnswer."""
    if value is None or value == "":
        return 0
    if isinstance(value, dict):
        high, low = value.get("high", 0), value.get("low", 0)
        if isinstance(high, int) and isinstance(low, int) and not isinstance(high, bool):
            return high * 2**32 + (low & 0xFFFFFFFF)
    elif isinstance(value, int) and not isinstance(value, bool):
        return value
    elif isinstance(value, str) and value.isascii() and value.isdigit():
        if len(value) > 19:  # int() refuses thousands of digits; an int64 has at most 19
            raise BadAnswer(f"a number too big for 64 bits ({_shown(value)})")
        return int(value)
    raise BadAnswer(f"a value that is not a whole number ({_shown(value)})")


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _single(payload: Any) -> Any:
    """Decoded payloads are argument arrays; a step's result is the first (docs/output-api.md
    §4.5)."""
    if isinstance(payload, list):
        return payload[0] if len(payload) == 1 else payload
    return payload


def _seconds_between(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    try:
        a = datetime.fromisoformat(start.replace("Z", "+00:00"))
        b = datetime.fromisoformat(end.replace("Z", "+00:00"))
    except ValueError:
        return None
    return max(0.0, (b - a).total_seconds())


def unknown_steps(names: Iterable[str], history: RunHistory) -> list[str]:
    """The names that are no step of the run (nor a full activity type in it)."""
    known = set(history.steps_in_order())
    return sorted(
        n for n in names if n.rpartition("#")[2] not in known and not history.occurrences(n)
    )
