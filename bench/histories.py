"""Long serialized histories in the shapes of a real API page (recording 1-06), renumbered.

A chain of activities as a workflow with a loop makes it: prepare, fetch, extract, then `score`
many times, then summarize and publish. Every event is a copy of the recorded event of its type
(headers, timeouts and retry policies included), with ids, references and times rewritten.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from tests.recordings import recording

WORKFLOW_TYPE = "probe_long"
HEAD_STEPS = ("prepare", "fetch", "extract")
LOOP_STEP = "score"
TAIL_STEPS = ("summarize", "publish")
# started, first workflow task (3), memo, trace activity (3), last workflow task (3), completed
FIXED_EVENTS = 12
EVENTS_PER_ACTIVITY = (
    6  # workflow task scheduled/started/completed, activity scheduled/started/done
)

Event = dict[str, Any]


def _templates() -> dict[str, Event]:
    events = recording("1-06")["body"]["events"]
    return {
        "started": events[0],
        "wft_scheduled_first": events[1],
        "wft_started": events[2],
        "wft_completed": events[3],
        "memo": events[4],
        "act_scheduled": events[5],
        "act_started": events[6],
        "act_completed": events[7],
        "wft_scheduled": events[8],
        "done": events[30],
    }


def _attrs(event: Event) -> dict[str, Any]:
    for key, value in event.items():
        if key.endswith("EventAttributes"):
            return value  # type: ignore[no-any-return]
    raise KeyError("no attributes")


def _long(value: int) -> dict[str, Any]:
    return {"low": value, "high": 0, "unsigned": False}


def loop_count(events: int) -> int:
    """How many `score` iterations give about `events` events."""
    steps = round((events - FIXED_EVENTS) / EVENTS_PER_ACTIVITY)
    return max(1, steps - len(HEAD_STEPS) - len(TAIL_STEPS))


def build(events: int, *, start_ms: int = 1_795_599_115_925) -> list[Event]:
    """About `events` serialized events (FIXED_EVENTS + 6 per activity), ids from 1."""
    templates = {k: json.dumps(v) for k, v in _templates().items()}
    out: list[Event] = []
    clock = [start_ms]

    def add(kind: str) -> tuple[Event, dict[str, Any]]:
        event: Event = json.loads(templates[kind])
        event["eventId"] = str(len(out) + 1)
        clock[0] += 7
        seconds, ms = divmod(clock[0], 1000)
        event["eventTime"] = _iso(seconds, ms)
        out.append(event)
        return event, _attrs(event)

    def task(first: bool = False) -> int:
        scheduled, _ = add("wft_scheduled_first" if first else "wft_scheduled")
        started, attrs = add("wft_started")
        attrs["scheduledEventId"] = scheduled["eventId"]
        _, attrs = add("wft_completed")
        attrs["scheduledEventId"] = scheduled["eventId"]
        attrs["startedEventId"] = started["eventId"]
        return len(out)

    activity_no = [0]

    def activity(activity_type: str, step: str, by: int) -> None:
        activity_no[0] += 1
        scheduled, attrs = add("act_scheduled")
        attrs["activityId"] = str(activity_no[0])
        attrs["activityType"] = {"name": activity_type}
        attrs["stepName"] = step
        attrs["workflowTaskCompletedEventId"] = _long(by)
        started, attrs = add("act_started")
        attrs["scheduledEventId"] = scheduled["eventId"]
        _, attrs = add("act_completed")
        attrs["scheduledEventId"] = scheduled["eventId"]
        attrs["startedEventId"] = started["eventId"]

    _, attrs = add("started")
    attrs["workflowType"] = {"name": WORKFLOW_TYPE}
    by = task(first=True)
    _, attrs = add("memo")
    attrs["workflowTaskCompletedEventId"] = _long(by)
    activity("__internal#getTraceDestinations", "getTraceDestinations", by)
    steps = [*HEAD_STEPS, *[LOOP_STEP] * loop_count(events), *TAIL_STEPS]
    for step in steps:
        # Workflow task scheduled/started/completed, then the activity it schedules.
        by = task()
        activity(f"{WORKFLOW_TYPE}#{step}", step, by)
    by = task()
    _, attrs = add("done")
    attrs["workflowTaskCompletedEventId"] = _long(by)
    return out


def batch_ends(events: list[Event]) -> list[int]:
    """History transactions as the fake keeps them (a page holds whole batches)."""
    ends: list[int] = []
    for index, event in enumerate(events, 1):
        name = event["eventTypeName"]
        following = events[index]["eventTypeName"] if index < len(events) else None
        task = name == "WORKFLOW_TASK_STARTED" or following in (None, "WORKFLOW_TASK_STARTED")
        scheduled = name == "ACTIVITY_TASK_SCHEDULED" and following == "ACTIVITY_TASK_STARTED"
        if task or scheduled:
            ends.append(index)
    return ends


def _iso(seconds: int, ms: int) -> str:
    when = datetime.fromtimestamp(seconds, tz=UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S") + f".{ms:03d}Z"
