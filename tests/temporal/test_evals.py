"""Eval workflows through both engines on a real Temporal server: `Engine.run_workflow` with the
example worker's `blog_digest_eval` over blog_digest's dataset cases, and `Engine.start` of a
dataset case's first run.

Through Temporal (`"temporal"`) the engine starts the run itself, on the task queue of the
newest run of the workflow it judges, and long-polls for its close. Through the default engine
(`"output-api"`) it asks OutputBridge's `POST /workflow/run`, which starts on its catalog (the
worker's task queue) and answers Output's v2 result. Where the engines differ, the expected
outcome is data keyed by engine.
"""

from __future__ import annotations

import queue
import re
import threading
import time
import uuid
from typing import Any

import httpx
import pytest
import yaml

from runner.config import EngineConfig
from runner.datasets.read import Case, eval_input
from runner.demo.processes import DevServer
from runner.demo.worker.worker import BackgroundWorker
from runner.engine import Engine, WorkflowResult
from runner.errors import ApiError, NoSuchWorkflow
from runner.temporal import TemporalEngine
from tests.temporal.conftest import API, TEMPORAL
from tests.temporal.support import REPO, Project, eventually, new_id, wait_closed

DATASETS = REPO / "runner/demo/worker/src/workflows/blog_digest/tests/datasets"
DATE = "2026-12-03T00:00:00.000Z"
RUN_S = 30.0
VALIDATION = 'Evaluator "mentions_topic" input validation failed: ✖ Invalid input: expected '


def kind(via: Engine) -> str:
    return TEMPORAL if isinstance(via, TemporalEngine) else API


def dataset_cases() -> list[Case]:
    """The example's cases, read as Output's CLI reads them (files in byte order)."""
    cases: list[Case] = []
    for path in sorted(DATASETS.glob("*.yml"), key=lambda p: p.name.encode()):
        for name, body in yaml.safe_load(path.read_text(encoding="utf-8")).items():
            cases.append(Case(name=name, input=body["input"], body=body, source=path))
    return cases


def seed(worker: BackgroundWorker, engine: TemporalEngine, workflow_type: str) -> str:
    """A finished run of `workflow_type` on the worker's task queue that visibility lists as the
    newest of its type: where the Temporal engine starts what judges it, or a new case of it."""
    workflow_id = new_id(f"seed-{workflow_type.replace('_', '-')}")
    run_id = worker.start_run(workflow_type, workflow_id, {"topic": "seed"})
    wait_closed(engine, workflow_id, run_id)

    def newest() -> bool:
        runs = engine.runs_of_type(workflow_type)
        return bool(runs) and runs[0].workflow_id == workflow_id

    eventually(newest, f"{workflow_id} listed as the newest {workflow_type}")
    return workflow_id


def verdicts(result: WorkflowResult) -> dict[str, str]:
    return {case["datasetName"]: case["verdict"] for case in result.output["cases"]}


def digests(via: Engine, cases: list[Case]) -> dict[str, Any]:
    """One blog_digest run per case, each waited for (`output workflow test` without --cached)."""
    outputs: dict[str, Any] = {}
    for case in cases:
        result = via.run_workflow("blog_digest", dict(case.input), timeout_s=RUN_S)
        assert (result.status, result.error) == ("completed", None), result
        outputs[case.name] = result.output
    return outputs


# -- verdicts ------------------------------------------------------------------------------------


def test_the_dataset_cases_are_judged_and_an_edited_prompt_moves_a_verdict(
    via: Engine,
    engine: TemporalEngine,
    worker: BackgroundWorker,
    project: Project,
) -> None:
    seed(worker, engine, "blog_digest")
    cases = dataset_cases()
    assert [case.name for case in cases] == ["weekly_digest", "key_points", "resets"]
    outputs = digests(via, cases)
    assert outputs["resets"].splitlines()[0] == "topic: resetting workflow runs"

    judged = via.run_workflow("blog_digest_eval", eval_input(cases, outputs, DATE), timeout_s=RUN_S)

    assert (judged.status, judged.error) == ("completed", None)
    assert judged.run_id == engine.status(judged.workflow_id).run_id
    assert verdicts(judged) == {"weekly_digest": "pass", "key_points": "partial", "resets": "fail"}
    assert judged.output["summary"] == {
        "total": 3,
        "passed": 1,
        "partial": 1,
        "failed": 1,
        "acceptableRate": 2 / 3,
    }
    key_points = judged.output["cases"][1]
    assert key_points["evaluators"] == [
        {
            "name": "mentions_topic",
            "verdict": "pass",
            "criticality": "required",
            "confidence": 1,
            "reasoning": 'mentions "points"',
        },
        {
            "name": "digest_length",
            "verdict": "partial",
            "criticality": "required",
            "confidence": 1,
            "reasoning": "37 words (at most 30)",  # evals.digest_length.max_words over the rest
        },
        {
            "name": "plain_words",
            "verdict": "pass",
            "criticality": "informational",
            "confidence": 1,
            "reasoning": "no jargon",
        },
    ]
    # Output's shape of an eval run: the cases in parallel (one workflow task schedules every
    # case's first evaluator), each case's evaluators in order, as <eval name>#<evaluator>.
    history = engine.history(judged.workflow_id, judged.run_id)
    activities = [a.activity_type for a in history.activities]
    assert activities[:3] == ["blog_digest_eval#mentions_topic"] * 3
    assert len({a.scheduled_by for a in history.activities[:3]}) == 1
    names = ("mentions_topic", "digest_length", "plain_words") * 3
    assert sorted(activities) == sorted(f"blog_digest_eval#{name}" for name in names)
    assert sorted(project.steps_run(judged.run_id)) == sorted(names)  # the invocations log

    # The digest's text decides: mention resets in the last step's prompt and that case passes.
    project.edit("polish_digest", "Polish the digest about resets: short sentences.")
    outputs.update(digests(via, [cases[2]]))
    again = via.run_workflow("blog_digest_eval", eval_input(cases, outputs, DATE), timeout_s=RUN_S)
    assert verdicts(again) == {"weekly_digest": "pass", "key_points": "partial", "resets": "pass"}
    assert again.output["cases"][2]["evaluators"][0]["reasoning"] == 'mentions "reset"'


def test_an_evaluator_that_throws_turns_its_case_into_the_error_entry(
    via: Engine, engine: TemporalEngine, worker: BackgroundWorker, http: httpx.Client
) -> None:
    seed(worker, engine, "blog_digest")
    digest = "topic: x\nfetch_article: the weekly digest, short."
    datasets = [
        {"name": "no_output", "input": {"topic": "x"}},  # never ran: no last_output
        {
            "name": "failed_run",
            "input": {"topic": "x"},
            "last_output": {"output": None, "date": DATE},
        },
        {
            "name": "fine",
            "input": {"topic": "the weekly digest"},
            "last_output": {"output": digest, "date": DATE},
        },
    ]

    judged = via.run_workflow("blog_digest_eval", {"datasets": datasets}, timeout_s=RUN_S)

    error = {
        "name": "_error",
        "verdict": "fail",
        "criticality": "required",
        "reasoning": "Activity task failed",
    }
    assert judged.output["cases"][:2] == [
        {"datasetName": "no_output", "verdict": "fail", "evaluators": [error]},
        {"datasetName": "failed_run", "verdict": "fail", "evaluators": [error]},
    ]
    assert verdicts(judged)["fine"] == "pass"
    assert judged.output["summary"]["failed"] == 2
    assert judged.run_id is not None
    # The real cause is only in the eval run's history, and it was not retried.
    path = f"/workflow/{judged.workflow_id}/runs/{judged.run_id}/history"
    events = http.get(path, params={"pageSize": "50", "includePayloads": "true"}).json()["events"]
    failures = [
        event["activityTaskFailedEventAttributes"]["failure"]["message"]
        for event in events
        if event["eventTypeName"] == "ACTIVITY_TASK_FAILED"
    ]
    assert sorted(failures) == [
        f"{VALIDATION}string, received null\n  → at output",
        f"{VALIDATION}string, received undefined\n  → at output",
    ]
    history = engine.history(judged.workflow_id, judged.run_id)
    assert [a.attempt for a in history.activities if a.outcome == "failed"] == [1, 1]


def test_an_eval_input_that_does_not_fit_is_a_failed_run(
    via: Engine, engine: TemporalEngine, worker: BackgroundWorker
) -> None:
    seed(worker, engine, "blog_digest")
    result = via.run_workflow("blog_digest_eval", {"datasets": [{"input": {}}]}, timeout_s=RUN_S)
    assert (result.status, result.output) == ("failed", None)
    assert result.error == (
        'Workflow "blog_digest_eval" input validation failed: ✖ Invalid input: expected '
        "string, received undefined\n  → at datasets[0].name"
    )


# -- timeouts and unknown workflows ----------------------------------------------------------


PAST_TIMEOUT = {
    API: r"blog_digest did not finish within 1 s \(the Output API answered 408\); it keeps "
    r"running as workflow (?P<id>\S+)",
    TEMPORAL: r"blog_digest did not finish within 1 s; is a worker polling task queue "
    r"(?P<queue>\S+) and registering blog_digest\? \(run (?P<id>\S+) was left to its own "
    r"timeouts\)",
}


def test_a_run_past_its_timeout_is_an_error_and_the_run_keeps_going(
    via: Engine, engine: TemporalEngine, worker: BackgroundWorker, task_queue: str
) -> None:
    seed(worker, engine, "blog_digest")
    began = time.monotonic()
    with pytest.raises(ApiError) as caught:
        via.run_workflow(
            "blog_digest", {"topic": "slow", "delay_ms": {"fetch_article": 3000}}, timeout_s=1
        )
    waited = time.monotonic() - began
    assert 1 <= waited < 2.5
    said = re.fullmatch(PAST_TIMEOUT[kind(via)], str(caught.value))
    assert said is not None, str(caught.value)
    if kind(via) == TEMPORAL:
        assert said["queue"] == task_queue
    left = engine.status(said["id"])
    assert left.running
    assert wait_closed(engine, said["id"], left.run_id).status == "completed"


def test_a_workflow_the_worker_does_not_register(
    via: Engine, engine: TemporalEngine, worker: BackgroundWorker, task_queue: str
) -> None:
    """The API knows its catalog (424, NoSuchWorkflow); on Temporal an unregistered type looks
    like a slow start, so past the timeout the engine asks about the worker instead."""
    seed(worker, engine, "loop_digest")
    if kind(via) == API:
        with pytest.raises(NoSuchWorkflow) as refused:
            via.run_workflow("loop_digest_eval", {"datasets": []}, timeout_s=1.5)
        assert refused.value.status == 424
        return
    began = time.monotonic()
    with pytest.raises(ApiError) as caught:
        via.run_workflow("loop_digest_eval", {"datasets": []}, timeout_s=1.5)
    assert 1.5 <= time.monotonic() - began < 3
    assert not isinstance(caught.value, NoSuchWorkflow)
    said = re.fullmatch(
        r"loop_digest_eval did not finish within 1.5 s; is a worker polling task queue "
        rf"{task_queue} and registering loop_digest_eval\? \(run (\S+) was left to its own "
        r"timeouts\)",
        str(caught.value),
    )
    assert said is not None, str(caught.value)
    left = engine.status(said[1])
    assert (left.running, left.workflow_type) == (True, "loop_digest_eval")
    engine.terminate(said[1], left.run_id, "test over")


def test_with_no_run_to_copy_the_engine_says_what_to_start_first(engine: TemporalEngine) -> None:
    judged = f"never_{uuid.uuid4().hex[:8]}"
    with pytest.raises(ApiError) as caught:
        engine.run_workflow(f"{judged}_eval", {"datasets": []}, timeout_s=5)
    assert str(caught.value) == (
        f"cannot tell which task queue runs {judged}_eval: namespace default has no run of "
        f"{judged} or {judged}_eval; start one run of {judged} first"
    )
    with pytest.raises(ApiError) as unknown:
        engine.start(judged, new_id("case"), {})
    assert str(unknown.value) == (
        f"cannot tell which task queue runs {judged}: namespace default has no run of {judged}; "
        f"start one run of {judged} first"
    )


def test_closing_the_engine_ends_a_wait_at_once(
    temporal: DevServer, engine: TemporalEngine, worker: BackgroundWorker
) -> None:
    seed(worker, engine, "loop_digest")
    own = TemporalEngine.connect(EngineConfig(kind="temporal", address=temporal.address), {})
    outcome: queue.Queue[BaseException | WorkflowResult] = queue.Queue()

    def wait() -> None:
        try:
            outcome.put(own.run_workflow("loop_digest_eval", {"datasets": []}, timeout_s=60))
        except BaseException as exc:
            outcome.put(exc)

    waiting = threading.Thread(target=wait, name="test-run-workflow")
    waiting.start()
    eventually(
        lambda: [r for r in engine.runs_of_type("loop_digest_eval") if r.running],
        "the eval run started",
    )
    closed_at = time.monotonic()
    own.close()
    ended = outcome.get(timeout=5)
    waiting.join(5)
    assert time.monotonic() - closed_at < 1
    assert isinstance(ended, ApiError)
    assert str(ended).startswith("the Temporal engine closed while waiting for run ")
    for run in engine.runs_of_type("loop_digest_eval"):
        if run.running:
            engine.terminate(run.workflow_id, run.run_id, "test over")


# -- a dataset case's first run -------------------------------------------------------------------


def test_a_new_case_id_starts_where_the_newest_run_of_its_type_ran(
    engine: TemporalEngine, worker: BackgroundWorker, http: httpx.Client, project: Project
) -> None:
    def queue_of(workflow_id: str, run_id: str) -> str:
        page = http.get(f"/workflow/{workflow_id}/runs/{run_id}/history").json()
        return str(page["workflow"]["taskQueue"])

    idle = f"idle-{uuid.uuid4().hex[:8]}"
    parked = new_id("parked")
    parked_run = worker.start_run("blog_digest", parked, {"topic": "parked"}, task_queue=idle)
    eventually(lambda: engine.runs_of_type("blog_digest")[0].workflow_id == parked, "parked")
    first = new_id("case")
    first_run = engine.start("blog_digest", first, {"topic": "first"})
    assert queue_of(first, first_run) == idle  # the newest blog_digest runs there
    engine.terminate(first, first_run, "test over")
    engine.terminate(parked, parked_run, "test over")

    seed(worker, engine, "blog_digest")
    second = new_id("case")
    second_run = engine.start("blog_digest", second, {"topic": "second"})
    history = wait_closed(engine, second, second_run)
    assert queue_of(second, second_run) == worker.task_queue
    assert (history.status, history.input) == ("completed", {"topic": "second"})
    assert project.steps_run(second_run) == [
        "fetch_article",
        "extract_points",
        "draft_digest",
        "polish_digest",
    ]
