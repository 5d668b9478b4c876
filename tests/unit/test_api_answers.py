"""Answers that do not fit the contract (docs/output-api.md §3) become one BadAnswer naming the
route; paging that never ends is cut short. The API is an httpx.MockTransport: a canned
malformed body is the point."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runner import output_api
from runner.config import ApiConfig
from runner.errors import ApiError, BadAnswer
from runner.history import RunHistory
from runner.output_api import OutputApi, resolve_settings

RID = "01a2120c-2695-70a1-83f6-9d9ec4cacd75"
HISTORY = f"GET /workflow/wf-1/runs/{RID}/history"
Handler = Callable[[httpx.Request], httpx.Response]


class Looping(Exception):
    """The client kept asking: without a bound, the test would hang."""


def api_with(handler: Handler) -> OutputApi:
    settings_ = resolve_settings(ApiConfig(), {"OUTPUT_API_URL": "http://api.test"})
    return OutputApi(settings_, long_poll_ms=10, transport=httpx.MockTransport(handler))


def always(body: Any, content_type: str = "application/json", limit: int = 100) -> Handler:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    calls = 0

    def answer(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls > limit:
            raise Looping(f"{calls} requests")
        return httpx.Response(200, content=raw, headers={"content-type": content_type})

    return answer


def bad_answer(call: Callable[[OutputApi], object], handler: Handler) -> BadAnswer:
    api = api_with(handler)
    try:
        with pytest.raises(BadAnswer) as caught:
            call(api)
    finally:
        api.close()
    return caught.value


def read_history(api: OutputApi) -> object:
    return api.history("wf-1", RID)


def follow(api: OutputApi) -> object:
    history = RunHistory(workflow_id="wf-1", run_id=RID)
    api.follow(history, on_steps=lambda done: None, stop=threading.Event())
    return history


def status(api: OutputApi) -> object:
    return api.status("wf-1")


def runs(api: OutputApi) -> object:
    return api.runs_of_type("probe_three")


# -- 5. one BadAnswer naming the route ---------------------------------------------------------

STARTED = {"eventId": "1", "eventTypeName": "WORKFLOW_EXECUTION_STARTED"}


@pytest.mark.parametrize(
    ("call", "body", "message"),
    [
        (
            read_history,
            {"events": [{"eventId": "abc", "eventTypeName": "ACTIVITY_TASK_SCHEDULED"}]},
            f"{HISTORY} with a history that does not fit: a history event has a value that is "
            "not a whole number ('abc')",
        ),
        (
            read_history,
            {"events": [{"eventId": "9" * 5000}]},
            f"{HISTORY} with a history that does not fit: a history event has a number too big "
            f"for 64 bits ('{'9' * 36}...)",
        ),
        (
            read_history,
            {"events": {"0": STARTED}},
            f'{HISTORY} with "events" as an object, not a list',
        ),
        (read_history, {"events": None}, f'{HISTORY} with "events" as null, not a list'),
        (
            read_history,
            {"events": [STARTED], "nextPageToken": 7},
            f'{HISTORY} with "nextPageToken" as a number, not a string',
        ),
        (follow, {"events": "[]"}, f'{HISTORY} with "events" as a string, not a list'),
        (runs, {"runs": {"a": 1}}, 'GET /workflow/runs with "runs" as an object, not a list'),
        (runs, {"runs": [[RID]]}, 'GET /workflow/runs with "runs[0]" as a list, not an object'),
        (
            runs,
            {"runs": [{"workflowId": "wf-1", "runId": 5}]},
            'GET /workflow/runs with "runs[0].runId" as a number, not a string',
        ),
        (runs, {"runs": [{"workflowId": "wf-1"}]}, 'GET /workflow/runs with no "runs[0].runId"'),
        (
            status,
            {"workflowId": "wf-1", "runId": True, "status": "running"},
            'GET /workflow/wf-1/status with "runId" as a boolean, not a string',
        ),
        (
            status,
            {"workflowId": "wf-1", "runId": RID, "status": ["running"]},
            'GET /workflow/wf-1/status with "status" as a list, not a string',
        ),
        (
            status,
            {"workflowId": "wf-1", "status": "running"},
            'GET /workflow/wf-1/status with no "runId"',
        ),
        (status, [RID], "GET /workflow/wf-1/status with JSON that is not an object (a list)"),
    ],
)
def test_an_answer_that_does_not_fit_is_one_bad_answer_naming_the_route(
    call: Callable[[OutputApi], object], body: Any, message: str
) -> None:
    assert str(bad_answer(call, always(body))) == f"the Output API answered {message}"


@pytest.mark.parametrize(
    ("raw", "content_type", "shown"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "application/json", "[" * 117 + "..."),
        (b'{"runId": "\xff\xfe"}', "application/json", '{"runId": "\ufffd\ufffd"}'),
        (
            b'{"runId": 1' + b"0" * 5000 + b"}",
            "application/json",
            '{"runId": 1' + "0" * 106 + "...",
        ),
        (b"<html>\n<title>Sign in</title>", "application/json; charset=utf-8", "<html>"),
        (b"", "application/json", ""),
    ],
)
def test_a_body_that_is_not_json_is_a_retryable_bad_answer(
    raw: bytes, content_type: str, shown: str
) -> None:
    caught = bad_answer(status, always(raw, content_type))
    assert str(caught) == (
        "the Output API answered GET /workflow/wf-1/status with something that is not JSON"
        + (f": {shown}" if shown else "")
    )
    assert caught.retryable


def test_huge_and_odd_numbers_are_not_times() -> None:
    api = api_with(
        always({"workflowId": "wf-1", "runId": RID, "status": "completed", "startedAt": 1e300})
    )
    try:
        found = api.status("wf-1")
    finally:
        api.close()
    assert (found.run_id, found.status, found.started_at) == (RID, "completed", None)


# -- paging stops ------------------------------------------------------------------------------


def test_a_page_token_that_never_changes_stops_the_history() -> None:
    body = {"events": [STARTED], "nextPageToken": "same"}
    assert str(bad_answer(read_history, always(body))) == (
        f"the Output API answered {HISTORY} with the nextPageToken of an earlier page; "
        "stopped reading after 2 pages"
    )


def pages_with_fresh_tokens(events: Callable[[int], list[Any]]) -> Handler:
    calls = 0

    def answer(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls > 100:
            raise Looping(f"{calls} requests")
        return httpx.Response(200, json={"events": events(calls), "nextPageToken": f"t{calls}"})

    return answer


@pytest.fixture
def few_pages() -> Iterator[None]:
    with mock.patch.object(output_api, "MAX_PAGES", 20):
        yield


@pytest.mark.usefixtures("few_pages")
def test_a_history_that_never_ends_stops_after_max_pages() -> None:
    def event(n: int) -> list[Any]:
        return [{"eventId": str(n), "eventTypeName": "WORKFLOW_TASK_COMPLETED"}]

    assert str(bad_answer(read_history, pages_with_fresh_tokens(event))) == (
        f"the Output API answered {HISTORY} with more than 20 pages; stopped reading"
    )


@pytest.mark.usefixtures("few_pages")
def test_a_long_poll_that_never_brings_an_event_stops() -> None:
    # The same token back on an empty page is normal for a long poll (§3.5); forever is not.
    body = {"events": [], "nextPageToken": "same"}
    assert str(bad_answer(follow, always(body))) == (
        f"the Output API answered {HISTORY} with 20 long-poll pages in a row without a new "
        "event; stopped following"
    )


@pytest.mark.usefixtures("few_pages")
def test_a_long_poll_may_repeat_its_token_while_the_run_is_quiet() -> None:
    done = {"eventId": "2", "eventTypeName": "WORKFLOW_EXECUTION_COMPLETED"}
    pages = [[STARTED]] + [[]] * 15 + [[done]]
    api = api_with(
        lambda request: httpx.Response(200, json={"events": pages.pop(0), "nextPageToken": "t"})
    )
    try:
        history = follow(api)
    finally:
        api.close()
    assert isinstance(history, RunHistory)
    assert (history.status, pages) == ("completed", [])


# -- no answer whatsoever gets out as anything but an ApiError ----------------------------------

KEYS = st.sampled_from(
    ["runId", "workflowId", "status", "startedAt", "runs", "events", "nextPageToken", "workflow"]
) | st.sampled_from(["input", "source", "data", "localPath", "eventId", "eventTypeName", "x"])
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=8)
    | st.sampled_from([RID, "running", "completed", "", "2026-11-25T09:31:55.925Z", "9" * 30])
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=12,
)
EVENT_NAMES = st.sampled_from(
    [
        "WORKFLOW_EXECUTION_STARTED",
        "WORKFLOW_EXECUTION_COMPLETED",
        "WORKFLOW_TASK_COMPLETED",
        "WORKFLOW_TASK_FAILED",
        "ACTIVITY_TASK_SCHEDULED",
        "ACTIVITY_TASK_STARTED",
        "ACTIVITY_TASK_COMPLETED",
        "START_CHILD_WORKFLOW_EXECUTION_INITIATED",
        "CHILD_WORKFLOW_EXECUTION_STARTED",
        "CHILD_WORKFLOW_EXECUTION_COMPLETED",
    ]
)
EVENT = st.fixed_dictionaries(
    {"eventId": st.integers(1, 9).map(str) | SCALARS, "eventTypeName": EVENT_NAMES | SCALARS},
    optional={
        "eventType": st.integers(0, 40) | SCALARS,
        "eventTime": SCALARS,
        "activityTaskScheduledEventAttributes": st.dictionaries(KEYS, JSON, max_size=3),
        "workflowTaskFailedEventAttributes": st.fixed_dictionaries(
            {"cause": st.just(20) | SCALARS, "failure": JSON, "newRunId": SCALARS}
        ),
        "workflowExecutionStartedEventAttributes": st.dictionaries(KEYS, JSON, max_size=3),
    },
)
# A body shaped like one of the routes' answers, with any of its parts wrong.
SHAPED = st.fixed_dictionaries(
    {},
    optional={
        "workflowId": st.just("wf-1") | SCALARS,
        "runId": st.just(RID) | SCALARS,
        "status": st.sampled_from(["running", "completed"]) | SCALARS,
        "startedAt": SCALARS,
        "events": st.lists(EVENT, max_size=4) | JSON,
        "nextPageToken": st.none() | st.sampled_from(["t1", "t2"]) | SCALARS,
        "workflow": JSON,
        "runs": st.lists(st.dictionaries(KEYS, JSON, max_size=5) | JSON, max_size=3) | JSON,
        "input": JSON,
        "source": st.sampled_from(["remote", "local"]) | SCALARS,
        "localPath": st.sampled_from(["/dev/zero", "/nonexistent", "."]) | SCALARS,
    },
)
BODIES = (
    (SHAPED | JSON).map(lambda value: json.dumps(value).encode())
    | st.sampled_from(
        [
            b"[" * 50_000,
            b'{"runId": "\xff"}',
            b"<html>proxy</html>",
            b'{"runs": [' + b"1" * 5000 + b"]}",
            b'{"startedAt": 1e999, "runId": "r", "workflowId": "w"}',
            b"",
        ]
    )
    | st.binary(max_size=20)
)
ANSWERS = st.tuples(
    st.sampled_from([200, 200, 200, 201, 404, 500, 502]),
    BODIES,
    st.sampled_from(["application/json", "text/html", "application/json; charset=bogus"]),
)
READS: dict[str, Callable[[OutputApi], object]] = {
    "status": lambda api: api.status("wf-1", RID),
    "runs_of_type": runs,
    "history": read_history,
    "follow": follow,
    "run_input": lambda api: api.run_input("wf-1", RID),
    "worker_status": lambda api: api.worker_status(),
    "find_reset": lambda api: api.find_reset("wf-1", RID, "or-abc"),
    "trace": lambda api: api.trace("wf-1", RID),
}


@pytest.mark.parametrize("method", sorted(READS))
@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_no_answer_escapes_as_anything_but_an_api_error(method: str, data: st.DataObject) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        status_, body, content_type = data.draw(ANSWERS)
        return httpx.Response(status_, content=body, headers={"content-type": content_type})

    api = api_with(answer)
    try:
        with mock.patch.object(output_api, "MAX_PAGES", 5):
            READS[method](api)
    except ApiError:
        pass
    finally:
        api.close()
