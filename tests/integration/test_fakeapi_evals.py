"""The fake Output API runs workflows synchronously and eval workflows the way Output does: its
answers to `POST /workflow/run` (and the eval runs' histories, results and catalog entries) are
compared field by field with the recordings of tests/fixtures/evals/recorded (docs/output-api.md
§8).

The recorded runs used Output's `simple_eval` (`evaluate_sum`, a typed `verify()` evaluator)
and `blog_generator_eval` (an LLM judge without an API key); the fixture below defines the same
workflows with Python evaluators that say what Output's said.
"""

from __future__ import annotations

import copy
import re
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.fakeapi import (
    Evaluator,
    FakeOutputApi,
    Interpret,
    Issue,
    Judgement,
    Step,
    invalid_type,
)
from tests.fakeapi.validation import MISSING, received
from tests.integration.test_fakeapi_contract import attributes, shape
from tests.recordings import eval_recording

JSON_TYPE = "application/json; charset=utf-8"
NANOID_RE = re.compile(r"^[A-Za-z0-9_-]{21}$")
UUID7_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
TRACE_RE = re.compile(r"^/app/logs/runs/(\w+)/\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d-\d{3}Z_(.+)\.json$")
ANTHROPIC = (
    "Anthropic API key is missing. Pass it using the 'apiKey' parameter or the "
    "ANTHROPIC_API_KEY environment variable."
)


# --- the recorded workflows, in Python ------------------------------------------------------


def typed_failure(evaluator: str, expected: str, value: Any, path: str) -> ValueError:
    """How Output's verify() refuses an input that does not fit its schema (e-09)."""
    return ValueError(
        f'Evaluator "{evaluator}" input validation failed: ✖ Invalid input: expected '
        f"{expected}, received {received(value)}\n  → at {path}"
    )


def evaluate_sum(input: Any, output: Any, truth: dict[str, Any]) -> Judgement:
    if not isinstance(output, dict):
        raise typed_failure("evaluate_sum", "object", output, "output")
    result = output.get("result", MISSING)
    if not isinstance(result, int | float):
        raise typed_failure("evaluate_sum", "number", result, "output.result")
    expected = truth.get("expected", sum(input["values"]))
    if result == expected:
        return Judgement(True, reasoning=f"Value equals expected: {expected}")
    return Judgement(False, reasoning=f"Expected {expected}, got {result}")


def length_of_output(input: Any, output: Any, truth: dict[str, Any]) -> Judgement:
    length = len(output["blog_post"])
    minimum = truth["min_length"]
    if length >= minimum:
        return Judgement(True, reasoning=f"{length} is greater than or equal to {minimum}")
    return Judgement(False, reasoning=f"{length} is not greater than or equal to {minimum}")


def evaluate_topic(input: Any, output: Any, truth: dict[str, Any]) -> Any:
    raise RuntimeError(ANTHROPIC)


def simple_input(value: Any) -> list[Issue]:
    """simple's inputSchema, `{values: number[]}`."""
    values = value.get("values", MISSING) if isinstance(value, dict) else MISSING
    if not isinstance(values, list):
        return [invalid_type("array", values, "values")]
    return [
        invalid_type("number", v, "values", i)
        for i, v in enumerate(values)
        if not isinstance(v, int | float) or isinstance(v, bool)
    ]


@pytest.fixture
def slow_judge() -> threading.Event:
    gate = threading.Event()
    gate.set()
    return gate


@pytest.fixture
def fake(slow_judge: threading.Event) -> Iterator[FakeOutputApi]:
    api = FakeOutputApi()
    api.define_workflow("simple", [Step("sumValues")], validate=simple_input)
    api.define_eval(
        "simple_eval",
        [Evaluator("evaluate_sum", evaluate_sum, Interpret.boolean(), gate=slow_judge)],
    )
    api.define_workflow("blog_generator", [Step("generateBlog")])
    api.define_eval(
        "blog_generator_eval",
        [
            Evaluator("length_of_output", length_of_output, Interpret.boolean()),
            Evaluator("evaluate_topic", evaluate_topic, Interpret.verdict()),
            Evaluator("evaluate_content", evaluate_topic, Interpret.verdict()),
        ],
    )
    with api:
        yield api


@pytest.fixture
def client(fake: FakeOutputApi) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fake.url, timeout=10.0) as http:
        yield http


# --- comparing with a recording ---------------------------------------------------------------


def replay_request(client: httpx.Client, prefix: str) -> tuple[httpx.Response, dict[str, Any]]:
    rec = eval_recording(prefix)
    request = rec["request"]
    response = client.request(request["method"], request["path"], json=request["body"])
    return response, rec


def expected_result(response: httpx.Response, rec: dict[str, Any]) -> dict[str, Any]:
    """The recorded result body with this run's ids and trace path, after checking that those
    have the recorded forms: a 21-character nanoid, a UUIDv7, `<logs>/<type>/<time>_<id>.json`."""
    mine = response.json()
    theirs: dict[str, Any] = copy.deepcopy(rec["response"])
    assert NANOID_RE.match(mine["workflowId"]) or mine["workflowId"] == theirs["workflowId"]
    assert UUID7_RE.match(mine["runId"])
    recorded_trace = TRACE_RE.match(theirs["trace"]["local"])
    trace = TRACE_RE.match(mine["trace"]["local"])
    assert recorded_trace is not None
    assert trace is not None
    assert trace.groups() == (recorded_trace.group(1), mine["workflowId"])
    theirs.update(workflowId=mine["workflowId"], runId=mine["runId"], trace=mine["trace"])
    return theirs


def assert_answers_like(response: httpx.Response, rec: dict[str, Any]) -> None:
    """Status, content type, key order and every field of the recorded v2 result."""
    assert response.status_code == rec["status"]
    assert response.headers["content-type"] == JSON_TYPE
    expected = expected_result(response, rec)
    assert list(response.json()) == list(expected)
    assert response.json() == expected


def events_of(client: httpx.Client, workflow_id: str, run_id: str, **query: str) -> Any:
    path = f"/workflow/{workflow_id}/runs/{run_id}/history"
    page = client.get(path, params={"pageSize": "50", **query}).json()
    assert page["nextPageToken"] is None
    return page["events"]


def event_shape(event: dict[str, Any]) -> Any:
    """An event's keys and types; argument arrays as such, header fields as a set (the real
    server writes a protobuf map in no particular order)."""
    masked = copy.deepcopy(event)
    attrs = attributes(masked)
    for key in ("input", "result"):
        if isinstance(attrs.get(key), list):
            attrs[key] = "argument array"
    if "header" in attrs:
        attrs["header"] = sorted(attrs["header"].get("fields", {}))
    if "failure" in attrs:
        attrs["failure"] = sorted(attrs["failure"])
    return shape(masked)


def layout(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["eventId"], e["eventTypeName"]) for e in events]


def activities(events: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    return [
        (attributes(e)["activityType"]["name"], attributes(e).get("input"))
        for e in events
        if e["eventTypeName"] == "ACTIVITY_TASK_SCHEDULED"
    ]


def outcomes(events: list[dict[str, Any]]) -> list[Any]:
    """What each activity answered (its result, or its failure's message), in event order."""
    return [
        attributes(e)["result"]
        if e["eventTypeName"] == "ACTIVITY_TASK_COMPLETED"
        else attributes(e)["failure"]["message"]
        for e in events
        if e["eventTypeName"] in ("ACTIVITY_TASK_COMPLETED", "ACTIVITY_TASK_FAILED")
    ]


# --- POST /workflow/run ------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["e-02", "e-23"])
def test_run_answers_an_ordinary_workflow_s_v2_result(client: httpx.Client, prefix: str) -> None:
    response, rec = replay_request(client, prefix)
    expected = expected_result(response, rec)
    body = response.json()
    assert (response.status_code, response.headers["content-type"]) == (200, JSON_TYPE)
    assert list(body) == list(expected)
    # Every field but `output`, which is whatever the fake's steps return.
    assert {**body, "output": None} == {**expected, "output": None}
    assert shape(body["output"]) == {"result": "str"}


@pytest.mark.parametrize(
    "prefix",
    [
        "e-03",  # one case, as `output workflow test simple` sends it (with _source)
        "e-04",  # --cached
        "e-07",  # a failing verdict
        "e-08",  # pass, fail and two evaluators that throw; ground truth merged per evaluator
        "e-11",  # no datasets: all-zero summary
        "e-16",  # --save: three cases from two files, passthrough keys
        "e-17",  # an LLM judge that throws after another evaluator answered: the case is `_error`
        "e-22",  # last_output.output null: the typed evaluator throws
        "e-28",  # unknown keys in last_output and last_eval are accepted
    ],
)
def test_an_eval_workflow_answers_the_recorded_eval_output(
    client: httpx.Client, prefix: str
) -> None:
    response, rec = replay_request(client, prefix)
    assert_answers_like(response, rec)


@pytest.mark.parametrize("prefix", ["e-12", "e-21"])
def test_an_input_that_fails_its_schema_is_a_200_with_a_failed_run(
    client: httpx.Client, prefix: str
) -> None:
    response, rec = replay_request(client, prefix)
    assert_answers_like(response, rec)
    assert (response.json()["status"], response.json()["output"]) == ("failed", None)


@pytest.mark.parametrize("prefix", ["e-10", "e-13", "e-24", "e-27"])
def test_errors_have_the_recorded_status_and_body(client: httpx.Client, prefix: str) -> None:
    """424 for a workflow the worker does not know (not 404), 503 + Retry-After for an unknown
    catalog, 400 for a page size over 50, 404 for an unknown workflow id."""
    response, rec = replay_request(client, prefix)
    assert (response.status_code, response.headers["content-type"]) == (rec["status"], JSON_TYPE)
    assert response.json() == rec["response"]
    if prefix == "e-13":
        assert response.headers["retry-after"] == "3"


def test_a_run_over_its_timeout_is_a_408_and_keeps_going(
    fake: FakeOutputApi, client: httpx.Client, slow_judge: threading.Event
) -> None:
    slow_judge.clear()
    response, rec = replay_request(client, "e-14")
    assert response.status_code == 408
    workflow_id = response.json()["workflowId"]
    assert NANOID_RE.match(workflow_id)
    assert response.json() == {**rec["response"], "workflowId": workflow_id}

    run_id = fake.latest_run(workflow_id)
    assert fake.run_status(workflow_id, run_id) == "running"
    slow_judge.set()
    assert fake.wait_closed(workflow_id, run_id) == "completed"
    result = client.get(f"/workflow/{workflow_id}/result")
    assert_answers_like(result, eval_recording("e-15"))


def test_an_eval_workflow_starts_like_any_workflow(
    fake: FakeOutputApi, client: httpx.Client
) -> None:
    started, rec = replay_request(client, "e-25")
    assert started.status_code == 200
    assert started.json() == {**rec["response"], "runId": started.json()["runId"]}
    fake.wait_closed("ev-contract-start-1", started.json()["runId"])
    assert_answers_like(client.get("/workflow/ev-contract-start-1/result"), eval_recording("e-26"))


# --- the eval run's history --------------------------------------------------------------------


def run_of(response: httpx.Response) -> tuple[str, str]:
    body = response.json()
    return body["workflowId"], body["runId"]


def test_an_eval_run_s_history_is_laid_out_like_output_s(client: httpx.Client) -> None:
    """e-05/e-06: getTraceDestinations, then `simple_eval#evaluate_sum` (the EVAL workflow's
    name, not the tested one's), 19 events with the recorded keys."""
    response, _ = replay_request(client, "e-03")
    plain = events_of(client, *run_of(response))
    recorded = eval_recording("e-05")["response"]["events"]
    assert layout(plain) == layout(recorded)
    for mine, theirs in zip(plain, recorded, strict=True):
        assert event_shape(mine) == event_shape(theirs), mine["eventId"]
        assert list(attributes(mine)) == list(attributes(theirs)), mine["eventId"]

    full = events_of(client, *run_of(response), includePayloads="true")
    recorded_full = eval_recording("e-06")["response"]["events"]
    assert [a for a, _ in activities(full)] == [a for a, _ in activities(recorded_full)]
    assert activities(full)[1:] == [
        (
            "simple_eval#evaluate_sum",
            [
                {
                    "input": {"values": [1, 2, 3, 4, 5]},
                    "output": {"result": 15, "workflowId": "DWx48eo1-eFas0hczzjkL"},
                    "ground_truth": {},
                }
            ],
        )
    ]
    assert outcomes(full)[1:] == outcomes(recorded_full)[1:]
    assert attributes(full[-1])["result"] == [response.json()["output"]]


def test_cases_run_in_parallel_and_ground_truth_is_merged_per_evaluator(
    client: httpx.Client,
) -> None:
    """e-09: one workflow task schedules every case's evaluator; each activity gets the global
    ground truth with its own `evals` entry over it (`evals` removed); a throwing evaluator's
    activity fails on its first attempt with the real message."""
    response, _ = replay_request(client, "e-08")
    events = events_of(client, *run_of(response), includePayloads="true")
    recorded = eval_recording("e-09")["response"]["events"]
    assert layout(events)[:16] == layout(recorded)[:16]
    assert activities(events) == [
        (name, args if not name.startswith("__") else activities(events)[0][1])
        for name, args in activities(recorded)
    ]
    scheduled_by = {
        attributes(e)["workflowTaskCompletedEventId"]["low"]
        for e in events[12:16]
        if e["eventTypeName"] == "ACTIVITY_TASK_SCHEDULED"
    }
    assert scheduled_by == {11}
    failures = [e for e in events if e["eventTypeName"] == "ACTIVITY_TASK_FAILED"]
    recorded_failures = [e for e in recorded if e["eventTypeName"] == "ACTIVITY_TASK_FAILED"]
    assert [attributes(e)["failure"]["message"] for e in failures] == [
        attributes(e)["failure"]["message"] for e in recorded_failures
    ]
    recorded_shapes = [event_shape(e) for e in recorded]
    for event in events:  # each event looks like one the real server wrote (same type, keys)
        assert event_shape(event) in recorded_shapes, event["eventId"]
    # Not retried (a FatalError): retryState NON_RETRYABLE_FAILURE, after attempt 1.
    assert [attributes(e)["retryState"] for e in failures] == [2, 2]
    assert [attributes(e)["retryState"] for e in recorded_failures] == [2, 2]
    attempts = {
        attributes(e)["scheduledEventId"]: attributes(e)["attempt"]
        for e in events
        if e["eventTypeName"] == "ACTIVITY_TASK_STARTED"
    }
    assert [attempts[attributes(e)["scheduledEventId"]] for e in failures] == [1, 1]


def test_a_throwing_evaluator_ends_its_case_and_its_siblings_results_are_lost(
    client: httpx.Client,
) -> None:
    """e-17/e-18: length_of_output answers, evaluate_topic throws, evaluate_content never runs,
    and the case is the single `_error` entry; 25 events as recorded."""
    response, _ = replay_request(client, "e-17")
    events = events_of(client, *run_of(response), includePayloads="true")
    recorded = eval_recording("e-18")["response"]["events"]
    assert layout(events) == layout(recorded)
    assert activities(events)[1:] == activities(recorded)[1:]
    assert outcomes(events)[1:] == outcomes(recorded)[1:]
    for mine, theirs in zip(events, recorded, strict=True):
        assert event_shape(mine) == event_shape(theirs), mine["eventId"]


# --- verdicts ------------------------------------------------------------------------------------


def from_truth(key: str) -> Any:
    def judge(input: Any, output: Any, truth: dict[str, Any]) -> Any:
        if key == "score":
            return Judgement(truth[key], confidence=0.9, feedback=({"issue": "short"},))
        return truth[key]

    return judge


def test_case_verdicts_and_the_summary_are_aggregated_as_output_does(
    fake: FakeOutputApi, client: httpx.Client
) -> None:
    """A failed required evaluator fails the case, a partial one makes it partial, an
    informational one never counts; acceptableRate = (passed + partial) / total."""
    fake.define_eval(
        "graded_eval",
        [
            Evaluator("score", from_truth("score"), Interpret.number(0.8, 0.5)),
            Evaluator(
                "style",
                from_truth("style"),
                Interpret.string(["plain"], ["mixed"]),
                criticality="informational",
            ),
            Evaluator("label", from_truth("label"), Interpret.verdict()),
        ],
        concurrency=2,
    )
    cases = {
        "all_good": {"score": 0.9, "style": "plain", "label": "pass"},
        "half": {"score": 0.6, "style": "plain", "label": "pass"},
        "bad_style": {"score": 0.9, "style": "jargon", "label": "partial"},
        "unknown_label": {"score": 1, "style": "mixed", "label": "maybe"},
    }
    datasets = [
        {
            "name": name,
            "input": {},
            "ground_truth": truth,
            "last_output": {"output": 1, "date": "x"},
        }
        for name, truth in cases.items()
    ]
    response = client.post(
        "/workflow/run", json={"workflowName": "graded_eval", "input": {"datasets": datasets}}
    )
    output = response.json()["output"]
    assert [(c["datasetName"], c["verdict"]) for c in output["cases"]] == [
        ("all_good", "pass"),
        ("half", "partial"),
        ("bad_style", "partial"),
        ("unknown_label", "fail"),
    ]
    assert output["cases"][1]["evaluators"] == [
        {
            "name": "score",
            "verdict": "partial",
            "criticality": "required",
            "confidence": 0.9,
            "feedback": [{"issue": "short"}],
        },
        {"name": "style", "verdict": "pass", "criticality": "informational", "confidence": 1},
        {"name": "label", "verdict": "pass", "criticality": "required", "confidence": 1},
    ]
    assert output["summary"] == {
        "total": 4,
        "passed": 1,
        "partial": 2,
        "failed": 1,
        "acceptableRate": 0.75,
    }
    # Two cases at a time: the first task after getTraceDestinations schedules two activities.
    events = events_of(client, *run_of(response))
    first = [
        attributes(e)["workflowTaskCompletedEventId"]["low"]
        for e in events
        if e["eventTypeName"] == "ACTIVITY_TASK_SCHEDULED"
    ]
    assert first.count(first[1]) == 2
    assert len(first) == 1 + 3 * 4


# --- the catalog -------------------------------------------------------------------------------


def test_the_catalog_lists_eval_workflows_as_e01_shows_them(client: httpx.Client) -> None:
    entries = {e["name"]: e for e in client.get("/workflow/catalog").json()["workflows"]}
    recorded = {e["name"]: e for e in eval_recording("e-01")["response"]["workflows"]}
    assert entries["simple_eval"] == recorded["simple_eval"]
    assert entries["simple_eval"]["description"] == "Eval workflow for simple_eval"
    assert entries["simple_eval"]["path"].endswith("/simple/tests/evals/workflow.js")
    assert entries["blog_generator_eval"] == {
        **recorded["blog_generator_eval"],
        "path": "/app/dist/workflows/blog_generator/tests/evals/workflow.js",  # not nested here
    }
    assert list(entries["simple"]) == list(recorded["simple"])
    assert not entries["simple"]["path"].endswith("/tests/evals/workflow.js")
