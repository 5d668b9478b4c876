"""Temporal history events become the dicts Output's API serves (output-api.md §4); no server."""

from __future__ import annotations

import json

from google.protobuf.timestamp_pb2 import Timestamp
from temporalio.api.common.v1 import ActivityType, Payload, Payloads, WorkflowType
from temporalio.api.enums.v1 import EventType, WorkflowTaskFailedCause
from temporalio.api.failure.v1 import ApplicationFailureInfo, Failure, ResetWorkflowFailureInfo
from temporalio.api.history.v1 import (
    ActivityTaskCompletedEventAttributes,
    ActivityTaskScheduledEventAttributes,
    HistoryEvent,
    WorkflowExecutionCompletedEventAttributes,
    WorkflowExecutionFailedEventAttributes,
    WorkflowExecutionStartedEventAttributes,
    WorkflowExecutionTerminatedEventAttributes,
    WorkflowTaskFailedEventAttributes,
)

from runner.history import RunHistory
from runner.temporal import decode_payloads, encode_payload, event_to_dict
from runner.temporal.events import close_outcome

WHEN = Timestamp(seconds=1795597913, nanos=757123456)


def json_payloads(*values: object) -> Payloads:
    return Payloads(payloads=[encode_payload(v) for v in values])


def scheduled() -> HistoryEvent:
    return HistoryEvent(
        event_id=13,
        event_time=WHEN,
        event_type=EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
        activity_task_scheduled_event_attributes=ActivityTaskScheduledEventAttributes(
            activity_id="2",
            activity_type=ActivityType(name="probe_three#extractTopics"),
            workflow_task_completed_event_id=12,
            input=json_payloads({"text": "alpha"}),
        ),
    )


def reset_marker() -> HistoryEvent:
    return HistoryEvent(
        event_id=24,
        event_time=WHEN,
        event_type=EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED,
        workflow_task_failed_event_attributes=WorkflowTaskFailedEventAttributes(
            scheduled_event_id=22,
            started_event_id=23,
            cause=WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_RESET_WORKFLOW,
            identity="history-service",
            base_run_id="base-run",
            new_run_id="new-run",
            failure=Failure(
                message="prompt changed [or-1]",
                reset_workflow_failure_info=ResetWorkflowFailureInfo(),
            ),
        ),
    )


def test_the_envelope_and_an_activity_scheduled_event() -> None:
    assert event_to_dict(scheduled(), payloads=True) == {
        "eventId": "13",
        "eventType": 10,
        "eventTypeName": "ACTIVITY_TASK_SCHEDULED",
        "eventTime": "2026-11-25T09:11:53.757Z",
        "activityTaskScheduledEventAttributes": {
            "activityId": "2",
            "activityType": {"name": "probe_three#extractTopics"},
            "stepName": "extractTopics",
            "workflowTaskCompletedEventId": "12",
            "input": [{"text": "alpha"}],
        },
    }
    without = event_to_dict(scheduled(), payloads=False)
    assert "input" not in without["activityTaskScheduledEventAttributes"]


def test_a_reset_marker_has_the_numeric_cause_and_the_reason_with_payloads() -> None:
    event = event_to_dict(reset_marker(), payloads=True)
    attrs = event["workflowTaskFailedEventAttributes"]
    assert attrs["cause"] == 20  # a top-level enum stays a number, like the API's
    assert (attrs["baseRunId"], attrs["newRunId"]) == ("base-run", "new-run")
    assert attrs["scheduledEventId"] == "22"
    assert attrs["failure"] == {
        "message": "prompt changed [or-1]",
        "resetWorkflowFailureInfo": {},
    }
    assert (
        "failure"
        not in event_to_dict(reset_marker(), payloads=False)["workflowTaskFailedEventAttributes"]
    )
    history = RunHistory(workflow_id="w", run_id="new-run")
    history.feed([event])
    marker = history.reset_marker_to("base-run")
    assert marker is not None
    assert marker.reason == "prompt changed [or-1]"


def test_results_and_inputs_are_argument_arrays_folded_by_run_history() -> None:
    events = [
        HistoryEvent(
            event_id=1,
            event_type=EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
            workflow_execution_started_event_attributes=WorkflowExecutionStartedEventAttributes(
                workflow_type=WorkflowType(name="probe_three"),
                input=json_payloads({"text": "alpha beta"}),
            ),
        ),
        scheduled(),
        HistoryEvent(
            event_id=15,
            event_type=EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
            activity_task_completed_event_attributes=ActivityTaskCompletedEventAttributes(
                scheduled_event_id=13, started_event_id=14, result=json_payloads(["alpha"])
            ),
        ),
    ]
    history = RunHistory(workflow_id="w", run_id="r")
    history.feed(event_to_dict(e, payloads=True) for e in events)
    assert history.workflow_type == "probe_three"
    assert history.input == {"text": "alpha beta"}
    (activity,) = history.activities
    assert (activity.step, activity.scheduled_by, activity.completed_id) == (
        "extractTopics",
        12,
        15,
    )
    assert activity.result == ["alpha"]


def test_payloads_that_are_not_json_are_marked_raw() -> None:
    values = decode_payloads(
        [
            encode_payload({"a": 1}),
            Payload(metadata={"encoding": b"binary/null"}),
            Payload(metadata={"encoding": b"binary/plain"}, data=b"\x00\x01"),
            Payload(metadata={"encoding": b"json/plain"}, data=b"{not json"),
        ]
    )
    assert values == [
        {"a": 1},
        None,
        {"_raw": True, "encoding": "binary/plain"},
        {"_raw": True, "encoding": "json/plain"},
    ]
    assert json.loads(encode_payload([1, "x"]).data) == [1, "x"]


def test_an_event_without_attributes_or_time() -> None:
    bare = HistoryEvent(event_id=7, event_type=EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)
    assert event_to_dict(bare, payloads=False) == {
        "eventId": "7",
        "eventType": 7,
        "eventTypeName": "WORKFLOW_TASK_COMPLETED",
        "eventTime": None,
    }


def test_a_close_event_says_how_the_run_ended() -> None:
    """close_outcome: the status in status_name's words, the decoded result, and for a failure
    its innermost cause (an activity's failure is "Activity task failed" around the reason)."""
    completed = HistoryEvent(
        event_type=EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
        workflow_execution_completed_event_attributes=WorkflowExecutionCompletedEventAttributes(
            result=json_payloads({"cases": []})
        ),
    )
    cause = Failure(
        message="prompt file missing", application_failure_info=ApplicationFailureInfo(type="Error")
    )
    failed = HistoryEvent(
        event_type=EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
        workflow_execution_failed_event_attributes=WorkflowExecutionFailedEventAttributes(
            failure=Failure(message="Activity task failed", cause=cause)
        ),
    )
    terminated = HistoryEvent(
        event_type=EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED,
        workflow_execution_terminated_event_attributes=WorkflowExecutionTerminatedEventAttributes(
            reason="reset [or-1]"
        ),
    )
    timed_out = HistoryEvent(event_type=EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT)
    assert close_outcome(completed) == ("completed", {"cases": []}, None)
    assert close_outcome(failed) == ("failed", None, "prompt file missing")
    assert close_outcome(terminated) == ("terminated", None, "terminated: reset [or-1]")
    assert close_outcome(timed_out) == ("timed_out", None, "timed out")
