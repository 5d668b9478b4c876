"""`output-reset watch` through the Output API engine, on a real Temporal server.

The scenarios of test_watch.py again, but the watcher is configured for the default engine
(`api: {url: ...}`) and talks HTTP to `OutputBridge`, a thin Output API whose every route is a
call on the real Temporal server. Resets therefore go by step NAME (CONTRACT §3.2: the named
step is kept, its LAST occurrence counts), and what a reset does to the histories, run ids,
pending activities and running runs is Temporal's own doing. Each test checks the invocations
log (which steps really ran), the new run's result, the requests the bridge received (exactly
one reset, or the fresh-run calls) and the state file. A few tests at the end check the bridge's
routes themselves against the contract's recorded answers.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from examples.temporal_worker.worker import BackgroundWorker
from examples.temporal_worker.workflows import STEPS
from runner.demo import DevServer, WorkerProcess
from runner.history import RunHistory
from runner.plan import plan
from runner.temporal import TemporalEngine
from tests.recordings import recording
from tests.temporal.output_bridge import BridgeReset, OutputBridge
from tests.temporal.support import (
    DIGEST_STEPS,
    REPO,
    Project,
    Watch,
    edit_and_wait,
    eventually,
    finish,
    new_id,
    pinned_run,
    reset_after,
    rules_for,
    wait_closed,
)

UNKNOWN_RUN = "00000000-0000-4000-8000-000000000000"
API_ENV = ("OUTPUT_API_URL", "OUTPUT_API_HOST_PORT", "OUTPUT_CATALOG_ID", "OUTPUT_API_AUTH_TOKEN")


@pytest.fixture(autouse=True)
def _no_api_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The watcher must use the config's url: the variables Output's CLI reads would win."""
    for name in API_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def bridge(temporal: DevServer, worker: BackgroundWorker) -> Iterator[OutputBridge]:
    """The Output API on the real server; its catalog is the worker's task queue."""
    with OutputBridge(temporal.address, catalog=worker.task_queue, workflows=STEPS) as running:
        yield running


@pytest.fixture
def http(bridge: OutputBridge) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=bridge.url, timeout=30.0) as client:
        yield client


def write_api_config(root: Path, url: str, workflow_id: str, rules: str) -> Path:
    """An output-reset.yaml for the default engine, the Output API at `url`."""
    path = root / "output-reset.yaml"
    path.write_text(
        f"api:\n  url: {url}\ndebounce_ms: 150\nworkflows:\n  - id: {workflow_id}\n"
        f"    rules:\n{rules}",
        encoding="utf-8",
    )
    return path


def the_one_reset(
    bridge: OutputBridge, workflow_id: str, base_run: str, step: str, decision: dict[str, Any]
) -> BridgeReset:
    """Exactly one reset POST, pinned to the base run, naming `step`, with the decision's
    reason; the bridge's §3.2 point is the planner's predicted event."""
    posts = bridge.requests("POST", "/reset")
    assert [(p.path, p.json) for p in posts] == [
        (
            f"/workflow/{workflow_id}/runs/{base_run}/reset",
            {"stepName": step, "reason": decision["reason"]},
        )
    ]
    assert len(bridge.resets) == 1
    sent = bridge.resets[0]
    assert (sent.step, sent.new_run_id) == (step, decision["newRunId"])
    assert sent.event_id == decision["resetEventId"]
    return sent


def marker_of(after: RunHistory, base_run: str) -> int:
    """The event of the reset marker that made `after` from `base_run` (Temporal's)."""
    marker = after.reset_marker_to(base_run)
    assert marker is not None, after.reset_markers
    return marker.event_id


def events_of(http: httpx.Client, workflow_id: str, run_id: str) -> list[dict[str, Any]]:
    """Every event of a run through the bridge's paged history route, with payloads."""
    path = f"/workflow/{workflow_id}/runs/{run_id}/history"
    events: list[dict[str, Any]] = []
    params = {"pageSize": "50", "includePayloads": "true"}
    while True:
        page = http.get(path, params=params).json()
        events += page["events"]
        if not page["nextPageToken"]:
            return events
        params["pageToken"] = page["nextPageToken"]


# -- the scenarios of test_watch.py -------------------------------------------------------------


def test_editing_the_third_prompt_resets_once_from_the_third_step(
    temporal: DevServer, engine: TemporalEngine, project: Project
) -> None:
    """The worker is its own process here, like in test_watch.py and the demo."""
    workflow_id = new_id("api-third")
    queue = new_id("queue")
    stop = threading.Event()
    worker = WorkerProcess(
        [
            sys.executable,
            "-m",
            "examples.temporal_worker",
            "--address",
            temporal.address,
            "--task-queue",
            queue,
            "--prompts",
            str(project.prompts),
            "--log",
            str(project.log),
            "--start",
            workflow_id,
            "--input",
            '{"topic": "watching"}',
        ],
        cwd=REPO,
        log_path=project.root / "worker.log",
    )
    try:
        base_run = worker.wait_line("started ", 30, stop).rpartition(" ")[2]
        base = wait_closed(engine, workflow_id, base_run)
        with OutputBridge(temporal.address, catalog=queue, workflows=STEPS) as bridge:
            config = write_api_config(
                project.root, bridge.url, workflow_id, rules_for(DIGEST_STEPS)
            )
            with Watch(config) as watch:
                pinned = watch.wait_for("pinned")
                assert (pinned["runId"], pinned["status"]) == (base_run, "completed")
                decision = edit_and_wait(
                    watch, project, {"draft_digest": "Draft the digest as three questions (v2)."}
                )
                finish(watch)
    finally:
        worker.stop()

    new_run = decision["newRunId"]
    assert len(watch.all("decision")) == 1
    assert (decision["action"], decision["anchor"]) == ("reset", "extract_points")
    assert decision["files"] == ["prompts/draft_digest.prompt"]
    assert decision["resetEventId"] == base.occurrences("draft_digest")[0].scheduled_by
    sent = the_one_reset(bridge, workflow_id, base_run, "extract_points", decision)
    assert project.steps_run(base_run) == DIGEST_STEPS
    assert project.steps_run(new_run) == ["draft_digest", "polish_digest"]
    steps_seen = [e["step"] for e in watch.all("step") if e["runId"] == new_run]
    assert steps_seen == ["draft_digest", "polish_digest"]
    after = engine.history(workflow_id, new_run, payloads=True)
    assert marker_of(after, base_run) == sent.event_id
    assert "draft_digest: Draft the digest as three questions (v2)." in str(after.result)
    assert pinned_run(project, workflow_id) == new_run
    assert engine.status(workflow_id).run_id == new_run
    assert engine.status(workflow_id, base_run).status == "completed"  # a closed run stays so


def test_two_edits_in_one_burst_make_one_reset_from_the_earliest_step(
    engine: TemporalEngine, worker: BackgroundWorker, bridge: OutputBridge, project: Project
) -> None:
    workflow_id = new_id("api-burst")
    base_run = worker.start_run("blog_digest", workflow_id, {})
    base = wait_closed(engine, workflow_id, base_run)
    config = write_api_config(project.root, bridge.url, workflow_id, rules_for(DIGEST_STEPS))
    with Watch(config) as watch:
        decision = edit_and_wait(
            watch,
            project,
            {"polish_digest": "Polish it twice (v2).", "draft_digest": "Draft it shorter (v2)."},
        )
        finish(watch)

    new_run = decision["newRunId"]
    assert len(watch.all("decision")) == 1
    assert decision["files"] == ["prompts/draft_digest.prompt", "prompts/polish_digest.prompt"]
    assert decision["resetEventId"] == base.occurrences("draft_digest")[0].scheduled_by
    the_one_reset(bridge, workflow_id, base_run, "extract_points", decision)
    assert project.steps_run(new_run) == ["draft_digest", "polish_digest"]
    result = str(engine.history(workflow_id, new_run, payloads=True).result)
    assert "draft_digest: Draft it shorter (v2)." in result
    assert "polish_digest: Polish it twice (v2)." in result
    assert pinned_run(project, workflow_id) == new_run


def test_an_edit_while_the_run_is_running_resets_it_and_temporal_kills_the_old_run(
    engine: TemporalEngine,
    worker: BackgroundWorker,
    bridge: OutputBridge,
    http: httpx.Client,
    project: Project,
) -> None:
    """A reset of a running run: Temporal itself terminates it (CONTRACT §2.1, Addendum)."""
    workflow_id = new_id("api-running")
    base_run = worker.start_run("blog_digest", workflow_id, {"delay_ms": {"extract_points": 2500}})
    config = write_api_config(project.root, bridge.url, workflow_id, rules_for(DIGEST_STEPS))
    with Watch(config) as watch:
        pinned = watch.wait_for("pinned")
        assert (pinned["runId"], pinned["status"]) == (base_run, "running")
        eventually(lambda: "extract_points" in project.steps_run(base_run), "step 2 to start")
        assert engine.status(workflow_id, base_run).running  # the test's premise
        decision = edit_and_wait(watch, project, {"extract_points": "List five points (v2)."})
        finish(watch)

    new_run = decision["newRunId"]
    assert len(watch.all("decision")) == 1
    assert (decision["action"], decision["anchor"]) == ("reset", "fetch_article")
    the_one_reset(bridge, workflow_id, base_run, "fetch_article", decision)
    assert bridge.requests("POST", "/terminate") == []  # nobody but Temporal terminated it
    assert engine.status(workflow_id, base_run).status == "terminated"
    terminated = events_of(http, workflow_id, base_run)[-1]
    assert terminated["eventTypeName"] == "WORKFLOW_EXECUTION_TERMINATED"
    attrs = terminated["workflowExecutionTerminatedEventAttributes"]
    assert (attrs["identity"], attrs["reason"]) == ("history-resetter", decision["reason"])
    assert project.steps_run(base_run) == ["fetch_article", "extract_points"]
    assert project.steps_run(new_run) == ["extract_points", "draft_digest", "polish_digest"]
    after = engine.history(workflow_id, new_run, payloads=True)
    assert "extract_points: List five points (v2)." in str(after.result)
    assert pinned_run(project, workflow_id) == new_run


def test_a_first_step_edit_while_running_terminates_and_starts_a_fresh_run(
    engine: TemporalEngine,
    worker: BackgroundWorker,
    bridge: OutputBridge,
    http: httpx.Client,
    project: Project,
) -> None:
    """test_watch.py's running case: with no getTraceDestinations to keep the input, the first
    step cannot be re-run by a reset, so output-reset terminates the run and starts a new one."""
    workflow_id = new_id("api-running-first")
    request = {"delay_ms": {"extract_points": 2500}}
    base_run = worker.start_run("blog_digest", workflow_id, request)
    config = write_api_config(project.root, bridge.url, workflow_id, rules_for(DIGEST_STEPS))
    with Watch(config) as watch:
        eventually(lambda: "extract_points" in project.steps_run(base_run), "step 2 to start")
        assert engine.status(workflow_id, base_run).running
        decision = edit_and_wait(watch, project, {"fetch_article": "Fetch it again (v2)."})
        finish(watch)

    new_run = decision["newRunId"]
    assert (decision["action"], decision["resetEventId"]) == ("fresh", None)
    assert bridge.requests("POST", "/reset") == []
    terminate = bridge.requests("POST", "/terminate")
    assert [(t.path, t.json) for t in terminate] == [
        (f"/workflow/{workflow_id}/runs/{base_run}/terminate", {"reason": decision["reason"]})
    ]
    assert len(bridge.requests("POST", "/workflow/start")) == 1
    terminated = events_of(http, workflow_id, base_run)[-1]
    attrs = terminated["workflowExecutionTerminatedEventAttributes"]
    assert (attrs["identity"], attrs["reason"]) == (bridge.identity, decision["reason"])
    assert project.steps_run(base_run) == ["fetch_article", "extract_points"]
    assert project.steps_run(new_run) == DIGEST_STEPS
    after = engine.history(workflow_id, new_run, payloads=True)
    assert (after.input, after.reset_markers) == (request, [])
    assert "fetch_article: Fetch it again (v2)." in str(after.result)
    assert pinned_run(project, workflow_id) == new_run


def test_an_edit_to_a_step_the_run_has_not_reached_needs_no_reset(
    engine: TemporalEngine, worker: BackgroundWorker, bridge: OutputBridge, project: Project
) -> None:
    workflow_id = new_id("api-ahead")
    base_run = worker.start_run("blog_digest", workflow_id, {"delay_ms": {"extract_points": 2000}})
    config = write_api_config(project.root, bridge.url, workflow_id, rules_for(DIGEST_STEPS))
    with Watch(config) as watch:
        eventually(lambda: "extract_points" in project.steps_run(base_run), "step 2 to start")
        project.edit("polish_digest", "Polish with the new rules (v2).")
        decision = watch.wait_for("decision")
        wait_closed(engine, workflow_id, base_run)
        finish(watch)

    assert decision["action"] == "none"
    assert "newRunId" not in decision
    assert decision["why"] == (
        "the run has not reached polish_digest yet (it is at extract_points); "
        "it will run polish_digest on the new code"
    )
    assert bridge.requests("POST") == []
    assert project.steps_run(base_run) == DIGEST_STEPS
    after = engine.history(workflow_id, base_run, payloads=True)
    assert "polish_digest: Polish with the new rules (v2)." in str(after.result)
    assert pinned_run(project, workflow_id) == base_run


def test_a_first_step_edit_starts_a_fresh_run_with_the_same_input(
    engine: TemporalEngine, worker: BackgroundWorker, bridge: OutputBridge, project: Project
) -> None:
    """getTraceDestinations is Output's; these Python workflows have no internal trace
    activity, so the planner takes the disableTrace path: GET input + POST start, for real."""
    workflow_id = new_id("api-first")
    base_run = worker.start_run("blog_digest", workflow_id, {"topic": "one"})
    wait_closed(engine, workflow_id, base_run)
    config = write_api_config(project.root, bridge.url, workflow_id, rules_for(DIGEST_STEPS))
    with Watch(config) as watch:
        decision = edit_and_wait(watch, project, {"fetch_article": "Fetch the first page (v2)."})
        finish(watch)

    new_run = decision["newRunId"]
    assert (decision["action"], decision["anchor"], decision["resetEventId"]) == (
        "fresh",
        None,
        None,
    )
    assert "no trace activity to reset after" in decision["why"]
    assert bridge.requests("POST", "/reset") == []
    assert bridge.requests("POST", "/terminate") == []  # the run had finished
    assert [r.path for r in bridge.requests("GET", "/input")] == [
        f"/workflow/{workflow_id}/runs/{base_run}/input"
    ]
    assert [r.json for r in bridge.requests("POST", "/workflow/start")] == [
        {"workflowName": "blog_digest", "workflowId": workflow_id, "input": {"topic": "one"}}
    ]
    assert project.steps_run(new_run) == DIGEST_STEPS
    after = engine.history(workflow_id, new_run, payloads=True)
    assert (after.input, after.reset_markers) == ({"topic": "one"}, [])
    assert str(after.result).startswith("topic: one\nfetch_article: Fetch the first page (v2).")
    assert engine.status(workflow_id, base_run).status == "completed"
    assert pinned_run(project, workflow_id) == new_run


def test_a_loop_step_edit_re_runs_every_iteration_but_not_the_step_before(
    engine: TemporalEngine, worker: BackgroundWorker, bridge: OutputBridge, project: Project
) -> None:
    workflow_id = new_id("api-loop")
    base_run = worker.start_run("loop_digest", workflow_id, {"rounds": 3})
    wait_closed(engine, workflow_id, base_run)
    rules = rules_for(["outline", "refine", "publish"])
    config = write_api_config(project.root, bridge.url, workflow_id, rules)
    with Watch(config) as watch:
        decision = edit_and_wait(watch, project, {"refine": "Refine for clarity (v2)."})
        finish(watch)

    new_run = decision["newRunId"]
    the_one_reset(bridge, workflow_id, base_run, "outline", decision)
    assert [(i.step, i.round) for i in project.invocations(new_run)] == [
        ("refine", 1),
        ("refine", 2),
        ("refine", 3),
        ("publish", None),
    ]
    result = str(engine.history(workflow_id, new_run, payloads=True).result)
    assert result.count("Refine for clarity (v2).") == 3


def test_a_reset_after_the_fast_sibling_re_dispatches_the_slow_one(
    engine: TemporalEngine, worker: BackgroundWorker, bridge: OutputBridge, project: Project
) -> None:
    """test_watch.py's parallel case. By name (CONTRACT §3.4) the reset point is the first
    workflow task after fetch_news finished, before fetch_blogs did: Temporal runs fetch_blogs
    again from its copied SCHEDULED event. The temporal engine, by event, resets to the task
    that scheduled merge_sources instead and keeps both (test_watch.py)."""
    workflow_id = new_id("api-parallel")
    request = {"delay_ms": {"fetch_blogs": 800}}
    base_run = worker.start_run("parallel_digest", workflow_id, request)
    base = wait_closed(engine, workflow_id, base_run)
    news, blogs, merge = base.activities
    assert news.completed_id is not None
    assert blogs.completed_id is not None
    rules = "      - files: prompts/merge_sources.prompt\n        reset_after: fetch_news\n"
    config = write_api_config(project.root, bridge.url, workflow_id, rules)
    with Watch(config) as watch:
        decision = edit_and_wait(watch, project, {"merge_sources": "Merge, newest first (v2)."})
        finish(watch)

    new_run = decision["newRunId"]
    assert decision["anchor"] == "fetch_news"
    sent = the_one_reset(bridge, workflow_id, base_run, "fetch_news", decision)
    # The planner knew: the point falls before fetch_blogs finished, so it is not kept.
    assert news.completed_id < sent.event_id < blogs.completed_id
    assert (decision["kept"], decision["rerun"]) == (
        ["fetch_news"],
        ["fetch_blogs", "merge_sources"],
    )
    by_event = plan([reset_after("fetch_news")], base, by_event=True)
    assert by_event.boundary == merge.scheduled_by > blogs.completed_id

    assert project.steps_run(new_run) == ["fetch_blogs", "merge_sources"]
    blogs_runs = [i for i in project.invocations() if i.step == "fetch_blogs"]
    assert [(i.run_id, i.attempt) for i in blogs_runs] == [(base_run, 1), (new_run, 1)]
    steps_seen = [e["step"] for e in watch.all("step") if e["runId"] == new_run]
    assert steps_seen == ["fetch_blogs", "merge_sources"]
    after = engine.history(workflow_id, new_run, payloads=True)
    marker = marker_of(after, base_run)
    redone = after.occurrences("fetch_blogs")
    assert len(redone) == 1
    assert redone[0].scheduled_id == blogs.scheduled_id < marker  # the copied SCHEDULED event
    assert redone[0].completed_id is not None
    assert redone[0].completed_id > marker  # a new STARTED/COMPLETED pair
    result = str(after.result)
    assert "merge_sources: Merge, newest first (v2)." in result
    assert "fetch_blogs: Fetch recent blog posts on the topic." in result


def test_rerunning_the_step_after_parallel_siblings_anchors_on_the_last_to_finish(
    engine: TemporalEngine, worker: BackgroundWorker, bridge: OutputBridge, project: Project
) -> None:
    """`rerun: merge_sources` by name anchors on fetch_blogs (finished last), so both siblings
    are kept: the way to keep them through the Output API (README, CONTRACT §3.4)."""
    workflow_id = new_id("api-parallel-rerun")
    base_run = worker.start_run("parallel_digest", workflow_id, {"delay_ms": {"fetch_blogs": 800}})
    wait_closed(engine, workflow_id, base_run)
    rules = rules_for(["merge_sources"])
    config = write_api_config(project.root, bridge.url, workflow_id, rules)
    with Watch(config) as watch:
        decision = edit_and_wait(watch, project, {"merge_sources": "Merge by date (v2)."})
        finish(watch)

    new_run = decision["newRunId"]
    the_one_reset(bridge, workflow_id, base_run, "fetch_blogs", decision)
    assert decision["why"] == (
        "fetch_blogs finished last before merge_sources first ran (keeps fetch_news too)"
    )
    assert project.steps_run(new_run) == ["merge_sources"]
    assert [i.step for i in project.invocations()].count("fetch_blogs") == 1
    assert "merge_sources: Merge by date (v2)." in str(
        engine.history(workflow_id, new_run, payloads=True).result
    )


# -- the bridge's routes against the contract -------------------------------------------------


def recorded_body(prefix: str, **replace: str) -> Any:
    """A recorded answer's body, with the recording's ids replaced by ours."""
    text = json.dumps(recording(prefix)["body"])
    for old, new in replace.items():
        text = text.replace(old, new)
    return json.loads(text)


def test_the_reset_route_answers_like_output_s(
    engine: TemporalEngine,
    worker: BackgroundWorker,
    bridge: OutputBridge,
    http: httpx.Client,
    project: Project,
) -> None:
    workflow_id = new_id("api-reset")
    base_run = worker.start_run("blog_digest", workflow_id, {})
    base = wait_closed(engine, workflow_id, base_run)
    path = f"/workflow/{workflow_id}/runs/{base_run}/reset"

    def post(body: Any, route: str = path) -> tuple[int, Any]:
        answer = http.post(route, json=body) if body is not None else http.post(route)
        return answer.status_code, answer.json()

    for step in ("noSuchStep", "blog_digest#draft_digest"):  # the API adds the `#` itself
        assert post({"stepName": step}) == (
            404,
            {
                "error": "StepNotFoundError",
                "message": f'Step "{step}" was not found in the workflow history.',
            },
        )
    bad_rid = f"/workflow/{workflow_id}/runs/not-a-uuid/reset"
    assert post({"stepName": "draft_digest"}, bad_rid) == (400, recorded_body("2-15"))
    assert post({"reason": "no step given"}) == (400, recorded_body("2-19"))
    assert post(None) == (400, recorded_body("2-20"))
    unknown = f"/workflow/{workflow_id}/runs/{UNKNOWN_RUN}/reset"
    assert post({"stepName": "draft_digest"}, unknown) == (
        500,
        recorded_body("2-16", **{"rec-three-1": workflow_id}),
    )
    status, body = post({"stepName": "draft_digest"}, f"/workflow/nope-1/runs/{UNKNOWN_RUN}/reset")
    assert (status, body["error"]) == (500, "Error")  # Addendum: not a 404 on this route
    assert body["message"].startswith("5 NOT_FOUND: ")
    assert bridge.resets == []

    status, body = post({"stepName": "draft_digest"})
    assert status == 200
    assert list(body) == ["workflowId", "runId"]
    assert body["workflowId"] == workflow_id
    new_run = body["runId"]
    assert new_run != base_run
    after = wait_closed(engine, workflow_id, new_run)
    draft = base.occurrences("draft_digest")[-1]
    assert draft.completed_id is not None
    assert marker_of(after, base_run) == base.first_task_completed_after(draft.completed_id)
    assert after.reset_markers[-1].reason == 'Reset to re-run from after step "draft_digest"'
    assert project.steps_run(new_run) == ["polish_digest"]
    assert engine.status(workflow_id, base_run).status == "completed"
    assert engine.status(workflow_id).run_id == new_run


def test_an_unfinished_step_is_a_409_and_terminate_answers_like_output_s(
    engine: TemporalEngine,
    worker: BackgroundWorker,
    bridge: OutputBridge,
    http: httpx.Client,
    project: Project,
) -> None:
    workflow_id = new_id("api-409")
    base_run = worker.start_run("blog_digest", workflow_id, {"delay_ms": {"extract_points": 3000}})
    eventually(lambda: "extract_points" in project.steps_run(base_run), "step 2 to start")
    run = f"/workflow/{workflow_id}/runs/{base_run}"
    answer = http.post(f"{run}/reset", json={"stepName": "extract_points"})
    assert (answer.status_code, answer.json()) == (
        409,
        {
            "error": "StepNotCompletedError",
            "message": 'Step "extract_points" has not completed. Cannot reset to an '
            "incomplete step.",
        },
    )
    status = http.get(f"{run}/status").json()
    assert (status["status"], status["completedAt"]) == ("running", "")
    assert isinstance(status["startedAt"], int)

    answer = http.post(f"{run}/terminate", json={"reason": "enough"})
    assert (answer.status_code, answer.json()) == (
        200,
        {"terminated": True, "workflowId": workflow_id, "runId": base_run},
    )
    answer = http.post(f"{run}/terminate", json={"reason": "again"})
    assert (answer.status_code, answer.json()) == (
        404,
        {
            "error": "WorkflowNotFoundError",
            "message": "workflow execution already completed",
            "workflowId": workflow_id,
        },
    )
    status = http.get(f"{run}/status").json()
    assert status["status"] == "terminated"
    assert isinstance(status["completedAt"], int)
    assert status["completedAt"] >= status["startedAt"]
    assert bridge.resets == []


def test_status_runs_input_and_history_pages_have_output_s_shapes(
    engine: TemporalEngine,
    worker: BackgroundWorker,
    bridge: OutputBridge,
    http: httpx.Client,
) -> None:
    workflow_id = new_id("api-shapes")
    base_run = worker.start_run("loop_digest", workflow_id, {"rounds": 2})
    run = f"/workflow/{workflow_id}/runs/{base_run}"
    # A long poll from the start: pages until the terminal page, whose token is null.
    lp_events: list[dict[str, Any]] = []
    params = {"pageSize": "50", "longPollTimeoutMs": "5000"}
    for _ in range(100):
        page = http.get(f"{run}/history", params=params).json()
        assert page["workflow"]["runId"] == base_run  # metadata on every long-poll page
        lp_events += page["events"]
        if page["nextPageToken"] is None:
            break
        params["pageToken"] = page["nextPageToken"]
    assert lp_events[-1]["eventTypeName"] == "WORKFLOW_EXECUTION_COMPLETED"
    reference = wait_closed(engine, workflow_id, base_run)

    status = http.get(f"{run}/status").json()
    assert list(status) == ["workflowId", "runId", "status", "startedAt", "completedAt"]
    assert (status["runId"], status["status"]) == (base_run, "completed")
    assert status == http.get(f"/workflow/{workflow_id}/status").json()
    missing = http.get(f"/workflow/{workflow_id}/runs/{UNKNOWN_RUN}/status")
    assert (missing.status_code, missing.json()["error"]) == (404, "WorkflowNotFoundError")
    catalog = http.get("/workflow/main/status")  # no catalog workflow here: 404, as allowed
    assert catalog.status_code == 404

    # §2.3 ordering: open runs first, then closed ones by close time, newest first; so an
    # open run started before a closed one is listed first (not a start-time sort).
    open_id, closed_id = new_id("api-open"), new_id("api-closed")
    open_run = worker.start_run("loop_digest", open_id, {"delay_ms": {"outline": 30000}})
    closed_run = worker.start_run("loop_digest", closed_id, {"rounds": 1})
    wait_closed(engine, closed_id, closed_run)
    wanted = {workflow_id: "completed", open_id: "running", closed_id: "completed"}

    def listed() -> list[dict[str, Any]] | None:
        query = {"workflowType": "loop_digest", "limit": "1000"}
        body = http.get("/workflow/runs", params=query).json()
        assert body["count"] == len(body["runs"])
        rows = [r for r in body["runs"] if r["workflowId"] in wanted]
        settled = {r["workflowId"]: r["status"] for r in rows} == wanted
        return rows if settled and len(rows) == 3 else None

    rows = eventually(listed, "visibility to list the three runs")
    assert [r["runId"] for r in rows] == [open_run, closed_run, base_run]
    assert rows[2] == {
        "workflowId": workflow_id,
        "runId": base_run,
        "workflowType": "loop_digest",
        "status": "completed",
        "startedAt": rows[2]["startedAt"],
        "completedAt": rows[2]["completedAt"],
    }
    assert rows[2]["startedAt"].endswith("Z")
    assert rows[2]["startedAt"] < rows[2]["completedAt"] < rows[1]["startedAt"]
    assert rows[0]["completedAt"] is None
    one = http.get("/workflow/runs", params={"workflowType": "loop_digest", "limit": "1"}).json()
    assert one["count"] == 1
    assert http.post(f"/workflow/{open_id}/runs/{open_run}/terminate").status_code == 200

    assert http.get(f"{run}/input").json() == {
        "workflowId": workflow_id,
        "runId": base_run,
        "input": {"rounds": 2},
    }

    # Small pages: metadata on the first only, a null token after the last.
    paged: list[dict[str, Any]] = []
    params = {"pageSize": "5"}
    pages = 0
    while True:
        page = http.get(f"{run}/history", params=params).json()
        assert (page["workflow"] is None) == (pages > 0)
        assert page["runId"] == base_run
        paged += page["events"]
        pages += 1
        if page["nextPageToken"] is None:
            break
        params["pageToken"] = page["nextPageToken"]
    assert pages > 2
    assert paged == lp_events
    assert [int(e["eventId"]) for e in paged] == list(range(1, len(paged) + 1))
    completed = [e for e in paged if e["eventTypeName"] == "ACTIVITY_TASK_COMPLETED"]
    assert completed  # and without their payloads, which were not asked for
    assert all("result" not in e["activityTaskCompletedEventAttributes"] for e in completed)
    assert reference.last_event_id == len(paged)

    errors = {
        "pageSize=51": ("ValidationError", 400),
        "includePayloads=yes": ("ValidationError", 400),
        "pageToken=AAAA": ("InvalidPageTokenError", 400),
    }
    for query, (error, code) in errors.items():
        answer = http.get(f"{run}/history?{query}")
        assert (answer.status_code, answer.json()["error"]) == (code, error), query
    answer = http.get(f"/workflow/{workflow_id}/runs/{base_run}/nope")
    assert (answer.status_code, answer.text) == (404, "Not Found")
