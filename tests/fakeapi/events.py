"""Serialized Temporal history events, built from templates copied from the recorded responses.

Every builder returns ``(eventTypeName, attributes)`` with the attribute keys in the order the real
API emits them (recordings 1-06, 1-09, 2-02, 2-24, 3-06, 4-02..4-05, 5-02). Events are stored with
their payloads in the decoded ``includePayloads=true`` form; `serialize` strips them for ``false``.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

Event = dict[str, Any]
Attributes = dict[str, Any]

API_IDENTITY = "24127@vm"
NAMESPACE = "default"
NAMESPACE_ID = "01a2120a-fab1-7c97-b429-64188a2c3f77"
BUILD_ID = (
    "@temporalio/worker@1.20.3+3af933e1dbc89719f27fe307e78d524618d3b7f5c4cca4a42ac651010cc3b9d3"
)
JSON_PLAIN = "anNvbi9wbGFpbg=="  # base64("json/plain")
TRACE_ROOT = "/app/logs/runs"

EVENT_TYPES: dict[str, int] = {
    "WORKFLOW_EXECUTION_STARTED": 1,
    "WORKFLOW_EXECUTION_COMPLETED": 2,
    "WORKFLOW_EXECUTION_FAILED": 3,
    "WORKFLOW_TASK_SCHEDULED": 5,
    "WORKFLOW_TASK_STARTED": 6,
    "WORKFLOW_TASK_COMPLETED": 7,
    "WORKFLOW_TASK_FAILED": 9,
    "ACTIVITY_TASK_SCHEDULED": 10,
    "ACTIVITY_TASK_STARTED": 11,
    "ACTIVITY_TASK_COMPLETED": 12,
    "ACTIVITY_TASK_FAILED": 13,
    "WORKFLOW_EXECUTION_CANCEL_REQUESTED": 20,
    "WORKFLOW_EXECUTION_CANCELED": 21,
    "WORKFLOW_EXECUTION_TERMINATED": 27,
    "START_CHILD_WORKFLOW_EXECUTION_INITIATED": 29,
    "CHILD_WORKFLOW_EXECUTION_STARTED": 31,
    "CHILD_WORKFLOW_EXECUTION_COMPLETED": 32,
    "CHILD_WORKFLOW_EXECUTION_FAILED": 33,
    "WORKFLOW_PROPERTIES_MODIFIED": 46,
}

TERMINAL_STATUS: dict[str, str] = {
    "WORKFLOW_EXECUTION_COMPLETED": "completed",
    "WORKFLOW_EXECUTION_FAILED": "failed",
    "WORKFLOW_EXECUTION_CANCELED": "cancelled",
    "WORKFLOW_EXECUTION_TERMINATED": "terminated",
}

# Deleted from the attributes' top level when includePayloads=false (docs/output-api.md §4.5).
PAYLOAD_KEYS = ("input", "result", "failure", "details", "lastCompletionResult", "lastFailure")

ACTIVITY_OPTIONS: dict[str, Any] = {
    "startToCloseTimeout": "20m",
    "heartbeatTimeout": "5m",
    "retry": {
        "initialInterval": "10s",
        "backoffCoefficient": 2,
        "maximumInterval": "2m",
        "maximumAttempts": 3,
        "nonRetryableErrorTypes": ["FatalError"],
    },
}
MAXIMUM_ATTEMPTS = 3
RETRY_STATE_NON_RETRYABLE_FAILURE = 2
RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED = 4
RETRY_STATE_RETRY_POLICY_NOT_SET = 5
RESET_CAUSE = 20


# --- encodings -------------------------------------------------------------------------------


def compact_json(value: Any) -> str:
    """JSON the way Node's JSON.stringify writes it (no spaces, non-ASCII kept)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def long(value: int) -> dict[str, Any]:
    """An int64 as protobufjs renders it through JSON.stringify: a raw Long object."""
    low = value & 0xFFFFFFFF
    high = (value >> 32) & 0xFFFFFFFF
    return {
        "low": low - (1 << 32) if low >= 1 << 31 else low,
        "high": high - (1 << 32) if high >= 1 << 31 else high,
        "unsigned": False,
    }


def duration(seconds: int) -> dict[str, str]:
    return {"seconds": str(seconds)}


def payload(value: Any) -> dict[str, Any]:
    """A json/plain payload blob (header fields, memo fields, undecoded child payloads)."""
    data = base64.b64encode(compact_json(value).encode()).decode()
    return {"metadata": {"encoding": JSON_PLAIN}, "data": data}


def decode_payload(blob: dict[str, Any]) -> Any:
    return json.loads(base64.b64decode(blob["data"]))


def fields(values: dict[str, Any]) -> dict[str, Any]:
    return {"fields": {key: payload(value) for key, value in values.items()}}


def iso(ms: int) -> str:
    moment = datetime.fromtimestamp(ms // 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def iso_to_ms(text: str) -> int:
    moment = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    return int(moment.timestamp()) * 1000 + moment.microsecond // 1000


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def trace_path(workflow_type: str, workflow_id: str, start_ms: int) -> str:
    stamp = iso(start_ms).replace(":", "-").replace("T", "-").replace(".", "-")
    return f"{TRACE_ROOT}/{workflow_type}/{stamp}_{workflow_id}.json"


def uuid7(ms: int) -> str:
    """A UUIDv7 run id, as Temporal Server 1.32 gives runs created by a start
    (docs/output-api.md §1.3)."""
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & (1 << 48) - 1) << 80 | 0x7 << 76 | (rand >> 68) << 64 | 0b10 << 62
    value |= rand & (1 << 62) - 1
    return str(uuid.UUID(int=value))


def uuid4() -> str:
    return str(uuid.uuid4())


def child_workflow_id(parent_id: str) -> str:
    """`<parentId>-<base64url(uuid4)>` without padding: 22 characters (docs/output-api.md §5.9)."""
    suffix = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    return f"{parent_id}-{suffix}"


def make_event(event_id: int, type_name: str, time_ms: int, attributes: Attributes) -> Event:
    attr_key = type_name.lower().title().replace("_", "")
    attr_key = attr_key[0].lower() + attr_key[1:] + "EventAttributes"
    return {
        "eventId": str(event_id),
        "eventType": EVENT_TYPES[type_name],
        "eventTypeName": type_name,
        "eventTime": iso(time_ms),
        attr_key: attributes,
    }


def attributes_of(event: Event) -> Attributes:
    for key, value in event.items():
        if key.endswith("EventAttributes"):
            return value  # type: ignore[no-any-return]
    return {}


def serialize(event: Event, *, include_payloads: bool) -> Event:
    """A copy of a stored event as the API returns it for the given includePayloads value."""
    out = copy.deepcopy(event)
    if not include_payloads:
        attrs = attributes_of(out)
        for key in PAYLOAD_KEYS:
            attrs.pop(key, None)
    return out


# --- workflow-level events -------------------------------------------------------------------


def workflow_execution_started_root(
    *,
    workflow_type: str,
    workflow_id: str,
    run_id: str,
    input_value: Any,
    start_ms: int,
    queue: str,
    identity: str = API_IDENTITY,
) -> tuple[str, Attributes]:
    expiration_ms = start_ms + 86_400_000
    return "WORKFLOW_EXECUTION_STARTED", {
        "completionCallbacks": [],
        "workflowType": {"name": workflow_type},
        "taskQueue": task_queue(queue),
        "input": [input_value],
        "workflowExecutionTimeout": duration(86400),
        "workflowRunTimeout": duration(86400),
        "workflowTaskTimeout": duration(10),
        "originalExecutionRunId": run_id,
        "identity": identity,
        "firstExecutionRunId": run_id,
        "attempt": 1,
        "workflowExecutionExpirationTime": {
            "seconds": str(expiration_ms // 1000),
            "nanos": expiration_ms % 1000 * 1_000_000,
        },
        "firstWorkflowTaskBackoff": {},
        "header": {},
        "workflowId": workflow_id,
    }


def workflow_execution_started_child(
    *,
    workflow_type: str,
    workflow_id: str,
    run_id: str,
    input_value: Any,
    parent: tuple[str, str],
    parent_initiated_id: int,
    root: tuple[str, str],
    memo: dict[str, Any],
    queue: str,
) -> tuple[str, Attributes]:
    return "WORKFLOW_EXECUTION_STARTED", {
        "completionCallbacks": [],
        "workflowType": {"name": workflow_type},
        "parentWorkflowNamespace": NAMESPACE,
        "parentWorkflowExecution": {"workflowId": parent[0], "runId": parent[1]},
        "parentInitiatedEventId": long(parent_initiated_id),
        "taskQueue": task_queue(queue),
        # A child receives the input plus the options object (recording 4-05: [6, {}]).
        "input": [input_value, {}],
        "workflowRunTimeout": {},
        "workflowTaskTimeout": duration(10),
        "originalExecutionRunId": run_id,
        "firstExecutionRunId": run_id,
        "attempt": 1,
        "firstWorkflowTaskBackoff": {},
        "memo": fields(memo),
        "header": {},
        "parentWorkflowNamespaceId": NAMESPACE_ID,
        "workflowId": workflow_id,
        "rootWorkflowExecution": {"workflowId": root[0], "runId": root[1]},
    }


def workflow_execution_completed(result: Any, wft_completed_id: int) -> tuple[str, Attributes]:
    return "WORKFLOW_EXECUTION_COMPLETED", {
        "result": [result],
        "workflowTaskCompletedEventId": long(wft_completed_id),
    }


def workflow_execution_failed(
    *, activity_type: str, message: str, wft_completed_id: int
) -> tuple[str, Attributes]:
    # Not recorded: the nested failure follows Temporal's Failure message (activity failure cause).
    return "WORKFLOW_EXECUTION_FAILED", {
        "failure": {
            "message": "Activity task failed",
            "source": "TypeScriptSDK",
            "stackTrace": "",
            "cause": {
                "message": message,
                "source": "TypeScriptSDK",
                "stackTrace": f"Error: {message}",
                "applicationFailureInfo": {"type": "Error"},
            },
            "activityFailureInfo": {
                "activityType": {"name": activity_type},
                "retryState": "RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED",
            },
        },
        "retryState": RETRY_STATE_RETRY_POLICY_NOT_SET,
        "workflowTaskCompletedEventId": long(wft_completed_id),
    }


def workflow_execution_terminated(reason: str, identity: str) -> tuple[str, Attributes]:
    return "WORKFLOW_EXECUTION_TERMINATED", {"reason": reason, "identity": identity}


def workflow_execution_cancel_requested() -> tuple[str, Attributes]:
    return "WORKFLOW_EXECUTION_CANCEL_REQUESTED", {"identity": API_IDENTITY}


def workflow_execution_canceled(wft_completed_id: int) -> tuple[str, Attributes]:
    return "WORKFLOW_EXECUTION_CANCELED", {"workflowTaskCompletedEventId": long(wft_completed_id)}


def workflow_properties_modified(
    wft_completed_id: int, memo: dict[str, Any]
) -> tuple[str, Attributes]:
    return "WORKFLOW_PROPERTIES_MODIFIED", {
        "workflowTaskCompletedEventId": long(wft_completed_id),
        "upsertedMemo": fields(memo),
    }


# --- workflow tasks --------------------------------------------------------------------------


def task_queue(queue: str, sticky_queue: str | None = None) -> dict[str, str]:
    if sticky_queue is None:
        return {"name": queue, "kind": "TASK_QUEUE_KIND_NORMAL"}
    return {"name": sticky_queue, "kind": "TASK_QUEUE_KIND_STICKY", "normalName": queue}


def workflow_task_scheduled(queue: str, sticky_queue: str | None) -> tuple[str, Attributes]:
    return "WORKFLOW_TASK_SCHEDULED", {
        "taskQueue": task_queue(queue, sticky_queue),
        "startToCloseTimeout": duration(10),
        "attempt": 1,
    }


def workflow_task_started(
    scheduled_id: int, identity: str, history_size: int
) -> tuple[str, Attributes]:
    return "WORKFLOW_TASK_STARTED", {
        "suggestContinueAsNewReasons": [],
        "scheduledEventId": str(scheduled_id),
        "identity": identity,
        "requestId": uuid4(),
        "historySizeBytes": long(history_size),
        "workerVersion": {"buildId": BUILD_ID},
    }


def workflow_task_completed(
    scheduled_id: int, started_id: int, identity: str, *, first_in_history: bool
) -> tuple[str, Attributes]:
    sdk_metadata: dict[str, Any] = {}
    if first_in_history:
        sdk_metadata = {
            "coreUsedFlags": [3, 2, 1],
            "sdkName": "temporal-typescript",
            "sdkVersion": "1.20.3",
        }
    return "WORKFLOW_TASK_COMPLETED", {
        "scheduledEventId": str(scheduled_id),
        "startedEventId": str(started_id),
        "identity": identity,
        "workerVersion": {"buildId": BUILD_ID},
        "sdkMetadata": sdk_metadata,
        "meteringMetadata": {},
    }


def workflow_task_failed_reset(
    *, scheduled_id: int, started_id: int, reason: str, base_run_id: str, new_run_id: str
) -> tuple[str, Attributes]:
    return "WORKFLOW_TASK_FAILED", {
        "scheduledEventId": str(scheduled_id),
        "startedEventId": str(started_id),
        "cause": RESET_CAUSE,
        "failure": {"message": reason, "resetWorkflowFailureInfo": {}},
        "identity": "history-service",
        "baseRunId": base_run_id,
        "newRunId": new_run_id,
    }


# --- activities ------------------------------------------------------------------------------


def activity_task_scheduled(
    *,
    activity_id: int,
    activity_type: str,
    header: dict[str, Any],
    input_value: Any,
    wft_completed_id: int,
    queue: str,
    run_timeout_s: int | None,
) -> tuple[str, Attributes]:
    # Temporal caps the schedule timeouts at the run timeout; a child has none, so they stay
    # empty (recording 4-04).
    schedule_timeout = {} if run_timeout_s is None else duration(run_timeout_s)
    return "ACTIVITY_TASK_SCHEDULED", {
        "activityId": str(activity_id),
        "activityType": {"name": activity_type},
        "taskQueue": task_queue(queue),
        "header": fields(header),
        "input": [input_value],
        "scheduleToCloseTimeout": schedule_timeout,
        "scheduleToStartTimeout": schedule_timeout,
        "startToCloseTimeout": duration(1200),
        "heartbeatTimeout": duration(300),
        "workflowTaskCompletedEventId": long(wft_completed_id),
        "retryPolicy": {
            "initialInterval": duration(10),
            "backoffCoefficient": 2,
            "maximumInterval": duration(120),
            "maximumAttempts": MAXIMUM_ATTEMPTS,
            "nonRetryableErrorTypes": ["FatalError"],
        },
        "useWorkflowBuildId": True,
        "stepName": activity_type.rsplit("#", 1)[-1],
    }


def activity_task_started(scheduled_id: int, identity: str, attempt: int) -> tuple[str, Attributes]:
    return "ACTIVITY_TASK_STARTED", {
        "scheduledEventId": str(scheduled_id),
        "identity": identity,
        "requestId": uuid4(),
        "attempt": attempt,
        "workerVersion": {"buildId": BUILD_ID},
    }


def activity_task_completed(
    scheduled_id: int, started_id: int, identity: str, result: Any
) -> tuple[str, Attributes]:
    return "ACTIVITY_TASK_COMPLETED", {
        "result": [result],
        "scheduledEventId": str(scheduled_id),
        "startedEventId": str(started_id),
        "identity": identity,
    }


def activity_task_failed(
    scheduled_id: int,
    started_id: int,
    identity: str,
    message: str,
    retry_state: int = RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED,
) -> tuple[str, Attributes]:
    # The API flattens this failure to {message, stackTrace, type}; `type` is always null (§4.2).
    return "ACTIVITY_TASK_FAILED", {
        "failure": {"message": message, "stackTrace": f"Error: {message}", "type": None},
        "scheduledEventId": str(scheduled_id),
        "startedEventId": str(started_id),
        "identity": identity,
        "retryState": retry_state,
    }


# --- child workflows (payloads stay raw, recording 4-03) -------------------------------------


def start_child_initiated(
    *,
    workflow_id: str,
    workflow_type: str,
    input_value: Any,
    wft_completed_id: int,
    memo: dict[str, Any],
    queue: str,
) -> tuple[str, Attributes]:
    return "START_CHILD_WORKFLOW_EXECUTION_INITIATED", {
        "namespace": NAMESPACE,
        "workflowId": workflow_id,
        "workflowType": {"name": workflow_type},
        "taskQueue": task_queue(queue),
        "input": {"payloads": [payload(input_value), payload({})]},
        "workflowRunTimeout": {},
        "workflowTaskTimeout": duration(10),
        "parentClosePolicy": 1,
        "workflowTaskCompletedEventId": long(wft_completed_id),
        "workflowIdReusePolicy": 1,
        "header": {},
        "memo": fields(memo),
        "namespaceId": NAMESPACE_ID,
        "inheritBuildId": True,
    }


@dataclass(frozen=True)
class ChildRef:
    workflow_id: str
    run_id: str
    workflow_type: str

    def execution(self) -> Attributes:
        return {
            "namespace": NAMESPACE,
            "workflowExecution": {"workflowId": self.workflow_id, "runId": self.run_id},
            "workflowType": {"name": self.workflow_type},
        }


def child_started(child: ChildRef, initiated_id: int) -> tuple[str, Attributes]:
    return "CHILD_WORKFLOW_EXECUTION_STARTED", {
        "namespace": NAMESPACE,
        "initiatedEventId": long(initiated_id),
        "workflowExecution": {"workflowId": child.workflow_id, "runId": child.run_id},
        "workflowType": {"name": child.workflow_type},
        "header": {},
        "namespaceId": NAMESPACE_ID,
    }


def child_completed(
    child: ChildRef, initiated_id: int, started_id: int, result: Any
) -> tuple[str, Attributes]:
    return "CHILD_WORKFLOW_EXECUTION_COMPLETED", {
        "result": {"payloads": [payload(result)]},
        **child.execution(),
        "initiatedEventId": long(initiated_id),
        "startedEventId": str(started_id),
        "namespaceId": NAMESPACE_ID,
    }


def child_failed(
    child: ChildRef, initiated_id: int, started_id: int, message: str
) -> tuple[str, Attributes]:
    return "CHILD_WORKFLOW_EXECUTION_FAILED", {
        "failure": {"message": message, "source": "TypeScriptSDK"},
        **child.execution(),
        "initiatedEventId": long(initiated_id),
        "startedEventId": str(started_id),
        "retryState": RETRY_STATE_RETRY_POLICY_NOT_SET,
        "namespaceId": NAMESPACE_ID,
    }
