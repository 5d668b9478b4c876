"""Workflow programs for the fake worker, and the pure replay that decides a workflow task.

A program is a list of `Step`, `Parallel`, `Loop` and `Child` items. `plan` expands it into
stages (what one workflow task schedules together), and `replay` walks those stages against a
run's history the way the Temporal SDK does: commands are matched to history events in order, so
steps completed in a reset's copied prefix are replayed, not executed again.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tests.fakeapi import events as ev

if TYPE_CHECKING:
    from tests.fakeapi.evals import EvalDef
    from tests.fakeapi.inputs import InputCheck

NAME_RE = re.compile(r"^[a-z_][a-z0-9_]*$", re.IGNORECASE)
INTERNAL_PREFIX = "__internal"


@dataclass
class Step:
    """One activity `<workflow>#<name>`."""

    name: str
    duration_s: float = 0.0
    fail: bool = False
    gate: threading.Event | None = None  # the activity finishes only once this is set


@dataclass
class Parallel:
    """Activities scheduled in the same workflow task (Promise.all)."""

    steps: list[Step]


@dataclass
class Loop:
    """The same step `times` times in sequence."""

    step: Step
    times: int


@dataclass
class Child:
    """A child workflow execution of another defined workflow."""

    workflow: str


Program = list[Step | Parallel | Loop | Child]

TRACE_STEP = Step("getTraceDestinations")


def step_result(name: str, code_version: int, value: Any) -> str:
    """The deterministic result of step `name` run by worker code `code_version` on `value`."""
    rendered = value if isinstance(value, str) else ev.compact_json(value)
    return f"{name}:v{code_version}:{rendered}"


@dataclass(frozen=True)
class WorkflowDef:
    name: str
    program: Program
    disable_trace: bool = False
    aliases: tuple[str, ...] = ()
    validate: InputCheck | None = None  # the input's schema: issues, or none when it fits
    evaluation: EvalDef | None = None  # an eval workflow (its program is empty)

    def __post_init__(self) -> None:
        for name in (self.name, *self.aliases, *(step.name for step in _steps(self.program))):
            if not NAME_RE.match(name):
                raise ValueError(f"invalid workflow or step name {name!r}")

    def steps(self) -> list[Step]:
        return _steps(self.program)

    def child_workflows(self) -> list[str]:
        return [item.workflow for item in self.program if isinstance(item, Child)]


def _steps(program: Program) -> list[Step]:
    found: list[Step] = []
    for item in program:
        if isinstance(item, Step):
            found.append(item)
        elif isinstance(item, Parallel):
            found.extend(item.steps)
        elif isinstance(item, Loop):
            found.append(item.step)
    return found


# --- plan ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActivityCall:
    step: Step
    internal: bool = False


@dataclass(frozen=True)
class ChildCall:
    workflow: str


@dataclass(frozen=True)
class Stage:
    """What one workflow task schedules together, and the memo upserts that precede it."""

    calls: tuple[ActivityCall | ChildCall, ...]
    memos: tuple[tuple[str, ...], ...] = ()
    parallel: bool = False
    feeds_next: bool = True  # whether the stage's result becomes the next stage's input
    validates: bool = False  # the workflow's input is checked here (after the trace stage)


def plan(definition: WorkflowDef, *, is_root: bool) -> list[Stage]:
    """Expand a program into stages; the first user stage carries the framework's memo upserts."""
    traced = is_root and not definition.disable_trace
    stages: list[Stage] = []
    if traced:
        # Recordings 1-06 and 5-02: the memo upserts differ with and without tracing.
        stages.append(
            Stage(
                calls=(ActivityCall(TRACE_STEP, internal=True),),
                memos=(("payloadVersion", "traceInfo"),),
                feeds_next=False,
            )
        )
        first_memos: tuple[tuple[str, ...], ...] = (("trace", "activityOptions"),)
    else:
        first_memos = (("payloadVersion",), ("activityOptions",))
    user: list[Stage] = []
    for item in definition.program:
        if isinstance(item, Step):
            user.append(Stage(calls=(ActivityCall(item),)))
        elif isinstance(item, Parallel):
            user.append(Stage(calls=tuple(ActivityCall(s) for s in item.steps), parallel=True))
        elif isinstance(item, Loop):
            user.extend(Stage(calls=(ActivityCall(item.step),)) for _ in range(item.times))
        else:
            user.append(Stage(calls=(ChildCall(item.workflow),)))
    if not user:
        user.append(Stage(calls=()))  # no step: the memos go with the completion
    user[0] = Stage(
        calls=user[0].calls, memos=first_memos, parallel=user[0].parallel, validates=True
    )
    return stages + user


# --- replay ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class UpsertMemo:
    keys: tuple[str, ...]


@dataclass(frozen=True)
class ScheduleActivity:
    activity_id: int
    step: Step
    internal: bool
    input: Any


@dataclass(frozen=True)
class StartChild:
    workflow: str
    input: Any


@dataclass(frozen=True)
class CompleteWorkflow:
    result: Any


@dataclass(frozen=True)
class FailWorkflow:
    activity_type: str
    message: str


@dataclass(frozen=True)
class RejectInput:
    """The workflow's input failed its schema: the run fails with a ValidationError."""

    message: str


Command = UpsertMemo | ScheduleActivity | StartChild | CompleteWorkflow | FailWorkflow | RejectInput


@dataclass
class _HistoryIndex:
    scheduled: list[int] = field(default_factory=list)  # ACTIVITY_TASK_SCHEDULED ids, in order
    activity_types: dict[int, str] = field(default_factory=dict)
    closed: dict[int, tuple[bool, Any]] = field(default_factory=dict)  # id -> (ok, result|msg)
    children: list[int] = field(default_factory=list)  # START_CHILD_..._INITIATED ids
    child_closed: dict[int, tuple[bool, Any]] = field(default_factory=dict)
    memo_upserts: int = 0


def index_history(history: Sequence[ev.Event]) -> _HistoryIndex:
    index = _HistoryIndex()
    for event in history:
        name = event["eventTypeName"]
        attrs = ev.attributes_of(event)
        event_id = int(event["eventId"])
        if name == "ACTIVITY_TASK_SCHEDULED":
            index.scheduled.append(event_id)
            index.activity_types[event_id] = attrs["activityType"]["name"]
        elif name == "ACTIVITY_TASK_COMPLETED":
            index.closed[int(attrs["scheduledEventId"])] = (True, attrs["result"][0])
        elif name == "ACTIVITY_TASK_FAILED":
            index.closed[int(attrs["scheduledEventId"])] = (False, attrs["failure"]["message"])
        elif name == "START_CHILD_WORKFLOW_EXECUTION_INITIATED":
            index.children.append(event_id)
        elif name == "CHILD_WORKFLOW_EXECUTION_COMPLETED":
            result = ev.decode_payload(attrs["result"]["payloads"][0])
            index.child_closed[attrs["initiatedEventId"]["low"]] = (True, result)
        elif name == "CHILD_WORKFLOW_EXECUTION_FAILED":
            index.child_closed[attrs["initiatedEventId"]["low"]] = (False, attrs["failure"])
        elif name == "WORKFLOW_PROPERTIES_MODIFIED":
            index.memo_upserts += 1
    return index


def replay(
    stages: Sequence[Stage],
    history: Sequence[ev.Event],
    workflow_input: Any,
    workflow_name: str,
    invalid: str | None = None,
) -> list[Command]:
    """The commands one workflow task emits, given everything already in the run's history;
    `invalid` is the ValidationError message when the input does not fit its schema."""
    index = index_history(history)
    activity_cursor = child_cursor = memo_cursor = 0
    value = workflow_input
    commands: list[Command] = []
    for stage in stages:
        for keys in stage.memos:
            if memo_cursor < index.memo_upserts:
                memo_cursor += 1
            else:
                commands.append(UpsertMemo(keys))
        if stage.validates and invalid is not None:
            return [*commands, RejectInput(invalid)]
        results: list[Any] = []
        waiting = False
        for call in stage.calls:
            if isinstance(call, ActivityCall):
                if activity_cursor >= len(index.scheduled):
                    activity_id = activity_cursor + 1
                    commands.append(ScheduleActivity(activity_id, call.step, call.internal, value))
                    activity_cursor += 1
                    waiting = True
                    continue
                scheduled_id = index.scheduled[activity_cursor]
                activity_cursor += 1
                closed = index.closed.get(scheduled_id)
                if closed is None:
                    waiting = True
                elif not closed[0]:
                    return [FailWorkflow(index.activity_types[scheduled_id], str(closed[1]))]
                else:
                    results.append(closed[1])
            else:
                if child_cursor >= len(index.children):
                    commands.append(StartChild(call.workflow, value))
                    child_cursor += 1
                    waiting = True
                    continue
                initiated_id = index.children[child_cursor]
                child_cursor += 1
                child = index.child_closed.get(initiated_id)
                if child is None:
                    waiting = True
                elif not child[0]:
                    return [FailWorkflow(f"{workflow_name}#{call.workflow}", str(child[1]))]
                else:
                    results.append(child[1])
        if waiting:
            return commands
        if stage.feeds_next and stage.calls:
            value = results if stage.parallel else results[0]
    return [*commands, CompleteWorkflow({"result": value})]
