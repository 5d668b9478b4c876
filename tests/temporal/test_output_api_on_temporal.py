"""`output-reset watch` through the Output API engine only, on a real Temporal server.

The watcher is configured for the default engine (`api: {url: ...}`) and talks HTTP to
`OutputBridge`, a thin Output API whose every route is a call on the real Temporal server.
test_watch.py runs the scenarios both engines share; these two exist for this engine alone:
resetting a running run by step NAME (Temporal itself kills the old run) and anchoring
`rerun` on the last of parallel siblings to finish. The tests at the end check the bridge's
routes themselves against the contract's recorded answers.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

from runner.demo.worker.worker import BackgroundWorker
from runner.temporal import TemporalEngine
from tests.recordings import eval_recording, recording
from tests.temporal.output_bridge import OutputBridge
from tests.temporal.support import (
    DIGEST_STEPS,
    Project,
    Watch,
    edit_and_wait,
    events_of,
    eventually,
    finish,
    marker_of,
    new_id,
    pinned_run,
    rules_for,
    the_one_reset,
    wait_closed,
    write_api_config,
)

UNKNOWN_RUN = "00000000-0000-4000-8000-000000000000"


# -- scenarios of the default engine only (test_watch.py has those of both) --------------------


def test_an_edit_while_the_run_is_running_resets_it_and_temporal_kills_the_old_run(
    engine: TemporalEngine,
    worker: BackgroundWorker,
    bridge: OutputBridge,
    http: httpx.Client,
    project: Project,
) -> None:
    """A reset of a running run: Temporal itself terminates it (docs/output-api.md §5.4)."""
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


def test_rerunning_the_step_after_parallel_siblings_anchors_on_the_last_to_finish(
    engine: TemporalEngine, worker: BackgroundWorker, bridge: OutputBridge, project: Project
) -> None:
    """`rerun: merge_sources` by name anchors on fetch_blogs (finished last), so both siblings
    are kept: the way to keep them through the Output API (README, docs/output-api.md §5.8)."""
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


def test_the_run_route_answers_like_output_s(
    engine: TemporalEngine,
    worker: BackgroundWorker,
    bridge: OutputBridge,
    http: httpx.Client,
    project: Project,
) -> None:
    """POST /workflow/run (e-02, e-10, e-12, e-14): the v2 result once the run closed, a 200
    for a failed run too, 424 for a name the worker does not register, 408 past `timeout`."""
    done = http.post("/workflow/run", json={"workflowName": "blog_digest", "input": {"topic": "t"}})
    recorded = eval_recording("e-02")["response"]
    assert done.status_code == 200
    body = done.json()
    assert list(body) == list(recorded)
    assert re.fullmatch(r"[A-Za-z0-9_-]{21}", body["workflowId"])
    history = engine.history(body["workflowId"], body["runId"], payloads=True)
    expected = {"v": "2", "status": "completed", "input": {"topic": "t"}, "error": None}
    assert {k: body[k] for k in expected} == expected
    assert (body["output"], body["trace"]) == (history.result, None)  # no trace files here
    assert project.steps_run(body["runId"]) == DIGEST_STEPS

    refused = http.post("/workflow/run", json={"workflowName": "blog_digest_eval", "input": {}})
    assert refused.status_code == 200
    assert (refused.json()["status"], refused.json()["output"]) == ("failed", None)
    assert refused.json()["error"] == {
        "message": 'Workflow "blog_digest_eval" input validation failed: ✖ Invalid input: '
        "expected array, received undefined\n  → at datasets",
        "name": "ValidationError",
    }

    unknown = http.post("/workflow/run", json={"workflowName": "nonexistent_eval", "input": {}})
    assert (unknown.status_code, unknown.json()) == (
        424,
        {
            "error": "UnsupportedWorkflowError",
            "message": f"Workflow nonexistent_eval is not supported in the task queue "
            f"{bridge.catalog}.",
        },
    )
    too_short = http.post("/workflow/run", json={"workflowName": "blog_digest", "timeout": 100})
    assert too_short.status_code == 400
    assert too_short.json()["issues"][0]["path"] == ["timeout"]

    slow = {"topic": "slow", "delay_ms": {"fetch_article": 1500}}
    late = http.post(
        "/workflow/run", json={"workflowName": "blog_digest", "input": slow, "timeout": 250}
    )
    assert late.status_code == 408
    workflow_id = late.json()["workflowId"]
    assert late.json() == {**eval_recording("e-14")["response"], "workflowId": workflow_id}
    left = engine.status(workflow_id)
    assert wait_closed(engine, workflow_id, left.run_id).status == "completed"  # it kept going
