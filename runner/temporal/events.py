"""Temporal's protobuf history events as the dicts Output's API serves (docs/output-api.md §4),
and its other answers (a run's description, its close event) as output-reset's values.

Pure conversion, no I/O: `RunHistory.feed` then reads both engines alike.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.api.enums.v1 import EventType, WorkflowExecutionStatus
from temporalio.api.failure.v1 import Failure
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.workflow.v1 import WorkflowExecutionInfo

from runner.engine import RunStatus

_FAILURE_FIELDS = frozenset({"failure", "lastFailure"})
# A run's close event, and the status it gives the run (in status_name's words).
CLOSE_EVENTS: dict[int, str] = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED: "completed",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED: "failed",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT: "timed_out",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED: "cancelled",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED: "terminated",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW: "continued_as_new",
}


def events_to_dicts(events: Iterable[HistoryEvent], *, payloads: bool) -> list[dict[str, Any]]:
    return [event_to_dict(event, payloads=payloads) for event in events]


def event_to_dict(event: HistoryEvent, *, payloads: bool) -> dict[str, Any]:
    """One event in the API's shape: `eventId` a string, `eventType` a number, `eventTypeName`
    without its prefix, ISO `eventTime` in milliseconds, one `<camelCase>EventAttributes` key
    whose top-level enums are numbers, and payloads decoded to argument arrays (or dropped,
    with failures, when `payloads` is False)."""
    serialized: dict[str, Any] = {
        "eventId": str(event.event_id),
        "eventType": int(event.event_type),
        "eventTypeName": _event_type_name(event.event_type),
        "eventTime": _iso(event) if event.HasField("event_time") else None,
    }
    which = event.WhichOneof("attributes")
    if which is None:
        return serialized
    key = HistoryEvent.DESCRIPTOR.fields_by_name[which].json_name
    serialized[key] = _attributes(getattr(event, which), payloads=payloads)
    return serialized


def _attributes(message: Message, *, payloads: bool) -> dict[str, Any]:
    attrs: dict[str, Any] = MessageToDict(message)
    for field in message.DESCRIPTOR.fields:
        name = field.json_name
        if name not in attrs:
            continue
        if field.type == FieldDescriptor.TYPE_ENUM and not field.is_repeated:
            attrs[name] = int(getattr(message, field.name))
        elif field.message_type is Payloads.DESCRIPTOR:
            if payloads:
                attrs[name] = decode_payloads(getattr(message, field.name).payloads)
            else:
                del attrs[name]
        elif field.message_type is Failure.DESCRIPTOR and not payloads and name in _FAILURE_FIELDS:
            del attrs[name]
    activity_type = attrs.get("activityType")
    if isinstance(activity_type, dict) and "name" in activity_type:
        attrs["stepName"] = str(activity_type["name"]).rpartition("#")[2]
    return attrs


def decode_payloads(items: Iterable[Payload]) -> list[Any]:
    """JSON payloads as values; anything else as the API's `{"_raw": true, "encoding": ...}`."""
    values: list[Any] = []
    for payload in items:
        encoding = payload.metadata.get("encoding", b"").decode(errors="replace")
        if encoding == "json/plain":
            try:
                values.append(json.loads(payload.data))
                continue
            except ValueError:
                pass
        elif encoding == "binary/null":
            values.append(None)
            continue
        values.append({"_raw": True, "encoding": encoding})
    return values


def encode_payload(value: Any) -> Payload:
    return Payload(
        metadata={"encoding": b"json/plain"},
        data=json.dumps(value, separators=(",", ":")).encode(),
    )


def close_outcome(event: HistoryEvent) -> tuple[str, Any, str | None]:
    """How a run ended, from its close event: its status, its decoded result, and why it did
    not complete (a failure's innermost cause: "Activity task failed" alone says nothing)."""
    status = CLOSE_EVENTS[event.event_type]
    if status == "completed":
        attrs = event.workflow_execution_completed_event_attributes
        values = decode_payloads(attrs.result.payloads)
        return status, values[0] if values else None, None
    if status == "failed":
        failure = event.workflow_execution_failed_event_attributes.failure
        while failure.HasField("cause"):
            failure = failure.cause
        return status, None, failure.message or "the run failed"
    if status == "terminated":
        reason = event.workflow_execution_terminated_event_attributes.reason
        return status, None, f"terminated: {reason}" if reason else "terminated"
    return status, None, status.replace("_", " ")


def run_status(info: WorkflowExecutionInfo, workflow_id: str = "", run_id: str = "") -> RunStatus:
    """A described or listed run; the ids asked for stand in where the answer has none."""
    return RunStatus(
        workflow_id=info.execution.workflow_id or workflow_id,
        run_id=info.execution.run_id or run_id,
        status=status_name(info.status),
        started_at=_epoch(info.start_time) if info.HasField("start_time") else None,
        workflow_type=info.type.name or None,
    )


def _epoch(stamp: Any) -> float:
    return float(stamp.seconds) + float(stamp.nanos) / 1e9


def status_name(value: int) -> str:
    try:
        name = WorkflowExecutionStatus.Name(value)  # type: ignore[arg-type]
    except ValueError:
        return "unspecified"
    status = name.removeprefix("WORKFLOW_EXECUTION_STATUS_").lower()
    return "cancelled" if status == "canceled" else status


def _event_type_name(value: int) -> str:
    try:
        return EventType.Name(value).removeprefix("EVENT_TYPE_")  # type: ignore[arg-type]
    except ValueError:
        return f"UNKNOWN_{value}"


def _iso(event: HistoryEvent) -> str:
    when = event.event_time.ToDatetime(tzinfo=UTC)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")
