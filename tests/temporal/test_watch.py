"""`output-reset watch` as a subprocess on a real Temporal server, through either engine.

Each scenario runs twice. Through the default engine (`"output-api"`) the watcher talks HTTP to
`OutputBridge`, a thin Output API whose every route is a call on the real server, so resets go
by step NAME (output-api.md §5.2: the named step is kept, its LAST occurrence counts). Through the
Temporal engine (`"temporal"`) the watcher resets to a workflow task event itself. What a reset
does to histories, run ids, pending activities and running runs is Temporal's own doing either
way; where the two engines really differ, the expectation is data below, keyed by engine.

Each test edits prompt files that the example worker's steps read at call time, waits (bounded)
for the watcher's JSON events, and checks the invocations log (which steps really ran), the new
run's history and result, what reached Temporal (one reset made from the pinned run, or a fresh
run), the requests the bridge received and the state file (the new pin).
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from runner.demo.processes import DevServer, WorkerProcess
from runner.demo.worker.worker import BackgroundWorker
from runner.history import RunHistory
from runner.plan import plan
from runner.temporal import TemporalEngine
from tests.temporal.output_bridge import OutputBridge
from tests.temporal.support import (
    DIGEST_STEPS,
    REPO,
    Project,
    Watch,
    edit_and_wait,
    events_of,
    eventually,
    finish,
    marker_of,
    new_id,
    pinned_run,
    reset_after,
    rules_for,
    the_one_reset,
    wait_closed,
    write_api_config,
    write_config,
)

API, TEMPORAL = "output-api", "temporal"

# Where the engines differ. A first-step edit, in a run with no trace activity to reset after
# (these Python workflows have none, as with Output's tracing disabled): the API resets after a
# named step, so the run starts afresh with the same input (GET input, then POST start, after
# terminating a running run); Temporal resets to the first workflow task, keeping the input.
FIRST_STEP = {
    API: ("fresh", "no trace activity to reset after"),
    TEMPORAL: ("reset", "the workflow input and everything else that finished before it is kept"),
}
# A reset after the fast one of two parallel siblings (output-api.md §5.8): by name the reset point
# is the first workflow task after fetch_news finished, before fetch_blogs did, so Temporal
# runs fetch_blogs again from its copied SCHEDULED event; by event the point is the task that
# scheduled merge_sources, which keeps both. (kept, rerun) as the decision lists them.
AFTER_FAST_SIBLING = {
    API: (["fetch_news"], ["fetch_blogs", "merge_sources"]),
    TEMPORAL: (["fetch_news", "fetch_blogs"], ["merge_sources"]),
}
# How long step 2 takes in the runs edited while they run: the watcher starts, pins and reacts
# within it (ready after about 0.5 s through the API, 0.75 s through Temporal, which loads the SDK).
STEP_2_MS = 3000


@dataclass(frozen=True, slots=True)
class Via:
    """The engine the watcher is configured for. The bridge runs either way: through the
    default engine the watcher talks to it; through Temporal it receives nothing, and the tests
    read raw histories from it."""

    engine: str
    address: str  # Temporal's
    bridge: OutputBridge
    http: httpx.Client

    def config(self, root: Path, workflow_id: str, rules: str) -> Path:
        if self.engine == API:
            return write_api_config(root, self.bridge.url, workflow_id, rules)
        return write_config(root, self.address, workflow_id, rules)

    def the_one_reset(
        self, base_run: str, anchor: str | None, decision: dict[str, Any], after: RunHistory
    ) -> None:
        """One reset, made from `base_run` at the decision's event with its reason: through the
        API exactly one POST naming `anchor`; through Temporal, no request to the bridge."""
        marker = after.reset_marker_to(base_run)
        assert marker is not None, after.reset_markers
        assert (marker.event_id, marker.reason) == (decision["resetEventId"], decision["reason"])
        if self.engine == API:
            assert anchor is not None
            the_one_reset(self.bridge, after.workflow_id, base_run, anchor, decision)
        else:
            assert self.bridge.requests() == []

    def the_first_step_again(
        self, base: RunHistory, decision: dict[str, Any], after: RunHistory, *, running: bool
    ) -> None:
        """The whole run again, as FIRST_STEP says for this engine."""
        action, why = FIRST_STEP[self.engine]
        assert (decision["action"], decision["anchor"]) == (action, None)
        assert why in decision["why"]
        assert after.input == base.input
        if action == "reset":
            assert decision["resetEventId"] == base.task_completed[0]
            self.the_one_reset(base.run_id, None, decision, after)
            return
        assert (decision["resetEventId"], after.reset_markers) == (None, [])
        run = f"/workflow/{base.workflow_id}/runs/{base.run_id}"
        assert [r.path for r in self.bridge.requests("GET", "/input")] == [f"{run}/input"]
        start = {"workflowName": "blog_digest", "workflowId": base.workflow_id, "input": base.input}
        terminate = [(f"{run}/terminate", {"reason": decision["reason"]})] if running else []
        assert [(p.path, p.json) for p in self.bridge.requests("POST")] == [
            *terminate,
            ("/workflow/start", start),
        ]


@pytest.fixture(params=[API, TEMPORAL])
def via(
    request: pytest.FixtureRequest, temporal: DevServer, bridge: OutputBridge, http: httpx.Client
) -> Via:
    return Via(request.param, temporal.address, bridge, http)


def test_editing_the_third_prompt_resets_once_from_the_third_step(
    via: Via, temporal: DevServer, engine: TemporalEngine, project: Project, task_queue: str
) -> None:
    """The example worker runs as its own process here, like in the demo."""
    workflow_id = new_id("watch-third")
    stop = threading.Event()
    worker = WorkerProcess(
        [
            sys.executable,
            "-m",
            "runner.demo.worker",
            "--address",
            temporal.address,
            "--task-queue",
            task_queue,
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
        config = via.config(project.root, workflow_id, rules_for(DIGEST_STEPS))
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
    assert project.steps_run(base_run) == DIGEST_STEPS
    assert project.steps_run(new_run) == ["draft_digest", "polish_digest"]
    steps_seen = [e["step"] for e in watch.all("step") if e["runId"] == new_run]
    assert steps_seen == ["draft_digest", "polish_digest"]
    after = engine.history(workflow_id, new_run, payloads=True)
    via.the_one_reset(base_run, "extract_points", decision, after)
    assert "draft_digest: Draft the digest as three questions (v2)." in str(after.result)
    assert pinned_run(project, workflow_id) == new_run
    assert engine.status(workflow_id).run_id == new_run
    assert engine.status(workflow_id, base_run).status == "completed"  # a closed run stays so


def test_two_edits_in_one_burst_make_one_reset_from_the_earliest_step(
    via: Via, engine: TemporalEngine, worker: BackgroundWorker, project: Project
) -> None:
    workflow_id = new_id("watch-burst")
    base_run = worker.start_run("blog_digest", workflow_id, {})
    base = wait_closed(engine, workflow_id, base_run)
    config = via.config(project.root, workflow_id, rules_for(DIGEST_STEPS))
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
    assert project.steps_run(new_run) == ["draft_digest", "polish_digest"]
    after = engine.history(workflow_id, new_run, payloads=True)
    via.the_one_reset(base_run, "extract_points", decision, after)
    result = str(after.result)
    assert "draft_digest: Draft it shorter (v2)." in result
    assert "polish_digest: Polish it twice (v2)." in result
    assert pinned_run(project, workflow_id) == new_run


def test_a_first_step_edit_while_the_run_is_running_replaces_the_run(
    via: Via, engine: TemporalEngine, worker: BackgroundWorker, project: Project
) -> None:
    """The old run is terminated either way: by output-reset before a fresh start, or by
    Temporal itself when it resets a running run (docs/output-api.md §5.4)."""
    workflow_id = new_id("watch-running")
    # extract_points is slow, so the run is still at it when the first prompt is edited.
    request = {"delay_ms": {"extract_points": STEP_2_MS}}
    base_run = worker.start_run("blog_digest", workflow_id, request)
    config = via.config(project.root, workflow_id, rules_for(DIGEST_STEPS))
    with Watch(config) as watch:
        pinned = watch.wait_for("pinned")
        assert (pinned["runId"], pinned["status"]) == (base_run, "running")
        eventually(lambda: "extract_points" in project.steps_run(base_run), "step 2 to start")
        assert engine.status(workflow_id, base_run).running  # the test's premise
        decision = edit_and_wait(watch, project, {"fetch_article": "Fetch it again (v2)."})
        finish(watch)

    new_run = decision["newRunId"]
    assert len(watch.all("decision")) == 1
    assert engine.status(workflow_id, base_run).status == "terminated"
    base = engine.history(workflow_id, base_run, payloads=True)
    after = engine.history(workflow_id, new_run, payloads=True)
    via.the_first_step_again(base, decision, after, running=True)
    terminated = events_of(via.http, workflow_id, base_run)[-1]
    assert terminated["eventTypeName"] == "WORKFLOW_EXECUTION_TERMINATED"
    attrs = terminated["workflowExecutionTerminatedEventAttributes"]
    by = via.bridge.identity if decision["action"] == "fresh" else "history-resetter"
    assert (attrs["identity"], attrs["reason"]) == (by, decision["reason"])
    assert project.steps_run(base_run) == ["fetch_article", "extract_points"]
    assert project.steps_run(new_run) == DIGEST_STEPS
    assert after.input == request
    assert "fetch_article: Fetch it again (v2)." in str(after.result)
    assert pinned_run(project, workflow_id) == new_run


def test_an_edit_to_a_step_the_run_has_not_reached_needs_no_reset(
    via: Via, engine: TemporalEngine, worker: BackgroundWorker, project: Project
) -> None:
    workflow_id = new_id("watch-ahead")
    request = {"delay_ms": {"extract_points": STEP_2_MS}}
    base_run = worker.start_run("blog_digest", workflow_id, request)
    config = via.config(project.root, workflow_id, rules_for(DIGEST_STEPS))
    with Watch(config) as watch:
        eventually(lambda: "extract_points" in project.steps_run(base_run), "step 2 to start")
        project.edit("polish_digest", "Polish with the new rules (v2).")
        decision = watch.wait_for("decision")
        # The daemon stops following a run it decided not to reset; ask Temporal instead.
        wait_closed(engine, workflow_id, base_run)
        finish(watch)

    assert decision["action"] == "none"
    assert "newRunId" not in decision
    assert decision["why"] == (
        "the run has not reached polish_digest yet (it is at extract_points); "
        "it will run polish_digest on the new code"
    )
    assert via.bridge.requests("POST") == []
    assert project.steps_run(base_run) == DIGEST_STEPS
    after = engine.history(workflow_id, base_run, payloads=True)
    assert "polish_digest: Polish with the new rules (v2)." in str(after.result)
    assert pinned_run(project, workflow_id) == base_run
    assert engine.status(workflow_id).run_id == base_run


def test_a_first_step_edit_re_runs_every_step_with_the_same_input(
    via: Via, engine: TemporalEngine, worker: BackgroundWorker, project: Project
) -> None:
    workflow_id = new_id("watch-first")
    base_run = worker.start_run("blog_digest", workflow_id, {"topic": "one"})
    base = wait_closed(engine, workflow_id, base_run)
    config = via.config(project.root, workflow_id, rules_for(DIGEST_STEPS))
    with Watch(config) as watch:
        decision = edit_and_wait(watch, project, {"fetch_article": "Fetch the first page (v2)."})
        finish(watch)

    new_run = decision["newRunId"]
    after = engine.history(workflow_id, new_run, payloads=True)
    via.the_first_step_again(base, decision, after, running=False)
    assert project.steps_run(new_run) == DIGEST_STEPS
    assert after.input == {"topic": "one"}
    assert str(after.result).startswith("topic: one\nfetch_article: Fetch the first page (v2).")
    assert engine.status(workflow_id, base_run).status == "completed"
    assert pinned_run(project, workflow_id) == new_run


def test_a_loop_step_edit_re_runs_every_iteration_but_not_the_step_before(
    via: Via, engine: TemporalEngine, worker: BackgroundWorker, project: Project
) -> None:
    workflow_id = new_id("watch-loop")
    base_run = worker.start_run("loop_digest", workflow_id, {"rounds": 3})
    wait_closed(engine, workflow_id, base_run)
    config = via.config(project.root, workflow_id, rules_for(["outline", "refine", "publish"]))
    with Watch(config) as watch:
        decision = edit_and_wait(watch, project, {"refine": "Refine for clarity (v2)."})
        finish(watch)

    new_run = decision["newRunId"]
    after = engine.history(workflow_id, new_run, payloads=True)
    via.the_one_reset(base_run, "outline", decision, after)
    assert [(i.step, i.round) for i in project.invocations(new_run)] == [
        ("refine", 1),
        ("refine", 2),
        ("refine", 3),
        ("publish", None),
    ]
    assert str(after.result).count("Refine for clarity (v2).") == 3


def test_a_reset_after_the_fast_sibling(
    via: Via, engine: TemporalEngine, worker: BackgroundWorker, project: Project
) -> None:
    """The slow sibling runs again through the API and is kept through Temporal
    (AFTER_FAST_SIBLING); the planner predicts which."""
    workflow_id = new_id("watch-parallel")
    request = {"delay_ms": {"fetch_blogs": 800}}
    base_run = worker.start_run("parallel_digest", workflow_id, request)
    base = wait_closed(engine, workflow_id, base_run)
    news, blogs, merge = base.activities
    assert news.completed_id is not None
    assert blogs.completed_id is not None
    rules = "      - files: prompts/merge_sources.prompt\n        reset_after: fetch_news\n"
    config = via.config(project.root, workflow_id, rules)
    with Watch(config) as watch:
        decision = edit_and_wait(watch, project, {"merge_sources": "Merge, newest first (v2)."})
        finish(watch)

    new_run = decision["newRunId"]
    kept, rerun = AFTER_FAST_SIBLING[via.engine]
    again = "fetch_blogs" in rerun
    assert decision["anchor"] == "fetch_news"
    assert (decision["kept"], decision["rerun"]) == (kept, rerun)
    after = engine.history(workflow_id, new_run, payloads=True)
    via.the_one_reset(base_run, "fetch_news", decision, after)
    # The planner knew: the point falls before fetch_blogs finished only by name.
    point = decision["resetEventId"]
    assert news.completed_id < point
    assert (point < blogs.completed_id) is again
    by_event = plan([reset_after("fetch_news")], base, by_event=True)
    assert by_event.boundary == merge.scheduled_by > blogs.completed_id

    assert project.steps_run(new_run) == rerun
    blogs_runs = [i for i in project.invocations() if i.step == "fetch_blogs"]
    assert [(i.run_id, i.attempt) for i in blogs_runs] == [(base_run, 1)] + (
        [(new_run, 1)] if again else []
    )
    steps_seen = [e["step"] for e in watch.all("step") if e["runId"] == new_run]
    assert steps_seen == rerun
    marker = marker_of(after, base_run)
    (copied,) = after.occurrences("fetch_blogs")
    assert copied.scheduled_id == blogs.scheduled_id < marker  # the copied SCHEDULED event
    assert copied.completed_id is not None
    assert (copied.completed_id > marker) is again  # a new STARTED/COMPLETED pair, or the old
    result = str(after.result)
    assert "merge_sources: Merge, newest first (v2)." in result
    assert "fetch_blogs: Fetch recent blog posts on the topic." in result
