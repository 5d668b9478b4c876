"""`output-reset watch` as a subprocess, on a real Temporal server: edit a prompt, see the reset.

Each test edits prompt files of a project whose steps read them at call time, waits (bounded)
for the watcher's JSON events, and checks the outcome three ways: the invocations log (which
steps re-ran), the new run's result (the edited text), and the state file (the new pin).
"""

from __future__ import annotations

import sys
import threading

from examples.temporal_worker.worker import BackgroundWorker
from runner.demo import DevServer, WorkerProcess
from runner.temporal import TemporalEngine
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
    rules_for,
    wait_closed,
    write_config,
)


def test_editing_the_third_prompt_resets_once_from_the_third_step(
    temporal: DevServer, engine: TemporalEngine, project: Project
) -> None:
    """The example worker runs as its own process here, like in the demo."""
    workflow_id = new_id("watch-third")
    stop = threading.Event()
    worker = WorkerProcess(
        [
            sys.executable,
            "-m",
            "examples.temporal_worker",
            "--address",
            temporal.address,
            "--task-queue",
            new_id("queue"),
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
        config = write_config(project.root, temporal.address, workflow_id, rules_for(DIGEST_STEPS))
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
    assert decision["action"] == "reset"
    assert decision["files"] == ["prompts/draft_digest.prompt"]
    assert decision["resetEventId"] == base.occurrences("draft_digest")[0].scheduled_by
    assert project.steps_run(base_run) == DIGEST_STEPS
    assert project.steps_run(new_run) == ["draft_digest", "polish_digest"]
    steps_seen = [e["step"] for e in watch.all("step") if e["runId"] == new_run]
    assert steps_seen == ["draft_digest", "polish_digest"]
    after = engine.history(workflow_id, new_run, payloads=True)
    assert "draft_digest: Draft the digest as three questions (v2)." in str(after.result)
    assert pinned_run(project, workflow_id) == new_run
    assert engine.status(workflow_id).run_id == new_run


def test_two_edits_in_one_burst_make_one_reset_from_the_earliest_step(
    temporal: DevServer, engine: TemporalEngine, worker: BackgroundWorker, project: Project
) -> None:
    workflow_id = new_id("watch-burst")
    base = wait_closed(engine, workflow_id, worker.start_run("blog_digest", workflow_id, {}))
    config = write_config(project.root, temporal.address, workflow_id, rules_for(DIGEST_STEPS))
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
    result = str(engine.history(workflow_id, new_run, payloads=True).result)
    assert "draft_digest: Draft it shorter (v2)." in result
    assert "polish_digest: Polish it twice (v2)." in result
    assert pinned_run(project, workflow_id) == new_run


def test_an_edit_while_the_run_is_running_resets_it_and_kills_the_old_run(
    temporal: DevServer, engine: TemporalEngine, worker: BackgroundWorker, project: Project
) -> None:
    workflow_id = new_id("watch-running")
    # extract_points is slow, so the run is still at it when the first prompt is edited.
    base_run = worker.start_run("blog_digest", workflow_id, {"delay_ms": {"extract_points": 5000}})
    config = write_config(project.root, temporal.address, workflow_id, rules_for(DIGEST_STEPS))
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
    assert project.steps_run(base_run) == ["fetch_article", "extract_points"]
    assert project.steps_run(new_run) == DIGEST_STEPS
    after = engine.history(workflow_id, new_run, payloads=True)
    assert "fetch_article: Fetch it again (v2)." in str(after.result)
    assert pinned_run(project, workflow_id) == new_run


def test_an_edit_to_a_step_the_run_has_not_reached_needs_no_reset(
    temporal: DevServer, engine: TemporalEngine, worker: BackgroundWorker, project: Project
) -> None:
    workflow_id = new_id("watch-ahead")
    base_run = worker.start_run("blog_digest", workflow_id, {"delay_ms": {"extract_points": 3000}})
    config = write_config(project.root, temporal.address, workflow_id, rules_for(DIGEST_STEPS))
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
    assert project.steps_run(base_run) == DIGEST_STEPS
    after = engine.history(workflow_id, base_run, payloads=True)
    assert "polish_digest: Polish with the new rules (v2)." in str(after.result)
    assert pinned_run(project, workflow_id) == base_run


def test_a_first_step_edit_re_runs_every_step(
    temporal: DevServer, engine: TemporalEngine, worker: BackgroundWorker, project: Project
) -> None:
    workflow_id = new_id("watch-first")
    base = wait_closed(
        engine, workflow_id, worker.start_run("blog_digest", workflow_id, {"topic": "one"})
    )
    config = write_config(project.root, temporal.address, workflow_id, rules_for(DIGEST_STEPS))
    with Watch(config) as watch:
        decision = edit_and_wait(watch, project, {"fetch_article": "Fetch the first page (v2)."})
        finish(watch)

    new_run = decision["newRunId"]
    assert decision["resetEventId"] == base.task_completed[0]
    assert project.steps_run(new_run) == DIGEST_STEPS
    after = engine.history(workflow_id, new_run, payloads=True)
    assert after.input == {"topic": "one"}
    assert str(after.result).startswith("topic: one\nfetch_article: Fetch the first page (v2).")
    assert pinned_run(project, workflow_id) == new_run


def test_a_loop_step_edit_re_runs_every_iteration_but_not_the_step_before(
    temporal: DevServer, engine: TemporalEngine, worker: BackgroundWorker, project: Project
) -> None:
    workflow_id = new_id("watch-loop")
    wait_closed(engine, workflow_id, worker.start_run("loop_digest", workflow_id, {"rounds": 3}))
    rules = rules_for(["outline", "refine", "publish"])
    config = write_config(project.root, temporal.address, workflow_id, rules)
    with Watch(config) as watch:
        decision = edit_and_wait(watch, project, {"refine": "Refine for clarity (v2)."})
        finish(watch)

    new_run = decision["newRunId"]
    assert [(i.step, i.round) for i in project.invocations(new_run)] == [
        ("refine", 1),
        ("refine", 2),
        ("refine", 3),
        ("publish", None),
    ]
    result = str(engine.history(workflow_id, new_run, payloads=True).result)
    assert result.count("Refine for clarity (v2).") == 3


def test_a_reset_after_the_fast_sibling_keeps_the_slow_one(
    temporal: DevServer, engine: TemporalEngine, worker: BackgroundWorker, project: Project
) -> None:
    workflow_id = new_id("watch-parallel")
    request = {"delay_ms": {"fetch_blogs": 800}}
    wait_closed(engine, workflow_id, worker.start_run("parallel_digest", workflow_id, request))
    rules = "      - files: prompts/merge_sources.prompt\n        reset_after: fetch_news\n"
    config = write_config(project.root, temporal.address, workflow_id, rules)
    with Watch(config) as watch:
        decision = edit_and_wait(watch, project, {"merge_sources": "Merge, newest first (v2)."})
        finish(watch)

    new_run = decision["newRunId"]
    assert decision["anchor"] == "fetch_news"
    assert project.steps_run(new_run) == ["merge_sources"]
    assert [i.step for i in project.invocations()].count("fetch_blogs") == 1
    result = str(engine.history(workflow_id, new_run, payloads=True).result)
    assert "merge_sources: Merge, newest first (v2)." in result
    assert "fetch_blogs: Fetch recent blog posts on the topic." in result
