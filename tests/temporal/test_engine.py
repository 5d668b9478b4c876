"""TemporalEngine against a real Temporal dev server and the example worker.

The invocations log is the witness: a step that was replayed from history after a reset has
no line for the new run; a step that re-ran has one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from temporalio.service import RPCError, RPCStatusCode, WorkflowService

from runner.auditlog import AuditLog
from runner.config import EngineConfig, TlsConfig, load_config
from runner.demo.processes import DevServer, free_port
from runner.demo.worker.worker import BackgroundWorker
from runner.engine import Engine
from runner.errors import ApiError, AuthError, ConfigError, ResetOutcomeUnknown
from runner.history import RunHistory
from runner.plan import plan
from runner.resetter import Resetter
from runner.runs import Runs
from runner.state import StateStore
from runner.temporal import TemporalEngine
from tests.temporal.support import (
    DIGEST_STEPS,
    Project,
    eventually,
    new_id,
    rerun,
    reset_after,
    rules_for,
    wait_closed,
    write_config,
)


def completed_run(
    worker: BackgroundWorker,
    engine: TemporalEngine,
    workflow_type: str = "blog_digest",
    request: dict[str, Any] | None = None,
) -> RunHistory:
    workflow_id = new_id(workflow_type.replace("_", "-"))
    run_id = worker.start_run(workflow_type, workflow_id, request or {"topic": "resets"})
    history = wait_closed(engine, workflow_id, run_id)
    assert history.status == "completed", history
    return history


def reset_and_wait(
    engine: TemporalEngine, base: RunHistory, event_id: int | None, reason: str = "test"
) -> RunHistory:
    new_run = engine.reset(
        base.workflow_id, base.run_id, step=None, event_id=event_id, reason=reason
    )
    assert new_run != base.run_id
    return wait_closed(engine, base.workflow_id, new_run)


# -- reading -------------------------------------------------------------------------------


def test_a_completed_run_reads_like_the_output_api_serves_it(
    engine: TemporalEngine, worker: BackgroundWorker, project: Project
) -> None:
    as_protocol: Engine = engine
    assert as_protocol.resets_by_event is True
    assert as_protocol.watches_worker is False
    assert engine.description == f"Temporal at {engine.address} (namespace default)"

    history = completed_run(worker, engine)

    assert history.workflow_type == "blog_digest"
    assert history.input == {"topic": "resets"}
    assert history.steps_in_order() == DIGEST_STEPS
    assert [a.activity_type for a in history.activities] == [
        f"blog_digest#{s}" for s in DIGEST_STEPS
    ]
    assert all(a.outcome == "completed" and a.attempt == 1 for a in history.activities)
    first = history.activities[0]
    assert first.scheduled_by == history.task_completed[0]
    for before, after in zip(history.activities, history.activities[1:], strict=False):
        assert before.completed_id is not None
        assert after.scheduled_by == history.first_task_completed_after(before.completed_id)
    prompts = [f"{s}: {project.prompt(s).read_text().strip()}" for s in DIGEST_STEPS]
    assert history.result == "\n".join(["topic: resets", *prompts])
    assert history.activities[2].result == "\n".join(["topic: resets", *prompts[:3]])
    assert history.started_at is not None
    assert history.started_at.endswith("Z")
    assert history.closed_at is not None
    assert history.reset_markers == []

    plain = engine.history(history.workflow_id, history.run_id)
    assert plain.steps_in_order() == DIGEST_STEPS
    assert plain.status == "completed"
    assert (plain.input, plain.result, plain.activities[0].result) == (None, None, None)
    assert plain.last_event_id == history.last_event_id


def test_follow_reports_each_step_then_returns_when_the_run_closes(
    engine: TemporalEngine, worker: BackgroundWorker
) -> None:
    workflow_id = new_id("follow")
    run_id = worker.start_run(
        "blog_digest", workflow_id, {"delay_ms": {"extract_points": 300, "draft_digest": 300}}
    )
    seen: list[list[str]] = []
    history = RunHistory(workflow_id=workflow_id, run_id=run_id)
    give_up = threading.Event()
    timer = threading.Timer(30, give_up.set)
    timer.start()
    try:
        engine.follow(
            history, on_steps=lambda done: seen.append([a.step for a in done]), stop=give_up
        )
    finally:
        timer.cancel()
        timer.join()
    assert not give_up.is_set()
    assert history.closed
    assert history.status == "completed"
    assert [step for batch in seen for step in batch] == DIGEST_STEPS
    assert len(seen) >= 3  # the slow steps arrive in batches of their own: it really followed


def test_follow_returns_within_a_moment_of_stop(
    engine: TemporalEngine, worker: BackgroundWorker
) -> None:
    # Nobody polls this task queue, so the run never moves: follow sits in a long poll.
    workflow_id = new_id("stuck")
    run_id = worker.start_run("blog_digest", workflow_id, task_queue=new_id("nobody"))
    history = RunHistory(workflow_id=workflow_id, run_id=run_id)
    stop = threading.Event()
    thread = threading.Thread(
        target=engine.follow, args=(history,), kwargs={"on_steps": print, "stop": stop}
    )
    thread.start()
    try:
        eventually(lambda: history.last_event_id > 0, "the first page of the follow")
        asked = time.monotonic()
        stop.set()
        thread.join(5)
        took = time.monotonic() - asked
    finally:
        stop.set()
        thread.join(5)
        engine.terminate(workflow_id, run_id, "test over")
    assert not thread.is_alive()
    assert took < 1.0, f"follow took {took:.2f} s to notice stop"
    assert not history.closed


def test_a_transport_failure_mid_follow_is_raised_for_the_caller_to_follow_again(
    engine: TemporalEngine, worker: BackgroundWorker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine does not retry a follow itself (the daemon's follower is the one place that
    does). A long poll that runs out is only an empty page; a lost connection comes out as a
    retryable ApiError, and following the same history again picks up where it stopped."""
    original = WorkflowService.get_workflow_execution_history
    long_polls: list[Any] = []
    failing = {2: RPCStatusCode.DEADLINE_EXCEEDED, 3: RPCStatusCode.UNAVAILABLE}

    async def some_fail(self: WorkflowService, request: Any, **kwargs: Any) -> Any:
        if request.wait_new_event:
            long_polls.append(request)
            if len(long_polls) in failing:
                raise RPCError("connection reset by peer", failing[len(long_polls)], b"")
        return await original(self, request, **kwargs)

    workflow_id = new_id("lost-follow")
    run_id = worker.start_run("blog_digest", workflow_id, {"delay_ms": {"extract_points": 300}})
    monkeypatch.setattr(WorkflowService, "get_workflow_execution_history", some_fail)
    seen: list[str] = []
    history = RunHistory(workflow_id=workflow_id, run_id=run_id)
    give_up = threading.Event()
    timer = threading.Timer(10, give_up.set)
    timer.start()
    try:
        with pytest.raises(ApiError) as lost:
            engine.follow(
                history, on_steps=lambda done: seen.extend(a.step for a in done), stop=give_up
            )
        assert len(long_polls) == 3  # past the empty one, stopped at the lost one
        assert history.last_event_id > 0  # the first page was read before the failure
        assert not history.closed
        engine.follow(
            history, on_steps=lambda done: seen.extend(a.step for a in done), stop=give_up
        )
    finally:
        timer.cancel()
        timer.join()
    assert (str(lost.value), lost.value.retryable) == (
        f"cannot reach Temporal at {engine.address} (connection reset by peer); is the server "
        "running (`temporal server start-dev`)?",
        True,
    )
    assert not give_up.is_set()
    assert history.status == "completed"
    assert seen == DIGEST_STEPS  # each step once, across both follows


def test_status_runs_of_type_and_terminate(
    engine: TemporalEngine, worker: BackgroundWorker
) -> None:
    stuck_id = new_id("stuck")
    stuck_run = worker.start_run("section_writer", stuck_id, {"text": "x"}, task_queue="idle")
    status = engine.status(stuck_id)
    assert (status.workflow_id, status.run_id, status.status) == (stuck_id, stuck_run, "running")
    assert status.running
    assert status.workflow_type == "section_writer"
    assert status.started_at is not None
    assert abs(status.started_at - time.time()) < 60

    done = completed_run(worker, engine, "section_writer", {"text": "notes"})
    assert engine.status(done.workflow_id, done.run_id).status == "completed"

    def both_listed() -> list[str] | None:
        ours = {stuck_id, done.workflow_id}
        rows = [
            r.workflow_id for r in engine.runs_of_type("section_writer") if r.workflow_id in ours
        ]
        return rows if len(rows) == 2 else None

    # Newest start first (visibility is written a moment after the run starts).
    assert eventually(both_listed, "both runs in the visibility list") == [
        done.workflow_id,
        stuck_id,
    ]

    engine.terminate(stuck_id, stuck_run, "test over")
    assert engine.status(stuck_id, stuck_run).status == "terminated"
    stopped = engine.history(stuck_id, stuck_run)
    assert stopped.status == "terminated"
    assert stopped.closed


def test_run_input_and_start_use_the_latest_runs_task_queue(
    engine: TemporalEngine, worker: BackgroundWorker, project: Project
) -> None:
    first = completed_run(worker, engine, request={"topic": "inputs"})
    assert engine.run_input(first.workflow_id, first.run_id) == {"topic": "inputs"}

    again = engine.start("blog_digest", first.workflow_id, {"topic": "inputs"})
    history = wait_closed(engine, first.workflow_id, again)
    assert history.status == "completed"  # the worker's task queue was found and used
    assert history.input == {"topic": "inputs"}
    assert project.steps_run(again) == DIGEST_STEPS


# -- resetting by event --------------------------------------------------------------------


def test_editing_the_third_step_re_runs_only_steps_three_and_four(
    engine: TemporalEngine, worker: BackgroundWorker, project: Project
) -> None:
    base = completed_run(worker, engine)
    project.edit("draft_digest", "Draft it as a haiku (v2).")

    decision = plan([rerun("draft_digest")], base, by_event=True)
    draft = base.occurrences("draft_digest")[0]
    assert (decision.kind, decision.anchor, decision.boundary) == (
        "reset",
        "extract_points",
        draft.scheduled_by,
    )
    started = time.monotonic()
    new_run = engine.reset(
        base.workflow_id,
        base.run_id,
        step=decision.anchor,
        event_id=decision.boundary,
        reason="draft_digest.prompt changed [or-test1]",
    )
    after = wait_closed(engine, base.workflow_id, new_run)
    took = time.monotonic() - started

    assert project.steps_run(new_run) == ["draft_digest", "polish_digest"]
    assert project.steps_run(base.run_id) == DIGEST_STEPS  # 1 and 2 ran once, in the base run
    assert after.status == "completed"
    assert "draft_digest: Draft it as a haiku (v2)." in str(after.result)
    assert "draft_digest: Draft a three-line digest" in str(base.result)
    # The kept steps' results are the base run's, replayed from the copied history.
    assert [a.result for a in after.activities[:2]] == [a.result for a in base.activities[:2]]
    marker = after.reset_marker_to(base.run_id)
    assert marker is not None
    assert marker.event_id == decision.boundary
    assert marker.reason == "draft_digest.prompt changed [or-test1]"
    assert engine.status(base.workflow_id).run_id == new_run
    assert engine.status(base.workflow_id, base.run_id).status == "completed"
    assert took < 10, f"reset to completed took {took:.1f} s"


def test_editing_the_first_step_re_runs_everything_with_the_same_input(
    engine: TemporalEngine, worker: BackgroundWorker, project: Project
) -> None:
    base = completed_run(worker, engine, request={"topic": "first step"})
    project.edit("fetch_article", "Fetch two articles (v2).")

    decision = plan([rerun("fetch_article")], base, by_event=True)
    assert decision.kind == "reset"
    assert decision.anchor is None
    assert decision.boundary == base.task_completed[0]
    after = reset_and_wait(engine, base, decision.boundary)

    assert project.steps_run(after.run_id) == DIGEST_STEPS
    assert after.input == {"topic": "first step"}
    assert str(after.result).startswith(
        "topic: first step\nfetch_article: Fetch two articles (v2)."
    )


@pytest.mark.parametrize("occurrence", [1, 2])
def test_a_loop_resets_after_the_chosen_iteration(
    engine: TemporalEngine, worker: BackgroundWorker, project: Project, occurrence: int
) -> None:
    base = completed_run(worker, engine, "loop_digest", {"rounds": 3})
    assert [a.step for a in base.activities] == ["outline", "refine", "refine", "refine", "publish"]

    decision = plan([reset_after("refine", occurrence)], base, by_event=True)
    assert decision.kind == "reset"
    after = reset_and_wait(engine, base, decision.boundary)

    again = project.invocations(after.run_id)
    assert [(i.step, i.round) for i in again] == [
        *(("refine", n) for n in range(occurrence + 1, 4)),
        ("publish", None),
    ]
    assert after.status == "completed"


def test_rerunning_a_loop_step_re_runs_every_iteration(
    engine: TemporalEngine, worker: BackgroundWorker, project: Project
) -> None:
    base = completed_run(worker, engine, "loop_digest", {"rounds": 3})
    decision = plan([rerun("refine")], base, by_event=True)
    after = reset_and_wait(engine, base, decision.boundary)
    assert [(i.step, i.round) for i in project.invocations(after.run_id)] == [
        ("refine", 1),
        ("refine", 2),
        ("refine", 3),
        ("publish", None),
    ]


def test_resetting_after_the_first_finished_sibling_keeps_the_other(
    engine: TemporalEngine, worker: BackgroundWorker, project: Project
) -> None:
    base = completed_run(worker, engine, "parallel_digest", {"delay_ms": {"fetch_blogs": 800}})
    news, blogs, merge = base.activities
    assert (news.step, blogs.step, merge.step) == ("fetch_news", "fetch_blogs", "merge_sources")
    assert news.scheduled_by == blogs.scheduled_by  # one workflow task scheduled both
    assert news.completed_id is not None
    assert blogs.completed_id is not None
    assert news.completed_id < blogs.completed_id  # the fast sibling finished first

    decision = plan([reset_after("fetch_news")], base, by_event=True)
    assert decision.boundary == merge.scheduled_by
    after = reset_and_wait(engine, base, decision.boundary)

    assert project.steps_run(after.run_id) == ["merge_sources"]
    assert [i.step for i in project.invocations()].count("fetch_blogs") == 1
    kept = after.occurrences("fetch_blogs")
    assert len(kept) == 1
    assert kept[0].outcome == "completed"
    assert kept[0].result == blogs.result


def test_resetting_parallel_siblings_by_step_name_re_dispatches_the_slow_one(
    engine: TemporalEngine, worker: BackgroundWorker, project: Project
) -> None:
    """What the Output API does (output-api.md §5.8), for contrast: the first workflow task after
    the fast sibling finished comes before the slow one finished, so it runs again."""
    base = completed_run(worker, engine, "parallel_digest", {"delay_ms": {"fetch_blogs": 800}})
    news, blogs, _ = base.activities
    assert news.completed_id is not None
    assert blogs.completed_id is not None
    point = base.first_task_completed_after(news.completed_id)
    assert point is not None
    assert point < blogs.completed_id

    after = reset_and_wait(engine, base, point)
    assert project.steps_run(after.run_id) == ["fetch_blogs", "merge_sources"]


def test_rerunning_a_child_workflows_step_starts_a_new_child(
    engine: TemporalEngine, worker: BackgroundWorker, project: Project
) -> None:
    base = completed_run(worker, engine, "parent_digest")
    (child,) = base.children
    assert child.run_id is not None
    assert child.outcome == "completed"
    children = {child.workflow_id: engine.history(child.workflow_id, child.run_id)}
    assert children[child.workflow_id].steps_in_order() == ["write_section"]
    project.edit("write_section", "Write the section as a limerick (v2).")

    decision = plan([rerun("write_section")], base, children, by_event=True)
    assert decision.boundary == child.scheduled_by
    assert decision.anchor == "gather_notes"
    after = reset_and_wait(engine, base, decision.boundary)

    (new_child,) = after.children
    assert new_child.workflow_id != child.workflow_id
    assert new_child.outcome == "completed"
    assert project.steps_run(after.run_id) == ["assemble_digest"]
    assert [i.step for i in project.invocations() if i.step == "gather_notes"] == ["gather_notes"]
    rerun_child = [i for i in project.invocations() if i.workflow_id == new_child.workflow_id]
    assert [i.step for i in rerun_child] == ["write_section"]
    assert "write_section: Write the section as a limerick (v2)." in str(after.result)


def test_each_reset_has_a_fresh_request_id(
    engine: TemporalEngine, worker: BackgroundWorker
) -> None:
    base = completed_run(worker, engine)
    boundary = base.occurrences("polish_digest")[0].scheduled_by
    first = reset_and_wait(engine, base, boundary, reason="same reason")
    second = reset_and_wait(engine, base, boundary, reason="same reason")
    assert first.run_id != second.run_id  # the server did not take the second for a retry
    for run in (first, second):
        marker = run.reset_marker_to(base.run_id)
        assert marker is not None
        assert marker.reason == "same reason"


def test_find_reset_finds_the_run_by_the_token_in_its_reason(
    engine: TemporalEngine, worker: BackgroundWorker
) -> None:
    base = completed_run(worker, engine)
    boundary = base.occurrences("draft_digest")[0].scheduled_by
    mine = reset_and_wait(engine, base, boundary, reason="edited [or-aaaa1111]")
    other = reset_and_wait(engine, base, boundary, reason="edited [or-bbbb2222]")
    assert engine.find_reset(base.workflow_id, base.run_id, "or-aaaa1111") == mine.run_id
    assert engine.find_reset(base.workflow_id, base.run_id, "or-bbbb2222") == other.run_id
    assert engine.find_reset(base.workflow_id, base.run_id, "or-cccc3333") is None
    # A run reset from the newest run carries the older marker too; only its last one counts.
    third = reset_and_wait(engine, other, boundary, reason="again [or-dddd4444]")
    assert engine.find_reset(base.workflow_id, base.run_id, "or-bbbb2222") == other.run_id
    assert engine.find_reset(base.workflow_id, other.run_id, "or-dddd4444") == third.run_id


def test_a_lost_reset_answer_is_recovered_without_resetting_twice(
    engine: TemporalEngine,
    worker: BackgroundWorker,
    project: Project,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base = completed_run(worker, engine)
    sent: list[str] = []
    original = WorkflowService.reset_workflow_execution

    async def lose_the_answer(self: WorkflowService, request: Any, **kwargs: Any) -> Any:
        answer = await original(self, request, **kwargs)
        sent.append(answer.run_id)
        raise RPCError("connection reset by peer", RPCStatusCode.UNAVAILABLE, b"")

    monkeypatch.setattr(WorkflowService, "reset_workflow_execution", lose_the_answer)
    config = load_config(
        write_config(project.root, engine.address, base.workflow_id, rules_for(["draft_digest"]))
    )
    runs = Runs(engine, StateStore(config.state_dir))
    resetter = Resetter(engine, runs, AuditLog(config.state_dir))
    workflow = config.workflows[0]
    pin = resetter.resolve(workflow, {}).pin
    assert pin.run_id == base.run_id

    outcome = resetter.apply(workflow, [rerun("draft_digest")], pin=pin, hashes={})

    assert len(sent) == 1  # sent once, never re-sent
    assert outcome.recovered is True
    assert outcome.new_run_id == sent[0]
    assert runs.current_pin(workflow) is not None
    assert wait_closed(engine, base.workflow_id, sent[0]).status == "completed"


def test_a_lost_answer_is_reported_as_unknown_when_nothing_can_be_found(
    engine: TemporalEngine, worker: BackgroundWorker, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = completed_run(worker, engine)

    async def time_out(self: WorkflowService, request: Any, **kwargs: Any) -> Any:
        raise RPCError("deadline exceeded", RPCStatusCode.DEADLINE_EXCEEDED, b"")

    monkeypatch.setattr(WorkflowService, "reset_workflow_execution", time_out)
    with pytest.raises(ResetOutcomeUnknown) as caught:
        engine.reset(base.workflow_id, base.run_id, step=None, event_id=4, reason="x")
    assert str(caught.value) == (
        f"the reset of run {base.run_id} of {base.workflow_id} to event 4 got no answer from "
        f"Temporal at {engine.address} (DEADLINE_EXCEEDED: deadline exceeded); it may have "
        "happened"
    )
    assert engine.find_reset(base.workflow_id, base.run_id, "or-00000000") is None


def test_a_reset_by_step_name_uses_the_api_s_reset_point(
    engine: TemporalEngine, worker: BackgroundWorker, project: Project
) -> None:
    base = completed_run(worker, engine)
    new_run = engine.reset(
        base.workflow_id, base.run_id, step="extract_points", event_id=None, reason="by name"
    )
    wait_closed(engine, base.workflow_id, new_run)
    assert project.steps_run(new_run) == ["draft_digest", "polish_digest"]


# -- errors, as a person at a terminal reads them -------------------------------------------


def test_errors_say_what_happened_and_whether_to_retry(
    engine: TemporalEngine, worker: BackgroundWorker
) -> None:
    with pytest.raises(ApiError) as unknown:
        engine.status("no-such-workflow")
    assert not unknown.value.retryable
    assert str(unknown.value).startswith(
        "workflow no-such-workflow: not found in namespace default ("
    )

    base = completed_run(worker, engine)
    with pytest.raises(ApiError) as refused:
        # Past the end of the history: not a point a run can be reset to.
        engine.reset(base.workflow_id, base.run_id, step=None, event_id=9999, reason="bad point")
    assert not isinstance(refused.value, ResetOutcomeUnknown)
    assert not refused.value.retryable
    assert str(refused.value).startswith(
        f"Temporal refused the reset of run {base.run_id} of {base.workflow_id} to event 9999 "
        "(INVALID_ARGUMENT: "
    )

    with pytest.raises(ApiError) as missing_step:
        engine.reset(base.workflow_id, base.run_id, step="nope", event_id=None, reason="x")
    assert str(missing_step.value) == (
        f'step "nope" was not found in run {base.run_id} of {base.workflow_id}'
    )


def test_an_unknown_namespace_is_not_found(temporal: DevServer) -> None:
    engine = TemporalEngine.connect(
        EngineConfig(kind="temporal", address=temporal.address, namespace="nope"), {}
    )
    try:
        with pytest.raises(ApiError) as caught:
            engine.status("x")
    finally:
        engine.close()
    assert not caught.value.retryable
    assert str(caught.value) == (
        "workflow x: not found in namespace nope (Namespace nope is not found.)"
    )


def test_a_server_that_is_down_is_a_retryable_error_and_no_reset_is_lost() -> None:
    address = f"127.0.0.1:{free_port()}"
    engine = TemporalEngine.connect(EngineConfig(kind="temporal", address=address), {})
    try:
        with pytest.raises(ApiError) as down:
            engine.status("x")
        with pytest.raises(ApiError) as not_sent:
            engine.reset("x", "y", step=None, event_id=4, reason="r")
    finally:
        engine.close()
    expected = (
        f"cannot reach Temporal at {address} (connection refused); is the server running "
        "(`temporal server start-dev`)?"
    )
    assert (str(down.value), down.value.retryable) == (expected, True)
    # The connection never opened, so the reset certainly did not happen.
    assert not isinstance(not_sent.value, ResetOutcomeUnknown)
    assert (str(not_sent.value), not_sent.value.retryable) == (expected, True)


def test_a_refused_credential_names_the_variable_to_fix(
    engine: TemporalEngine, monkeypatch: pytest.MonkeyPatch, temporal: DevServer
) -> None:
    async def refuse(self: WorkflowService, request: Any, **kwargs: Any) -> Any:
        raise RPCError("Request unauthorized.", RPCStatusCode.PERMISSION_DENIED, b"")

    refusing: Callable[..., Awaitable[Any]] = refuse
    monkeypatch.setattr(WorkflowService, "describe_workflow_execution", refusing)
    keyed = TemporalEngine.connect(
        EngineConfig(kind="temporal", address=temporal.address, api_key_env="MY_TEMPORAL_KEY"),
        {"MY_TEMPORAL_KEY": "secret"},
    )
    try:
        with pytest.raises(AuthError) as caught:
            keyed.status("x")
    finally:
        keyed.close()
    assert str(caught.value) == (
        f"Temporal at {temporal.address} refused workflow x (PERMISSION_DENIED: Request "
        "unauthorized.); check that MY_TEMPORAL_KEY holds a valid API key for it"
    )
    with pytest.raises(AuthError) as anonymous:
        engine.status("x")
    assert "set engine.api_key_env" in str(anonymous.value)


def test_connect_checks_the_key_and_certificate_files_before_any_call(
    tmp_path: Any,
) -> None:
    with pytest.raises(AuthError) as no_key:
        TemporalEngine.connect(
            EngineConfig(kind="temporal", address="cloud:7233", api_key_env="TEMPORAL_KEY"), {}
        )
    assert str(no_key.value) == (
        "TEMPORAL_KEY is not set: engine.api_key_env names it as the variable holding the API "
        "key for Temporal at cloud:7233; set it in the environment or in .env"
    )
    with pytest.raises(ConfigError) as no_cert:
        TemporalEngine.connect(
            EngineConfig(
                kind="temporal",
                address="cloud:7233",
                tls=TlsConfig(ca_cert=tmp_path / "ca.pem", server_name="cloud"),
            ),
            {},
        )
    assert str(no_cert.value) == (
        f"engine.tls.ca_cert: cannot read {tmp_path / 'ca.pem'} (No such file or directory)"
    )


def test_a_closed_engine_says_so(temporal: DevServer) -> None:
    engine = TemporalEngine.connect(EngineConfig(kind="temporal", address=temporal.address), {})
    engine.check()
    engine.close()
    engine.close()  # twice is fine
    with pytest.raises(ApiError, match=r"^the Temporal engine is closed$"):
        engine.status("x")
