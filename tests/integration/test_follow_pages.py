"""Following a reset run: a step is 'run' only if it ran after the reset marker, wherever the
history's page boundaries fall (the marker of a long kept prefix arrives on a later page)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from runner.config import ApiConfig
from runner.engine import OnSteps
from runner.follow import Follower
from runner.history import RunHistory
from runner.output_api import OutputApi, resolve_settings
from runner.reports import Report, RunFinished, StepDone
from tests.engines import RecordingEngine
from tests.fakeapi import FakeOutputApi, Step
from tests.fakeapi.program import Loop, Program

PROGRAM: Program = [
    Step("fetchArticle"),
    Step("extractClaims"),
    Loop(Step("checkClaim"), 12),
    Step("finalStep"),
]


@pytest.fixture(scope="module")
def reset_run() -> Iterator[tuple[str, str, list[dict[str, Any]]]]:
    """A run of 15 steps (a loop of twelve: over 100 events), reset so that only finalStep runs
    again; yields its workflow id, run id and whole history."""
    with FakeOutputApi() as fake:
        fake.define_workflow("claims", PROGRAM)
        first = fake.start_run("claims", "claims-1", {})
        fake.wait_closed("claims-1", first, timeout=20)
        api = OutputApi(resolve_settings(ApiConfig(url=fake.url), {}))
        try:
            new_run = api.reset("claims-1", first, step="checkClaim", event_id=None, reason="r")
        finally:
            api.close()
        fake.wait_closed("claims-1", new_run, timeout=20)
        yield "claims-1", new_run, fake.history("claims-1", new_run)


class Paged(RecordingEngine):
    """Serves one run's events in pages that end where the test says."""

    def __init__(self, events: list[dict[str, Any]], ends: list[int]) -> None:
        super().__init__()
        self.pages = [events[a:b] for a, b in zip([0, *ends], [*ends, len(events)], strict=True)]

    def follow(
        self,
        history: RunHistory,
        *,
        on_steps: OnSteps,
        stop: threading.Event,
        payloads: bool = False,
    ) -> None:
        for page in self.pages:
            done = history.feed(page)
            if done:
                on_steps(done)


def marker_index(events: list[dict[str, Any]], run_id: str) -> int:
    for i, event in enumerate(events):
        attributes = event.get("workflowTaskFailedEventAttributes") or {}
        if attributes.get("cause") == 20 and attributes.get("newRunId") == run_id:
            return i
    raise AssertionError("no reset marker")


def shown(engine: RecordingEngine, workflow_id: str, run_id: str) -> list[str]:
    reports: list[Report] = []
    follower = Follower(engine, workflow_id, run_id, reports.append)
    follower.start()
    follower.join(10)
    assert any(isinstance(r, RunFinished) for r in reports)
    return [r.activity.step for r in reports if isinstance(r, StepDone)]


def test_the_history_is_long_and_the_marker_is_past_the_first_page(
    reset_run: tuple[str, str, list[dict[str, Any]]],
) -> None:
    _, run_id, events = reset_run
    assert len(events) > 100
    assert marker_index(events, run_id) > 50


@pytest.mark.parametrize(
    "where",
    ["marker on page 1", "marker on page 2", "page ends just before it", "page ends with it"],
)
def test_only_what_ran_after_the_marker_is_reported(
    reset_run: tuple[str, str, list[dict[str, Any]]], where: str
) -> None:
    workflow_id, run_id, events = reset_run
    m = marker_index(events, run_id)
    ends = {
        "marker on page 1": [m + 5],
        "marker on page 2": [40, m + 3],
        "page ends just before it": [m],
        "page ends with it": [m + 1],
    }[where]
    assert shown(Paged(events, ends), workflow_id, run_id) == ["finalStep"]


def test_through_the_api_double_with_its_real_pages(
    reset_run: tuple[str, str, list[dict[str, Any]]],
) -> None:
    with FakeOutputApi(long_poll_cap_ms=500) as fake:
        fake.define_workflow("claims", PROGRAM)
        first = fake.start_run("claims", "claims-2", {})
        fake.wait_closed("claims-2", first, timeout=20)
        api = OutputApi(resolve_settings(ApiConfig(url=fake.url), {}))
        try:
            new_run = api.reset("claims-2", first, step="checkClaim", event_id=None, reason="r")
            assert shown_api(api, "claims-2", new_run) == ["finalStep"]
        finally:
            api.close()


def shown_api(api: OutputApi, workflow_id: str, run_id: str) -> list[str]:
    reports: list[Report] = []
    follower = Follower(api, workflow_id, run_id, reports.append)
    follower.start()
    follower.join(20)
    return [r.activity.step for r in reports if isinstance(r, StepDone)]
