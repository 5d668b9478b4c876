"""The v2 result the Output API bridge answers for `POST /workflow/run` (docs/output-api.md §3.11,
§3.12), built from the run's raw close event, and the route's `timeout` field. Pure.

Written on Temporal's events, not with runner.temporal's reading of them, which the bridge
exists to test.
"""

from __future__ import annotations

from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.api.failure.v1 import Failure
from temporalio.api.history.v1 import HistoryEvent

from runner.temporal import decode_payloads
from tests.fakeapi.validation import MISSING, Issues

DEFAULT_TIMEOUT_MS = 300_000  # TEMPORAL_WORKFLOW_EXECUTION_MAX_WAITING (docs/output-api.md §8.4)
MIN_TIMEOUT_MS = 250
CLOSED = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED: "completed",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED: "failed",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT: "timed_out",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED: "cancelled",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED: "terminated",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW: "continued",
}


def run_timeout_ms(fields: dict[str, Any], issues: Issues) -> int:
    """`timeout`: milliseconds, at least 250, 300 000 when absent (zod's issue otherwise)."""
    value = fields.get("timeout", MISSING)
    if value is MISSING:
        return DEFAULT_TIMEOUT_MS
    if not isinstance(value, int) or isinstance(value, bool):
        issues.invalid_type("number", value, ["timeout"])
        return DEFAULT_TIMEOUT_MS
    if value < MIN_TIMEOUT_MS:
        issues.items.append(
            {
                "origin": "number",
                "code": "too_small",
                "minimum": MIN_TIMEOUT_MS,
                "inclusive": True,
                "path": ["timeout"],
                "message": f"Too small: expected number to be >={MIN_TIMEOUT_MS}",
            }
        )
    return value


def result_body(workflow_id: str, run_id: str, input: Any, close: HistoryEvent) -> dict[str, Any]:
    """§3.11's body: `trace` is null (the example worker writes no trace files)."""
    status = CLOSED[close.event_type]
    output: Any = None
    if status == "completed":
        values = decode_payloads(
            close.workflow_execution_completed_event_attributes.result.payloads
        )
        output = values[0] if values else None
    return {
        "v": "2",
        "workflowId": workflow_id,
        "runId": run_id,
        "status": status,
        "input": input,
        "output": output,
        "trace": None,
        "error": _error(status, close),
    }


def _error(status: str, close: HistoryEvent) -> dict[str, Any] | None:
    """A step's failure names its activity; a failure the workflow threw is `{message, name}`
    (e-12, e-21); a termination is TerminatedFailure with its reason (2-23)."""
    if status == "failed":
        failure: Failure = close.workflow_execution_failed_event_attributes.failure
        if failure.HasField("activity_failure_info"):
            return {
                "activityType": failure.activity_failure_info.activity_type.name,
                "name": failure.cause.application_failure_info.type or "Error",
                "message": failure.cause.message,
            }
        return {
            "message": failure.message,
            "name": failure.application_failure_info.type or "Error",
        }
    if status == "terminated":
        reason = close.workflow_execution_terminated_event_attributes.reason
        return {"name": "TerminatedFailure", "message": reason}
    if status == "cancelled":
        return {"name": "CancelledFailure", "message": "Workflow canceled"}
    if status == "timed_out":
        return {"name": "TimeoutFailure", "message": "Workflow execution timed out"}
    return None
