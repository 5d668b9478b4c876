"""Temporal's protobuf history events as the dicts Output's API serves (docs/output-api.md §4).

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

_FAILURE_FIELDS = frozenset({"failure", "lastFailure"})


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
