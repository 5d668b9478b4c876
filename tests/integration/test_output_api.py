"""The Output API client against the loopback test double (a real HTTP server)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from runner.config import ApiConfig
from runner.errors import ApiError, AuthError, NoSuchWorkflow, ResetOutcomeUnknown
from runner.history import Activity, RunHistory
from runner.output_api import OutputApi, resolve_settings
from runner.plan import plan
from tests.fakeapi import (
    Child,
    Evaluator,
    FakeOutputApi,
    Interpret,
    Judgement,
    Loop,
    Parallel,
    Program,
    Step,
)
from tests.unit.test_plan import change

THREE: Program = [Step("extractTopics"), Step("draftOutline"), Step("polishDraft")]


@pytest.fixture
def fake() -> Iterator[FakeOutputApi]:
    with FakeOutputApi(long_poll_cap_ms=2000) as api:
        api.define_workflow("probe_three", THREE)
        api.define_workflow(
            "probe_parallel",
            [
                Parallel([Step("fetchSlow", 0.05), Step("fetchFast")]),
                Loop(Step("loopStep"), 3),
                Step("combine"),
            ],
        )
        api.define_workflow("probe_child", [Step("childStep")])
        api.define_workflow(
            "probe_parent", [Step("parentStep"), Child("probe_child"), Step("judgeIt")]
        )
        api.define_workflow("simple_disable_trace", [Step("sumValues")], disable_trace=True)
        yield api


def client(fake: FakeOutputApi, token: str | None = None, long_poll_ms: int = 1000) -> OutputApi:
    env = {"OUTPUT_API_URL": fake.url}
    if token:
        env["OUTPUT_API_AUTH_TOKEN"] = token
    return OutputApi(resolve_settings(ApiConfig(), env), long_poll_ms=long_poll_ms)


def completed_run(fake: FakeOutputApi, workflow: str = "probe_three", wid: str = "wf-1") -> str:
    run_id = fake.start_run(workflow, wid, {"text": "alpha beta"})
    assert fake.wait_closed(wid, run_id) == "completed"
    return run_id


def test_history_reads_every_page(fake: FakeOutputApi) -> None:
    run_id = completed_run(fake, "probe_parallel")
    api = client(fake)
    try:
        history = api.history("wf-1", run_id)
    finally:
        api.close()
    assert history.closed
    assert history.steps_in_order() == ["fetchSlow", "fetchFast", "loopStep", "combine"]
    assert len(history.occurrences("loopStep")) == 3
    pages = [r for r in fake.requests if r.path.endswith("/history")]
    assert all(r.query["pageSize"] == "50" for r in pages)
    assert history.last_event_id == len(fake.history("wf-1", run_id))


def test_a_planned_reset_re_runs_only_the_later_steps(fake: FakeOutputApi) -> None:
    run_id = completed_run(fake)
    api = client(fake)
    try:
        decision = plan([change("polishDraft")], api.history("wf-1", run_id))
        new_run = api.reset("wf-1", run_id, step=decision.anchor, event_id=None, reason="test")
    finally:
        api.close()
    assert fake.wait_closed("wf-1", new_run) == "completed"
    assert fake.invocations(new_run) == ["polishDraft"]
    assert fake.latest_run("wf-1") == new_run


def test_first_step_of_a_traced_run_anchors_on_get_trace_destinations(fake: FakeOutputApi) -> None:
    run_id = completed_run(fake)
    api = client(fake)
    try:
        decision = plan([change("extractTopics")], api.history("wf-1", run_id))
        assert decision.anchor == "getTraceDestinations"
        new_run = api.reset("wf-1", run_id, step=decision.anchor, event_id=None, reason="x")
    finally:
        api.close()
    fake.wait_closed("wf-1", new_run)
    assert fake.invocations(new_run) == ["extractTopics", "draftOutline", "polishDraft"]


def test_child_step_resets_the_parent_before_the_child(fake: FakeOutputApi) -> None:
    run_id = completed_run(fake, "probe_parent", "parent-1")
    api = client(fake)
    try:
        history = api.history("parent-1", run_id)
        child = history.children[0]
        assert child.run_id is not None
        kids = {child.workflow_id: api.history(child.workflow_id, child.run_id)}
        decision = plan([change("childStep")], history, kids)
        assert decision.anchor == "parentStep"
        new_run = api.reset("parent-1", run_id, step=decision.anchor, event_id=None, reason="x")
    finally:
        api.close()
    fake.wait_closed("parent-1", new_run)
    assert fake.invocations(new_run) == ["judgeIt"]
    new_history = RunHistory(workflow_id="parent-1", run_id=new_run)
    new_history.feed(fake.history("parent-1", new_run))
    assert new_history.children[-1].workflow_id != child.workflow_id


def test_reset_errors_are_one_clear_line(fake: FakeOutputApi) -> None:
    run_id = completed_run(fake)
    api = client(fake)
    try:
        with pytest.raises(ApiError) as unknown_step:
            api.reset("wf-1", run_id, step="nope", event_id=None, reason="x")
        with pytest.raises(ApiError) as unknown_run:
            api.reset(
                "wf-1",
                "00000000-0000-4000-8000-000000000000",
                step="draftOutline",
                event_id=None,
                reason="x",
            )
    finally:
        api.close()
    assert unknown_step.value.status == 404
    assert not unknown_step.value.retryable
    assert str(unknown_step.value) == (
        f'step "nope" was not found in run {run_id} '
        '(Step "nope" was not found in the workflow history)'
    )
    assert unknown_run.value.status == 500
    assert not unknown_run.value.retryable
    assert str(unknown_run.value).startswith(
        "run 00000000-0000-4000-8000-000000000000 of workflow wf-1 does not exist"
    )


def test_reset_of_an_in_flight_step_is_a_409(fake: FakeOutputApi) -> None:
    gate = threading.Event()
    fake.define_workflow("slow", [Step("a"), Step("b", gate=gate)])
    run_id = fake.start_run("slow", "slow-1", {})
    fake.wait_for_event(
        "slow-1",
        run_id,
        lambda e: e.get("activityTaskScheduledEventAttributes", {}).get("stepName") == "b",
    )
    api = client(fake)
    try:
        with pytest.raises(ApiError) as caught:
            api.reset("slow-1", run_id, step="b", event_id=None, reason="x")
    finally:
        api.close()
        gate.set()
    assert caught.value.status == 409
    assert str(caught.value) == (
        f'step "b" has not completed in run {run_id}, so the API cannot reset after it'
    )


def test_401_names_the_variable_to_set(fake: FakeOutputApi) -> None:
    with FakeOutputApi(token="s3cret") as secured:
        api = client(secured)
        try:
            with pytest.raises(AuthError) as caught:
                api.status("wf-1")
        finally:
            api.close()
        good = client(secured, token="s3cret")
        try:
            with pytest.raises(ApiError) as missing:
                good.status("nope-1")
        finally:
            good.close()
        sent = secured.requests[-1].headers["authorization"]
    assert str(caught.value).endswith(
        "set OUTPUT_API_AUTH_TOKEN to the API's OUTPUT_API_AUTH_TOKEN"
    )
    assert missing.value.status == 404
    assert sent == "Basic s3cret"


def test_unreachable_api_is_retryable(fake: FakeOutputApi) -> None:
    url = fake.url
    fake.set_down(True)
    api = OutputApi(resolve_settings(ApiConfig(), {"OUTPUT_API_URL": url}))
    try:
        with pytest.raises(ApiError) as caught:
            api.status("wf-1")
    finally:
        api.close()
        fake.set_down(False)
    assert caught.value.retryable
    assert "connection refused" in str(caught.value)
    assert "is `npx output dev` running?" in str(caught.value)


def test_a_lost_reset_answer_is_recovered_by_its_token_without_a_second_post(
    fake: FakeOutputApi,
) -> None:
    run_id = completed_run(fake)
    fake.drop_response("POST", r"/reset$")
    api = client(fake)
    try:
        with pytest.raises(ResetOutcomeUnknown):
            api.reset("wf-1", run_id, step="draftOutline", event_id=None, reason="edit [or-abc123]")
        found = api.find_reset("wf-1", run_id, "or-abc123")
        other = api.find_reset("wf-1", run_id, "or-other")
    finally:
        api.close()
    assert found == fake.latest_run("wf-1")
    assert other is None
    assert len(fake.reset_requests()) == 1


def test_follow_reports_steps_as_they_complete(fake: FakeOutputApi) -> None:
    gate = threading.Event()
    fake.define_workflow("gated", [Step("one"), Step("two", gate=gate), Step("three")])
    run_id = fake.start_run("gated", "g-1", {})
    api = client(fake, long_poll_ms=500)
    history = RunHistory(workflow_id="g-1", run_id=run_id)
    seen: list[str] = []
    stop = threading.Event()

    def on_steps(done: list[Activity]) -> None:
        seen.extend(a.step for a in done if not a.internal)
        if seen == ["one"]:
            gate.set()

    try:
        api.follow(history, on_steps=on_steps, stop=stop, payloads=True)
    finally:
        api.close()
        gate.set()
    assert seen == ["one", "two", "three"]
    assert history.status == "completed"
    assert history.occurrences("three")[0].result is not None


def test_catalog_blocks_during_a_reload_and_the_marker_changes(fake: FakeOutputApi) -> None:
    api = client(fake)
    try:
        before = api.worker_status()
        fake.reload_worker(0.3)
        api.wait_worker_answers()  # blocks until the new worker answers
        after = api.worker_status()
    finally:
        api.close()
    catalog = [r for r in fake.requests if r.path == "/workflow/catalog/main"]
    assert len(catalog) == 1
    assert before is not None
    assert after is not None
    assert before.run_id != after.run_id == fake.catalog_run_id()
    assert before.started_at is not None
    assert after.started_at is not None
    assert after.started_at > before.started_at  # the catalog status carries startedAt


def test_fresh_run_input_and_start(fake: FakeOutputApi) -> None:
    run_id = completed_run(fake, "simple_disable_trace", "nt-1")
    api = client(fake)
    try:
        decision = plan([change("sumValues")], api.history("nt-1", run_id))
        assert decision.kind == "fresh"
        assert api.run_input("nt-1", run_id) == {"text": "alpha beta"}
        new_run = api.start("simple_disable_trace", "nt-1", api.run_input("nt-1", run_id))
    finally:
        api.close()
    assert fake.wait_closed("nt-1", new_run) == "completed"
    assert fake.latest_run("nt-1") == new_run


# -- POST /workflow/run: eval workflows ----------------------------------------------------------


def mentions(input: object, output: object, truth: dict[str, object]) -> Judgement:
    if not isinstance(output, str):
        raise ValueError("expected a string output")
    word = str(truth["word"])
    return Judgement(word in output, reasoning=f"looked for {word}")


def test_run_workflow_answers_the_eval_output_and_failed_runs(fake: FakeOutputApi) -> None:
    fake.define_eval("probe_three_eval", [Evaluator("mentions", mentions, Interpret.boolean())])
    case = {"input": {}, "ground_truth": {"word": "beta"}}
    datasets = [
        {"name": "yes", **case, "last_output": {"output": "alpha beta", "date": "d"}},
        {"name": "no", **case, "last_output": {"output": "alpha", "date": "d"}},
        {"name": "thrown", **case},
    ]
    api = client(fake)
    try:
        result = api.run_workflow("probe_three_eval", {"datasets": datasets}, timeout_s=10)
        refused = api.run_workflow("probe_three_eval", {"datasets": [{}]}, timeout_s=10)
    finally:
        api.close()
    assert (result.status, result.error) == ("completed", None)
    assert result.run_id == fake.latest_run(result.workflow_id)
    verdicts = [(c["datasetName"], c["verdict"]) for c in result.output["cases"]]
    assert verdicts == [("yes", "pass"), ("no", "fail"), ("thrown", "fail")]
    assert result.output["cases"][2]["evaluators"][0]["name"] == "_error"
    # An input that fails the eval workflow's schema is a 200 with a failed run.
    assert (refused.status, refused.output) == ("failed", None)
    assert refused.error == (
        'Workflow "probe_three_eval" input validation failed: '
        "✖ Invalid input: expected string, received undefined\n  → at datasets[0].name\n"
        "✖ Invalid input: expected record, received undefined\n  → at datasets[0].input"
    )


def test_run_workflow_says_when_the_worker_does_not_know_the_workflow(
    fake: FakeOutputApi,
) -> None:
    api = client(fake)
    try:
        with pytest.raises(NoSuchWorkflow) as caught:
            api.run_workflow("probe_three_eval", {"datasets": []}, timeout_s=5)
    finally:
        api.close()
    assert caught.value.status == 424
    assert str(caught.value) == (
        "the worker has no workflow probe_three_eval (the Output API answered POST /workflow/run "
        "with 424 Failed Dependency: UnsupportedWorkflowError: Workflow probe_three_eval is not "
        "supported in the task queue main.)"
    )


def test_run_workflow_past_its_timeout_names_the_run_that_keeps_going(
    fake: FakeOutputApi,
) -> None:
    gate = threading.Event()
    fake.define_workflow("slow", [Step("wait", gate=gate)])
    api = client(fake)
    try:
        with pytest.raises(ApiError) as caught:
            api.run_workflow("slow", None, timeout_s=0.01)  # the API's minimum is 250 ms
    finally:
        api.close()
    sent = fake.requests[-1]
    assert (sent.path, sent.json) == ("/workflow/run", {"workflowName": "slow", "timeout": 250})
    assert (caught.value.status, caught.value.retryable) == (408, False)
    said = str(caught.value)
    lead = "slow did not finish within 0.25 s (the Output API answered 408); it keeps running as "
    assert said.startswith(f"{lead}workflow ")
    workflow_id = said.removeprefix(f"{lead}workflow ")
    run_id = fake.latest_run(workflow_id)
    assert fake.run_status(workflow_id, run_id) == "running"
    gate.set()
    assert fake.wait_closed(workflow_id, run_id) == "completed"
