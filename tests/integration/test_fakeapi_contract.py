"""The fake Output API answers like the real one: its responses are compared with the recordings
in tests/fixtures/recorded (same keys and value types per event, same event layouts, same error
bodies, status codes and content types).
"""

from __future__ import annotations

import copy
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakeapi import Child, FakeOutputApi, Loop, Parallel, Step, step_result

RECORDED = Path(__file__).resolve().parents[1] / "fixtures" / "recorded"
JSON_TYPE = "application/json; charset=utf-8"
TEXT_TYPE = "text/plain; charset=utf-8"
TOKEN_RE = re.compile(r"^[A-Za-z0-9+/]+={0,2}$")
UUID4_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
UUID7_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
UUID_ZERO = "00000000-0000-4000-8000-000000000000"
THREE_INPUT = {"text": "alpha beta gamma delta", "delayMs": 1000}


# --- recordings and structural comparison ---------------------------------------------------


def recorded(prefix: str) -> dict[str, Any]:
    (path,) = RECORDED.glob(f"{prefix}*.json")
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def recorded_events(prefix: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = recorded(prefix)["body"]["events"]
    return events


def shape(value: Any) -> Any:
    """Keys and value types, recursively: what must match between fake and recording."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(item) for item in value]
    return type(value).__name__


def attributes(event: dict[str, Any]) -> dict[str, Any]:
    (key,) = [key for key in event if key.endswith("EventAttributes")]
    attrs: dict[str, Any] = event[key]
    return attrs


def event_shape(event: dict[str, Any]) -> Any:
    """The shape of an event, with decoded argument arrays reduced to "an array"."""
    masked = copy.deepcopy(event)
    attrs = attributes(masked)
    for key in ("input", "result"):
        if isinstance(attrs.get(key), list):
            attrs[key] = "argument array"
    return shape(masked)


def iso_ms(text: str) -> int:
    moment = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    return round(moment.timestamp() * 1000)


def layout(events: list[dict[str, Any]]) -> list[str]:
    return [event["eventTypeName"] for event in events]


def assert_events_match(actual: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    assert layout(actual) == layout(expected)
    assert [event["eventId"] for event in actual] == [event["eventId"] for event in expected]
    for mine, theirs in zip(actual, expected, strict=True):
        assert event_shape(mine) == event_shape(theirs), mine["eventId"]
        assert list(mine) == list(theirs)  # same key order, as JSON.stringify wrote it
        assert list(attributes(mine)) == list(attributes(theirs)), mine["eventId"]


def assert_same_response(response: httpx.Response, prefix: str, **replace: str) -> None:
    """Status, content type and the exact body of a recording, after substituting ids."""
    rec = recorded(prefix)
    text = json.dumps(rec["body"])
    for old, new in replace.items():
        text = text.replace(old, new)
    assert response.status_code == rec["status"]
    assert response.headers.get("content-type") == rec["headers"].get("content-type")
    assert response.json() == json.loads(text)


def body_shape(response: httpx.Response, prefix: str) -> None:
    """Status, content type and body shape; a result's `output` is whatever the workflow returns."""
    rec = recorded(prefix)
    assert response.status_code == rec["status"]
    assert response.headers["content-type"] == rec["headers"]["content-type"]
    mine, theirs = response.json(), rec["body"]
    if "output" in theirs:
        mine, theirs = {**mine, "output": None}, {**theirs, "output": None}
    assert shape(mine) == shape(theirs)


# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    leaked = [thread for thread in threading.enumerate() if thread not in before]
    for thread in leaked:
        thread.join(timeout=5)
    assert [thread.name for thread in leaked if thread.is_alive()] == []


class Gates:
    def __init__(self) -> None:
        self.polish = threading.Event()
        self.slow = threading.Event()
        self.polish.set()
        self.slow.set()


@pytest.fixture
def gates() -> Gates:
    return Gates()


@pytest.fixture
def fake(gates: Gates) -> Iterator[FakeOutputApi]:
    api = FakeOutputApi(long_poll_cap_ms=400, keepalive_s=0.2)
    api.define_workflow(
        "probe_three",
        [Step("extractTopics"), Step("draftOutline"), Step("polishDraft", gate=gates.polish)],
    )
    api.define_workflow(
        "probe_parallel",
        [
            Parallel([Step("fetchSlow", gate=gates.slow), Step("fetchFast")]),
            Loop(Step("loopStep"), 3),
            Step("combine"),
        ],
    )
    api.define_workflow("probe_parent", [Step("parentStep"), Child("probe_child"), Step("judgeIt")])
    api.define_workflow("probe_child", [Step("childStep")])
    api.define_workflow("simple_disable_trace", [Step("sumValues")], disable_trace=True)
    with api:
        yield api


@pytest.fixture
def client(fake: FakeOutputApi) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fake.url, timeout=5.0) as http:
        yield http


def start_three(fake: FakeOutputApi, workflow_id: str = "rec-three-1") -> str:
    run_id = fake.start_run("probe_three", workflow_id, THREE_INPUT)
    return run_id


def history(client: httpx.Client, workflow_id: str, run_id: str, **query: str) -> dict[str, Any]:
    response = client.get(f"/workflow/{workflow_id}/runs/{run_id}/history", params=query)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == JSON_TYPE
    body: dict[str, Any] = response.json()
    return body


def is_scheduled(step: str) -> Callable[[dict[str, Any]], bool]:
    def predicate(event: dict[str, Any]) -> bool:
        return bool(
            event["eventTypeName"] == "ACTIVITY_TASK_SCHEDULED"
            and attributes(event)["stepName"] == step
        )

    return predicate


# --- a linear run -------------------------------------------------------------------------------


def test_linear_run_history_matches_recording(fake: FakeOutputApi, client: httpx.Client) -> None:
    start = client.post(
        "/workflow/start",
        json={"workflowName": "probe_three", "input": THREE_INPUT, "workflowId": "rec-three-1"},
    )
    body_shape(start, "1-01")
    run_id = start.json()["runId"]
    assert UUID7_RE.match(run_id)
    assert fake.wait_closed("rec-three-1", run_id) == "completed"

    page = history(client, "rec-three-1", run_id, pageSize="50")
    rec = recorded("1-06")["body"]
    assert shape({**page, "events": []}) == shape({**rec, "events": []})
    assert page["nextPageToken"] is None
    assert page["workflow"]["historyLength"] == 31
    assert_events_match(page["events"], rec["events"])

    with_payloads = history(client, "rec-three-1", run_id, pageSize="50", includePayloads="true")
    assert_events_match(with_payloads["events"], recorded_events("1-09"))
    results = [
        attributes(event)["result"]
        for event in with_payloads["events"]
        if event["eventTypeName"] == "ACTIVITY_TASK_COMPLETED"
    ]
    topics = step_result("extractTopics", 1, THREE_INPUT)
    outline = step_result("draftOutline", 1, topics)
    assert results[1:] == [[topics], [outline], [step_result("polishDraft", 1, outline)]]
    trace_call, rec_trace_call = with_payloads["events"][5], recorded_events("1-09")[5]
    assert shape(attributes(trace_call)["input"]) == shape(attributes(rec_trace_call)["input"])
    assert attributes(trace_call)["input"][0]["runId"] == run_id
    assert results[0][0]["local"].startswith("/app/logs/runs/probe_three/")
    assert fake.invocations(run_id) == [
        "getTraceDestinations",
        "extractTopics",
        "draftOutline",
        "polishDraft",
    ]


def test_history_pages_hold_whole_batches(fake: FakeOutputApi, client: httpx.Client) -> None:
    run_id = start_three(fake)
    fake.wait_closed("rec-three-1", run_id)

    first = history(client, "rec-three-1", run_id, pageSize="5")
    second = history(client, "rec-three-1", run_id, pageSize="5", pageToken=first["nextPageToken"])
    for mine, prefix in ((first, "1-07"), (second, "1-08")):
        rec = recorded(prefix)["body"]
        assert [e["eventId"] for e in mine["events"]] == [e["eventId"] for e in rec["events"]]
        assert shape({**mine, "events": []}) == shape({**rec, "events": []})
        assert TOKEN_RE.match(mine["nextPageToken"])
    assert second["workflow"] is None

    events = first["events"] + second["events"]
    token = second["nextPageToken"]
    while token is not None:
        page = history(client, "rec-three-1", run_id, pageSize="5", pageToken=token)
        events += page["events"]
        token = page["nextPageToken"]
    assert [int(e["eventId"]) for e in events] == list(range(1, 32))

    unpinned = client.get("/workflow/rec-three-1/history", params={"pageSize": "5"}).json()
    assert unpinned["runId"] == run_id
    assert [e["eventId"] for e in unpinned["events"]] == [str(i) for i in range(1, 11)]
    follow = client.get(
        "/workflow/rec-three-1/history",
        params={"pageSize": "5", "pageToken": unpinned["nextPageToken"], "runId": run_id},
    ).json()
    assert [e["eventId"] for e in follow["events"]] == [str(i) for i in range(11, 23)]
    without_run_id = client.get(
        "/workflow/rec-three-1/history",
        params={"pageSize": "5", "pageToken": unpinned["nextPageToken"]},
    )
    assert_same_response(without_run_id, "1-15")
    too_big = client.get(f"/workflow/rec-three-1/runs/{run_id}/history", params={"pageSize": 51})
    assert too_big.status_code == 400
    assert too_big.json()["error"] == "ValidationError"


def test_status_input_result_and_trace_log(
    fake: FakeOutputApi, client: httpx.Client, gates: Gates
) -> None:
    gates.polish.clear()
    run_id = start_three(fake)
    pinned = f"/workflow/rec-three-1/runs/{run_id}"
    running = client.get(f"{pinned}/status")
    body_shape(running, "1-02")
    assert running.json()["completedAt"] == ""
    assert_same_response(client.get(f"{pinned}/result"), "2-26")
    assert_same_response(client.get(f"{pinned}/trace-log"), "2-27")
    gates.polish.set()
    fake.wait_closed("rec-three-1", run_id)

    rec_run = recorded("1-01")["body"]["runId"]
    for path, prefix in (
        ("/workflow/rec-three-1/status", "1-03"),
        (f"{pinned}/status", "1-04"),
        (f"{pinned}/result", "1-11"),
        (f"{pinned}/trace-log", "1-12"),
    ):
        body_shape(client.get(path), prefix)
    assert_same_response(client.get(f"{pinned}/input"), "1-10", **{rec_run: run_id})
    runs = client.get("/workflow/runs", params={"workflowType": "probe_three"})
    body_shape(runs, "1-05")
    status = client.get(f"{pinned}/status").json()
    row = runs.json()["runs"][0]
    assert row["startedAt"].endswith("Z")
    assert status["startedAt"] <= status["completedAt"]
    result = client.get(f"{pinned}/result").json()
    trace_log = client.get(f"{pinned}/trace-log").json()
    assert result["trace"] == {"local": trace_log["localPath"]}
    assert_same_response(client.get("/workflow/nope-rec-404/status"), "8-04")


# --- resets -------------------------------------------------------------------------------------


def test_reset_of_a_completed_run(fake: FakeOutputApi, client: httpx.Client) -> None:
    original = start_three(fake)
    fake.wait_closed("rec-three-1", original)
    fake.code_version = 2  # the edited polishDraft
    reason = "recorded: re-run polishDraft"
    response = client.post(
        f"/workflow/rec-three-1/runs/{original}/reset",
        json={"stepName": "draftOutline", "reason": reason},
    )
    body_shape(response, "2-01")
    new_run = response.json()["runId"]
    assert UUID4_RE.match(new_run)
    assert fake.wait_closed("rec-three-1", new_run) == "completed"

    page = history(client, "rec-three-1", new_run, pageSize="50")
    assert_events_match(page["events"], recorded_events("2-02"))
    before = history(client, "rec-three-1", original, pageSize="50")["events"]
    assert page["events"][:23] == before[:23]  # copied verbatim, original times included
    marker = attributes(page["events"][23])
    assert marker == {
        "scheduledEventId": "22",
        "startedEventId": "23",
        "cause": 20,
        "identity": "history-service",
        "baseRunId": original,
        "newRunId": new_run,
    }
    with_payloads = history(client, "rec-three-1", new_run, pageSize="50", includePayloads="true")
    assert_events_match(with_payloads["events"], recorded_events("2-03"))
    failure = attributes(with_payloads["events"][23])["failure"]
    assert failure == {"message": reason, "resetWorkflowFailureInfo": {}}

    assert fake.invocations(new_run) == ["polishDraft"]
    outline = attributes(with_payloads["events"][20])["result"][0]
    polished = attributes(with_payloads["events"][29])["result"][0]
    assert ":v1:" in outline
    assert polished == step_result("polishDraft", 2, outline)

    status = client.get(f"/workflow/rec-three-1/runs/{new_run}/status")
    body_shape(status, "2-04")
    # A reset run starts at the reset time (after the original closed), not the original start.
    assert page["workflow"]["startTime"] >= before[-1]["eventTime"]
    assert page["events"][23]["eventTime"] == page["workflow"]["startTime"]
    body_shape(client.get(f"/workflow/rec-three-1/runs/{original}/status"), "2-05")
    assert fake.run_status("rec-three-1", original) == "completed"
    result = client.get(f"/workflow/rec-three-1/runs/{new_run}/result")
    body_shape(result, "2-06")
    original_result = client.get(f"/workflow/rec-three-1/runs/{original}/result").json()
    assert result.json()["trace"] == original_result["trace"]
    rec_original = recorded("1-01")["body"]["runId"]
    assert_same_response(
        client.get("/workflow/rec-three-1/input"), "2-07", **{rec_original: original}
    )

    # Recordings 2-08/2-09: reset the reset run after getTraceDestinations: every step runs again.
    again = client.post(
        f"/workflow/rec-three-1/runs/{new_run}/reset",
        json={"stepName": "getTraceDestinations", "reason": "recorded: re-run every step"},
    )
    body_shape(again, "2-08")
    third = again.json()["runId"]
    fake.wait_closed("rec-three-1", third)
    assert_events_match(
        history(client, "rec-three-1", third, pageSize="50")["events"], recorded_events("2-09")
    )
    assert fake.invocations(third) == ["extractTopics", "draftOutline", "polishDraft"]

    # A reset of an already-reset run after its marker keeps the copied marker first.
    fourth = client.post(
        f"/workflow/rec-three-1/runs/{new_run}/reset", json={"stepName": "polishDraft"}
    ).json()["runId"]
    fake.wait_closed("rec-three-1", fourth)
    markers = [
        attributes(event)
        for event in fake.history("rec-three-1", fourth)
        if event["eventTypeName"] == "WORKFLOW_TASK_FAILED"
    ]
    assert [(m["baseRunId"], m["newRunId"]) for m in markers] == [
        (original, new_run),
        (new_run, fourth),
    ]
    assert markers[1]["failure"]["message"] == 'Reset to re-run from after step "polishDraft"'
    assert fake.invocations(fourth) == []


def test_reset_of_a_running_run_terminates_it(
    fake: FakeOutputApi, client: httpx.Client, gates: Gates
) -> None:
    gates.polish.clear()
    slow = fake.start_run("probe_three", "rec-three-slow", {"text": "one two", "delayMs": 20000})
    fake.wait_for_event("rec-three-slow", slow, is_scheduled("polishDraft"))
    in_flight = history(client, "rec-three-slow", slow, pageSize="50")
    assert_events_match(in_flight["events"], recorded_events("2-11"))
    assert in_flight["nextPageToken"] is None

    pinned = f"/workflow/rec-three-slow/runs/{slow}"
    assert_same_response(client.post(f"{pinned}/reset", json={"stepName": "polishDraft"}), "2-12")
    reason = "recorded: reset while polishDraft running"
    response = client.post(f"{pinned}/reset", json={"stepName": "draftOutline", "reason": reason})
    body_shape(response, "2-21")
    new_run = response.json()["runId"]

    body_shape(client.get(f"{pinned}/status"), "2-22")
    assert fake.run_status("rec-three-slow", slow) == "terminated"
    old_result = client.get(f"{pinned}/result")
    body_shape(old_result, "2-23")
    assert old_result.json()["error"] == {"name": "TerminatedFailure", "message": reason}
    old = history(client, "rec-three-slow", slow, pageSize="50", includePayloads="true")
    assert_events_match(old["events"], recorded_events("2-24"))
    assert attributes(old["events"][-1]) == {"reason": reason, "identity": "history-resetter"}
    assert old["workflow"]["status"] == "terminated"

    body_shape(client.get(f"/workflow/rec-three-slow/runs/{new_run}/status"), "2-25")
    gates.polish.set()
    fake.wait_closed("rec-three-slow", new_run)
    done = history(client, "rec-three-slow", new_run, pageSize="50")
    assert_events_match(done["events"], recorded_events("2-28"))
    body_shape(client.get(f"/workflow/rec-three-slow/runs/{new_run}/status"), "2-29")
    assert fake.invocations(slow) == [
        "getTraceDestinations",
        "extractTopics",
        "draftOutline",
        "polishDraft",
    ]
    assert fake.invocations(new_run) == ["polishDraft"]


def test_reset_terminates_any_running_run_of_the_workflow_id(
    fake: FakeOutputApi, client: httpx.Client, gates: Gates
) -> None:
    closed = start_three(fake)
    fake.wait_closed("rec-three-1", closed)
    gates.polish.clear()
    running = start_three(fake)  # a closed workflow id can be started again
    fake.wait_for_event("rec-three-1", running, is_scheduled("polishDraft"))
    reason = "anchor on the older run"
    response = client.post(
        f"/workflow/rec-three-1/runs/{closed}/reset",
        json={"stepName": "extractTopics", "reason": reason},
    )
    assert response.status_code == 200
    assert fake.run_status("rec-three-1", running) == "terminated"
    assert fake.run_status("rec-three-1", closed) == "completed"
    terminated = fake.history("rec-three-1", running)[-1]
    assert attributes(terminated) == {"reason": reason, "identity": "history-resetter"}
    assert fake.latest_run("rec-three-1") == response.json()["runId"]
    runs = client.get("/workflow/runs", params={"workflowType": "probe_three"}).json()["runs"]
    assert [row["status"] for row in runs] == ["running", "terminated", "completed"]
    gates.polish.set()  # the reset run holds at polishDraft until now
    fake.wait_closed("rec-three-1", response.json()["runId"])
    rows = client.get("/workflow/runs", params={"workflowType": "probe_three"}).json()["runs"]
    closes = [row["completedAt"] for row in rows]
    assert closes == sorted(closes, reverse=True)  # then by close time, newest first
    assert {row["runId"] for row in rows} == set(fake.run_ids("rec-three-1"))


def test_deprecated_reset_route(fake: FakeOutputApi, client: httpx.Client) -> None:
    run_id = start_three(fake)
    fake.wait_closed("rec-three-1", run_id)
    response = client.post(
        "/workflow/rec-three-1/reset",
        json={"stepName": "extractTopics", "reason": "recorded: deprecated unpinned reset"},
    )
    rec = recorded("2-30")
    body_shape(response, "2-30")
    for header in ("deprecation", "sunset", "link"):
        assert response.headers[header] == rec["headers"][header]
    new_run = response.json()["runId"]
    fake.wait_closed("rec-three-1", new_run)
    status = client.get("/workflow/rec-three-1/status")
    body_shape(status, "2-31")
    assert status.json()["runId"] == new_run
    assert fake.invocations(new_run) == ["draftOutline", "polishDraft"]
    assert [r.path for r in fake.reset_requests()] == ["/workflow/rec-three-1/reset"]


def test_reset_errors_match_recordings(fake: FakeOutputApi, client: httpx.Client) -> None:
    run_id = start_three(fake)
    fake.wait_closed("rec-three-1", run_id)
    rec_run = recorded("1-01")["body"]["runId"]
    pinned = f"/workflow/rec-three-1/runs/{run_id}/reset"
    assert_same_response(client.post(pinned, json={"stepName": "noSuchStep"}), "2-13")
    assert_same_response(client.post(pinned, json={"stepName": "probe_three#draftOutline"}), "2-14")
    assert_same_response(
        client.post("/workflow/rec-three-1/runs/not-a-uuid/reset", json={"stepName": "x"}),
        "2-15",
    )
    unknown_rid = "00000000-0000-4000-8000-000000000000"
    assert_same_response(
        client.post(
            f"/workflow/rec-three-1/runs/{unknown_rid}/reset", json={"stepName": "draftOutline"}
        ),
        "2-16",
    )
    assert_same_response(
        client.post(
            f"/workflow/nope-rec-999/runs/{run_id}/reset", json={"stepName": "draftOutline"}
        ),
        "2-17",
        **{rec_run: run_id},
    )
    deprecated = client.post("/workflow/nope-rec-999/reset", json={"stepName": "draftOutline"})
    assert_same_response(deprecated, "2-18")
    assert deprecated.headers["link"] == recorded("2-18")["headers"]["link"]
    assert_same_response(client.post(pinned, json={"reason": "no step given"}), "2-19")
    assert_same_response(client.post(pinned), "2-20")
    assert fake.run_ids("rec-three-1") == [run_id]


# --- parallel, child, trace disabled ----------------------------------------------------------


def test_parallel_reset_redispatches_the_pending_sibling(
    fake: FakeOutputApi, client: httpx.Client, gates: Gates
) -> None:
    gates.slow.clear()
    run_id = fake.start_run("probe_parallel", "rec-par-1", {"n": 7})
    fake.wait_for_event("rec-par-1", run_id, lambda e: e["eventId"] == "19")
    gates.slow.set()  # fetchFast finished first, as in the recording
    fake.wait_closed("rec-par-1", run_id)
    assert_events_match(
        history(client, "rec-par-1", run_id, pageSize="50")["events"], recorded_events("3-02")
    )
    assert_events_match(
        history(client, "rec-par-1", run_id, pageSize="50", includePayloads="true")["events"],
        recorded_events("3-03"),
    )
    body_shape(client.get(f"/workflow/rec-par-1/runs/{run_id}/result"), "3-04")

    response = client.post(
        f"/workflow/rec-par-1/runs/{run_id}/reset", json={"stepName": "fetchFast"}
    )
    body_shape(response, "3-05")
    new_run = response.json()["runId"]
    fake.wait_closed("rec-par-1", new_run)
    events = history(client, "rec-par-1", new_run, pageSize="50")["events"]
    assert_events_match(events, recorded_events("3-06"))
    redispatched = attributes(events[22])
    assert (redispatched["scheduledEventId"], redispatched["attempt"]) == ("13", 1)
    assert fake.invocations(new_run) == [
        "fetchSlow",
        "loopStep",
        "loopStep",
        "loopStep",
        "combine",
    ]
    with_payloads = history(client, "rec-par-1", new_run, pageSize="50", includePayloads="true")
    assert_events_match(with_payloads["events"], recorded_events("3-07"))
    body_shape(client.get(f"/workflow/rec-par-1/runs/{new_run}/result"), "3-08")


def test_child_workflow(fake: FakeOutputApi, client: httpx.Client) -> None:
    start = client.post(
        "/workflow/start",
        json={"workflowName": "probe_parent", "input": {"n": 3}, "workflowId": "rec-parent-1"},
    )
    body_shape(start, "4-01")
    run_id = start.json()["runId"]
    fake.wait_closed("rec-parent-1", run_id)
    parent = history(client, "rec-parent-1", run_id, pageSize="50")
    assert_events_match(parent["events"], recorded_events("4-02"))
    with_payloads = history(client, "rec-parent-1", run_id, pageSize="50", includePayloads="true")
    assert_events_match(with_payloads["events"], recorded_events("4-03"))

    execution = attributes(parent["events"][19])["workflowExecution"]
    child_id, child_run = execution["workflowId"], execution["runId"]
    assert re.match(r"^rec-parent-1-[A-Za-z0-9_-]{22}$", child_id)
    child = history(client, child_id, child_run, pageSize="50")
    assert_events_match(child["events"], recorded_events("4-04"))
    child_payloads = history(client, child_id, child_run, pageSize="50", includePayloads="true")
    assert_events_match(child_payloads["events"], recorded_events("4-05"))
    assert attributes(child_payloads["events"][0])["input"][1] == {}
    assert "getTraceDestinations" not in fake.invocations(child_run)

    rows = client.get("/workflow/runs").json()["runs"]
    assert shape(rows) == shape(recorded("4-06")["body"]["runs"][:3])
    assert [row["runId"] for row in rows] == [fake.catalog_run_id(), run_id, child_run]
    assert rows[0]["completedAt"] is None  # the open $catalog run first, then by close time
    assert rows[1]["completedAt"] >= rows[2]["completedAt"]
    body_shape(client.get("/workflow/runs", params={"workflowType": "probe_child"}), "4-07")
    body_shape(client.get(f"/workflow/rec-parent-1/runs/{run_id}/result"), "4-08")
    body_shape(client.get(f"/workflow/{child_id}/runs/{child_run}/status"), "4-09")
    assert_same_response(
        client.post(f"/workflow/rec-parent-1/runs/{run_id}/reset", json={"stepName": "childStep"}),
        "4-10",
    )

    reset = client.post(
        f"/workflow/rec-parent-1/runs/{run_id}/reset", json={"stepName": "parentStep"}
    ).json()["runId"]
    fake.wait_closed("rec-parent-1", reset)
    new_execution = next(
        attributes(event)["workflowExecution"]
        for event in fake.history("rec-parent-1", reset)
        if event["eventTypeName"] == "CHILD_WORKFLOW_EXECUTION_COMPLETED"
    )
    assert new_execution["workflowId"] != child_id
    assert fake.invocations(reset) == ["judgeIt"]
    assert fake.invocations(new_execution["runId"]) == ["childStep"]


def test_trace_disabled(fake: FakeOutputApi, client: httpx.Client) -> None:
    start = client.post(
        "/workflow/start",
        json={
            "workflowName": "simple_disable_trace",
            "input": {"values": [1, 2, 3]},
            "workflowId": "rec-notrace-1",
        },
    )
    body_shape(start, "5-01")
    run_id = start.json()["runId"]
    fake.wait_closed("rec-notrace-1", run_id)
    assert_events_match(
        history(client, "rec-notrace-1", run_id, pageSize="50")["events"], recorded_events("5-02")
    )
    assert_events_match(
        history(client, "rec-notrace-1", run_id, pageSize="50", includePayloads="true")["events"],
        recorded_events("5-03"),
    )
    pinned = f"/workflow/rec-notrace-1/runs/{run_id}"
    assert_same_response(
        client.post(f"{pinned}/reset", json={"stepName": "getTraceDestinations"}), "5-04"
    )
    assert_same_response(client.get(f"{pinned}/trace-log"), "5-05")
    result = client.get(f"{pinned}/result")
    body_shape(result, "5-06")
    assert result.json()["trace"] is None


def test_failing_step(fake: FakeOutputApi, client: httpx.Client) -> None:
    fake.define_workflow("error_step", [Step("thrower", fail=True), Step("never")])
    run_id = fake.start_run("error_step", "err-1", {"values": [1]})
    assert fake.wait_closed("err-1", run_id) == "failed"
    events = history(client, "err-1", run_id, pageSize="50")["events"]
    assert layout(events)[-7:] == [
        "ACTIVITY_TASK_SCHEDULED",
        "ACTIVITY_TASK_STARTED",
        "ACTIVITY_TASK_FAILED",
        "WORKFLOW_TASK_SCHEDULED",
        "WORKFLOW_TASK_STARTED",
        "WORKFLOW_TASK_COMPLETED",
        "WORKFLOW_EXECUTION_FAILED",
    ]
    assert "failure" not in attributes(events[-5])
    failed = fake.history("err-1", run_id)[-5]
    assert attributes(failed)["failure"] == {
        "message": "thrower failed",
        "stackTrace": "Error: thrower failed",
        "type": None,
    }
    result = client.get(f"/workflow/err-1/runs/{run_id}/result").json()
    assert (result["status"], result["output"]) == ("failed", None)
    assert result["error"] == {
        "activityType": "error_step#thrower",
        "name": "Error",
        "message": "thrower failed",
    }
    not_completed = client.post(
        f"/workflow/err-1/runs/{run_id}/reset", json={"stepName": "thrower"}
    )
    assert not_completed.status_code == 409
    assert fake.invocations(run_id) == ["getTraceDestinations", "thrower"]
    stream = client.get("/workflow/err-1/history/stream")
    assert stream.text.endswith('event: done\ndata: {"reason":"WORKFLOW_EXECUTION_FAILED"}\n\n')


def test_request_validation(fake: FakeOutputApi, client: httpx.Client) -> None:
    run_id = start_three(fake)
    fake.wait_closed("rec-three-1", run_id)
    pinned = f"/workflow/rec-three-1/runs/{run_id}"
    bad_flag = client.get(f"{pinned}/history", params={"includePayloads": "yes"})
    assert bad_flag.status_code == 400
    assert bad_flag.json()["issues"][0]["path"] == ["includePayloads"]
    assert client.get(f"{pinned}/history", params={"pageToken": "not a token"}).status_code == 400
    assert client.get("/workflow/runs", params={"limit": "1001"}).status_code == 400
    assert client.get("/workflow/rec-three-1/runs/not-a-uuid/status").status_code == 400
    malformed = client.post(
        f"{pinned}/reset", content=b"{x", headers={"content-type": "application/json"}
    )
    assert (malformed.status_code, malformed.json()["error"]) == (400, "SyntaxError")
    unknown_run = client.get(f"/workflow/rec-three-1/runs/{UUID_ZERO}/status")
    assert unknown_run.status_code == 404
    assert unknown_run.json()["error"] == "WorkflowNotFoundError"
    assert fake.run_ids("rec-three-1") == [run_id]


# --- long-poll and SSE ---------------------------------------------------------------------------


def test_long_poll_history(fake: FakeOutputApi, client: httpx.Client, gates: Gates) -> None:
    gates.polish.clear()
    run_id = fake.start_run("probe_three", "rec-lp-1", {"text": "x y", "delayMs": 8000})
    fake.wait_for_event("rec-lp-1", run_id, is_scheduled("polishDraft"))
    plain = history(client, "rec-lp-1", run_id, pageSize="50")
    assert plain["nextPageToken"] is None  # 6-12: caught up for now, even while running
    assert plain["workflow"]["status"] == "running"

    query = {"pageSize": "50", "longPollTimeoutMs": "2000"}
    first = history(client, "rec-lp-1", run_id, **query)
    body_shape_of_page = shape({**recorded("6-11_longpoll_2000ms_page01")["body"], "events": []})
    assert shape({**first, "events": []}) == body_shape_of_page
    assert [e["eventId"] for e in first["events"]] == [str(i) for i in range(1, 26)]
    token = first["nextPageToken"]

    began = time.monotonic()
    empty = history(client, "rec-lp-1", run_id, **query, pageToken=token)
    elapsed = time.monotonic() - began
    assert empty["events"] == []
    assert empty["nextPageToken"] == token  # like 6-11 pages 07-12
    assert empty["workflow"]["status"] == "running"
    assert 0.15 <= elapsed < 1.0  # capped at 400 ms, answered ~half-way (at most 1 s early)

    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(history, client, "rec-lp-1", run_id, **query, pageToken=token)
        fake.wait_for_long_poll()
        gates.polish.set()
        last = pending.result(timeout=5)
    assert [e["eventId"] for e in last["events"]] == [str(i) for i in range(26, 32)]
    assert last["events"][-1]["eventTypeName"] == "WORKFLOW_EXECUTION_COMPLETED"
    assert last["nextPageToken"] is None
    final = recorded("6-11_longpoll_2000ms_page15")["body"]
    # The Addendum's stale metadata: read before the wait, it still says running.
    assert (last["workflow"]["status"], final["workflow"]["status"]) == ("running", "running")
    assert last["workflow"]["historyLength"] == 25


def read_frames(response: httpx.Response) -> Iterator[tuple[str, str]]:
    """(kind, raw frame) pairs from a live SSE response, as they arrive."""
    buffer = ""
    for text in response.iter_text():
        buffer += text
        while "\n\n" in buffer:
            frame, buffer = buffer.split("\n\n", 1)
            if frame.startswith(":"):
                yield "comment", frame
            else:
                kind = re.search(r"^event: (.*)$", frame, re.MULTILINE)
                assert kind is not None, frame
                yield kind.group(1), frame


def frame_data(frame: str) -> Any:
    match = re.search(r"^data: (.*)$", frame, re.MULTILINE)
    assert match is not None
    return json.loads(match.group(1))


def recorded_frames(prefix: str) -> list[str]:
    text = (RECORDED / recorded(prefix)["body_file"]).read_text()
    return [frame for frame in text.split("\n\n") if frame]


def test_sse_stream(fake: FakeOutputApi, client: httpx.Client, gates: Gates) -> None:
    gates.polish.clear()
    run_id = fake.start_run("probe_three", "rec-sse-2", {"text": "cyan", "delayMs": 17000})
    url = f"/workflow/rec-sse-2/runs/{run_id}/history/stream"
    frames: list[tuple[str, str]] = []
    with client.stream("GET", url, params={"includePayloads": "true"}) as response:
        rec = recorded("6-04")
        for header in ("content-type", "cache-control", "x-accel-buffering", "transfer-encoding"):
            assert response.headers[header] == rec["headers"][header]
        for kind, frame in read_frames(response):
            frames.append((kind, frame))
            if kind == "comment":
                gates.polish.set()  # the keepalive arrived while polishDraft was in flight
    kinds = [kind for kind, _ in frames]
    assert kinds[0] == "workflow"
    assert kinds[-1] == "done"
    assert "comment" in kinds
    assert frames[kinds.index("comment")][1] == ": keepalive"
    rec_workflow = recorded_frames("6-04")[0]
    workflow = frame_data(frames[0][1])
    assert shape(workflow) == shape(frame_data(rec_workflow))
    assert workflow["closed"] is False
    streamed: list[dict[str, Any]] = []
    for kind, frame in frames:
        if kind == "history":
            batch = frame_data(frame)
            assert frame.startswith(f"id: {batch[-1]['eventId']}\nevent: history\ndata: [")
            streamed += batch
    assert streamed == fake.history("rec-sse-2", run_id)
    assert frames[-1][1] == recorded_frames("6-04")[-1]  # done, WORKFLOW_EXECUTION_COMPLETED

    resumed = client.get(url, headers={"Last-Event-ID": "25"})
    rec_frames = recorded_frames("6-05")
    assert resumed.headers["content-type"] == recorded("6-05")["headers"]["content-type"]
    mine = [frame for frame in resumed.text.split("\n\n") if frame]
    assert len(mine) == len(rec_frames) == 3
    assert shape(frame_data(mine[0])) == shape(frame_data(rec_frames[0]))
    assert frame_data(mine[0])["closed"] is True
    assert mine[1].startswith("id: 31\nevent: history\n")
    assert [e["eventId"] for e in frame_data(mine[1])] == [str(i) for i in range(26, 32)]
    assert mine[2] == rec_frames[2]

    closed = client.get(url, params={"lastEventId": "31"})
    assert closed.status_code == 204
    assert "content-type" not in closed.headers
    assert closed.content == b""

    unpinned = client.get("/workflow/rec-sse-2/history/stream")
    unpinned_frames = [frame for frame in unpinned.text.split("\n\n") if frame]
    assert [frame.splitlines()[0] for frame in unpinned_frames] == [
        frame.splitlines()[0] for frame in recorded_frames("6-08")
    ]
    assert_same_response(client.get("/workflow/nope-rec-sse/history/stream"), "6-07")


# --- transport: auth, plain-text errors, faults ------------------------------------------------


def test_health_and_plain_text_errors(client: httpx.Client) -> None:
    for path, prefix in (("/health", "8-01"), ("/ready", "8-02"), ("/no/such/route", "8-03")):
        response = client.get(path)
        rec = recorded(prefix)
        assert (response.status_code, response.text) == (rec["status"], rec["body"])
        assert response.headers["content-type"] == rec["headers"]["content-type"]


def test_auth_token() -> None:
    with FakeOutputApi(token="s3cret") as api, httpx.Client(base_url=api.url) as http:
        for header in (None, "Bearer s3cret", "Basic czNjcmV0", "s3cret2"):
            headers = {} if header is None else {"Authorization": header}
            refused = http.get("/workflow/runs", headers=headers)
            assert (refused.status_code, refused.text) == (401, "Unauthorized")
            assert refused.headers["content-type"] == TEXT_TYPE
        for header in ("Basic s3cret", "s3cret"):
            accepted = http.get("/workflow/runs", headers={"Authorization": header})
            assert accepted.status_code == 200
        assert http.get("/health").status_code == 200
        assert http.get("/ready").status_code == 200


def test_fault_injection(fake: FakeOutputApi, client: httpx.Client) -> None:
    fake.inject("GET", r"/status$", status=503, body={"error": "Boom", "message": "down"})
    injected = client.get("/workflow/main/status")
    assert (injected.status_code, injected.json()) == (503, {"error": "Boom", "message": "down"})
    assert client.get("/workflow/main/status").status_code == 200  # times=1

    fake.inject_delay("GET", r"^/health$", 0.2)
    began = time.monotonic()
    assert client.get("/health").status_code == 200
    assert time.monotonic() - began >= 0.2

    run_id = start_three(fake)
    fake.wait_closed("rec-three-1", run_id)
    fake.drop_response("POST", r"/reset$")
    with pytest.raises(httpx.RemoteProtocolError):
        client.post(f"/workflow/rec-three-1/runs/{run_id}/reset", json={"stepName": "draftOutline"})
    assert fake.latest_run("rec-three-1") != run_id  # the reset happened anyway
    reset = fake.wait_for_request(lambda r: r.method == "POST" and r.path.endswith("/reset"))
    assert reset.json == {"stepName": "draftOutline"}
    assert fake.reset_requests() == [reset]

    fake.set_down(True)
    with pytest.raises(httpx.ConnectError):
        client.get("/health")
    fake.set_down(False)
    assert client.get("/health").status_code == 200


# --- start, catalog and worker reloads ----------------------------------------------------------


def test_start_errors_and_id_reuse(fake: FakeOutputApi, client: httpx.Client, gates: Gates) -> None:
    unsupported = client.post("/workflow/start", json={"workflowName": "nope", "input": {}})
    assert unsupported.status_code == 424
    assert unsupported.json() == {
        "error": "UnsupportedWorkflowError",
        "message": "Workflow nope is not supported in the task queue main.",
    }
    missing = client.post("/workflow/start", json={"input": {}})
    assert missing.status_code == 400
    assert missing.json()["issues"][0]["path"] == ["workflowName"]

    gates.polish.clear()
    body = {"workflowName": "probe_three", "input": THREE_INPUT, "workflowId": "rec-three-1"}
    first = client.post("/workflow/start", json=body).json()["runId"]
    duplicate = client.post("/workflow/start", json=body)
    assert duplicate.status_code == 500
    assert duplicate.json()["error"] == "WorkflowExecutionAlreadyStartedError"
    gates.polish.set()
    fake.wait_closed("rec-three-1", first)
    reused = client.post("/workflow/start", json=body)
    assert reused.status_code == 200
    assert reused.json()["runId"] != first
    assert fake.latest_run("rec-three-1") == reused.json()["runId"]
    generated = client.post("/workflow/start", json={"workflowName": "probe_three", "input": {}})
    assert re.match(r"^[A-Za-z0-9_-]{21}$", generated.json()["workflowId"])


def test_run_waits_for_the_result(fake: FakeOutputApi, client: httpx.Client, gates: Gates) -> None:
    body = {"workflowName": "probe_three", "input": THREE_INPUT, "workflowId": "run-1"}
    done = client.post("/workflow/run", json=body)
    assert done.status_code == 200
    assert (done.json()["v"], done.json()["status"]) == ("2", "completed")
    gates.polish.clear()
    timed_out = client.post("/workflow/run", json={**body, "timeout": 250})
    assert timed_out.status_code == 408
    assert timed_out.json()["workflowId"] == "run-1"
    assert fake.run_status("run-1", fake.latest_run("run-1")) == "running"  # it keeps running
    gates.polish.set()


def test_activity_started_is_written_at_completion(fake: FakeOutputApi) -> None:
    fake.define_workflow("timed", [Step("wait", duration_s=0.1)])
    run_id = fake.start_run("timed", "timed-1", None)
    scheduled = fake.wait_for_event("timed-1", run_id, is_scheduled("wait"))
    fake.wait_closed("timed-1", run_id)
    events = fake.history("timed-1", run_id)
    started, completed = events[int(scheduled["eventId"])], events[int(scheduled["eventId"]) + 1]
    assert (started["eventTypeName"], completed["eventTypeName"]) == (
        "ACTIVITY_TASK_STARTED",
        "ACTIVITY_TASK_COMPLETED",
    )
    elapsed_ms = iso_ms(completed["eventTime"]) - iso_ms(started["eventTime"])
    assert elapsed_ms >= 100
    assert attributes(completed)["result"] == [step_result("wait", 1, None)]


def test_stop_and_terminate(fake: FakeOutputApi, client: httpx.Client, gates: Gates) -> None:
    gates.polish.clear()
    run_id = start_three(fake)
    fake.wait_for_event("rec-three-1", run_id, is_scheduled("polishDraft"))
    pinned = f"/workflow/rec-three-1/runs/{run_id}"
    terminated = client.post(f"{pinned}/terminate", json={"reason": "enough"})
    assert terminated.json() == {"terminated": True, "workflowId": "rec-three-1", "runId": run_id}
    assert client.get(f"{pinned}/result").json()["error"] == {
        "name": "TerminatedFailure",
        "message": "enough",
    }
    again = client.post(f"{pinned}/terminate")
    assert (again.status_code, again.json()["message"]) == (
        404,
        "workflow execution already completed",
    )
    second = start_three(fake)
    fake.wait_for_event("rec-three-1", second, is_scheduled("polishDraft"))
    stopped = client.patch(f"/workflow/rec-three-1/runs/{second}/stop")
    assert stopped.json() == {"workflowId": "rec-three-1", "runId": second}
    assert fake.run_status("rec-three-1", second) == "cancelled"
    gates.polish.set()


def test_catalog_and_worker_reload(fake: FakeOutputApi, client: httpx.Client) -> None:
    catalog = client.get("/workflow/catalog")
    assert catalog.status_code == 200
    rec_catalog = recorded("7-01")["body"]
    entry = next(w for w in catalog.json()["workflows"] if w["name"] == "probe_three")
    rec_entry = next(w for w in rec_catalog["workflows"] if w["name"] == "probe_three")
    schemas = {"inputSchema": None, "outputSchema": None}  # workflow-specific contents
    assert shape({**entry, **schemas}) == shape({**rec_entry, **schemas})
    assert entry["inputSchema"]["$schema"] == rec_entry["inputSchema"]["$schema"]
    assert entry["activities"] == []
    assert catalog.json()["workflowNames"]["probe_three"] == "probe_three"
    assert client.get("/workflow/catalog/main").json() == catalog.json()
    assert client.get("/workflow/catalog/other").status_code == 404

    before = client.get("/workflow/main/status")
    body_shape(before, "7-03")
    assert before.json()["runId"] == fake.catalog_run_id()

    began = time.monotonic()
    fake.reload_worker(0.3, new_code_version=2)
    run_id = start_three(fake)  # started during the restart: waits for the new worker
    assert client.get("/workflow/catalog").status_code == 200  # blocked until the new worker
    assert time.monotonic() - began >= 0.3
    after = client.get("/workflow/main/status")
    body_shape(after, "7-04")
    assert after.json()["runId"] != before.json()["runId"]
    old = client.get(f"/workflow/main/runs/{before.json()['runId']}/status")
    body_shape(old, "7-05")
    assert old.json()["status"] == "completed"
    rows = client.get("/workflow/runs", params={"catalog": "main", "limit": "5"}).json()["runs"]
    catalog_rows = [row for row in rows if row["workflowType"] == "$catalog"]
    assert [row["status"] for row in catalog_rows] == ["running", "completed"]

    fake.wait_closed("rec-three-1", run_id)
    events = fake.history("rec-three-1", run_id)
    assert attributes(events[2])["identity"] == "24075@vm"  # the new worker's pid
    outputs = [
        attributes(event)["result"][0]
        for event in events
        if event["eventTypeName"] == "ACTIVITY_TASK_COMPLETED"
    ]
    assert [":v2:" in str(output) for output in outputs] == [False, True, True, True]

    fake.reload_worker(0.05, change_hash=False)  # an .md-only edit: same catalog run
    assert client.get("/workflow/catalog").status_code == 200
    assert client.get("/workflow/main/status").json()["runId"] == after.json()["runId"]
    invalid = client.get("/workflow/runs", params={"workflowType": "$catalog"})
    assert invalid.status_code == 400
