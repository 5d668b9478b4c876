"""`watch` on a `datasets:` entry on a real Temporal server, through both engines: the example
worker's blog_digest with three dataset cases and its eval workflow blog_digest_eval.

The daemon starts each case's run once, judges them before any edit, then one prompt save
resets every case once (only the edited step and those after it run again), judges the new
outputs against the baseline and keeps the save as an iteration with its three cases.

Case names carry a suffix of their own: the server lives for the whole session, and a case's
workflow id (`blog_digest-case-<case>`) must not find another test's runs.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.config import ApiConfig
from runner.daemon import Options
from runner.demo.worker.worker import BackgroundWorker
from runner.engine import Engine
from runner.evals import verdict_line
from runner.iterations import Iterations
from runner.output_api import OutputApi, resolve_settings
from runner.reports import CasesDecided, Evaluated, Notice, Recorded, RunFinished
from runner.temporal import TemporalEngine
from tests.daemon_harness import Running
from tests.temporal.output_bridge import OutputBridge
from tests.temporal.support import DIGEST_STEPS, Project, eventually
from tests.temporal.test_evals import seed

API, TEMPORAL = "output-api", "temporal"
WAIT_S = 60.0  # a bound, not a timing: two cores shared with other test runs
# The example's three cases (runner/demo/worker/src/workflows/blog_digest/tests/datasets), as
# (name, topic, ground truth). With the prompts as shipped: pass, partial (37 words for 30),
# fail (no "reset").
CASES = (
    ("weekly", "the weekly digest", "topic_word: digest"),
    (
        "points",
        "key points of an article",
        "topic_word: points\n    evals:\n      digest_length:\n        max_words: 30",
    ),
    ("resets", "resetting workflow runs", "topic_word: reset"),
)
# Same length as the shipped prompt (so key_points stays at 37 words), and it mentions resets.
EDIT = "Draft a three-line digest on how resets help."


@pytest.fixture(params=[API, TEMPORAL])
def via(
    request: pytest.FixtureRequest, engine: TemporalEngine, bridge: OutputBridge
) -> Iterator[Engine]:
    """The daemon's engine: the Output API (through the bridge) or Temporal itself."""
    if request.param == TEMPORAL:
        yield engine
        return
    api = OutputApi(resolve_settings(ApiConfig(), {"OUTPUT_API_URL": bridge.url}))
    try:
        yield api
    finally:
        api.close()


def dataset_project(project: Project, suffix: str) -> Path:
    """The project's blog_digest folder with the three cases, and a config fanning out on them."""
    folder = project.root / "src" / "workflows" / "blog_digest" / "tests" / "datasets"
    folder.mkdir(parents=True)
    (folder / "digests.yml").write_text(
        "".join(
            f"{name}_{suffix}:\n  input:\n    topic: {topic}\n  ground_truth:\n    {truth}\n"
            for name, topic, truth in CASES
        ),
        encoding="utf-8",
    )
    config = project.root / "output-reset.yaml"
    config.write_text(
        "debounce_ms: 100\nworkflows:\n  - type: blog_digest\n    datasets: all\n    rules:\n"
        "      - files: prompts/draft_digest.prompt\n        rerun: draft_digest\n",
        encoding="utf-8",
    )
    return config


def case_runs(project: Project, workflow_id: str) -> list[str]:
    """The runs of a workflow id that ran a step, in the order they first ran one."""
    runs: dict[str, None] = {}
    for invocation in project.invocations():
        if invocation.workflow_id == workflow_id:
            runs.setdefault(invocation.run_id, None)
    return list(runs)


def rows(evaluated: Evaluated, suffix: str) -> dict[str, tuple[str, str | None]]:
    """Each case's (verdict, verdict before), by the case's name without its suffix."""
    return {r.case.removesuffix(f"_{suffix}"): (r.verdict, r.before) for r in evaluated.matrix.rows}


def test_one_save_resets_every_case_once_and_the_evals_judge_it(
    via: Engine,
    engine: TemporalEngine,
    worker: BackgroundWorker,
    bridge: OutputBridge,
    project: Project,
) -> None:
    seed(worker, engine, "blog_digest")  # where the Temporal engine starts cases and evals
    suffix = uuid.uuid4().hex[:6]
    names = [f"{name}_{suffix}" for name, _, _ in CASES]
    ids = {name: f"blog_digest-case-{name}" for name in names}
    config = dataset_project(project, suffix)

    with Running(config, via, Options(wait_worker=False)) as running:
        started = running.wait_for(Notice, timeout=WAIT_S)
        assert started.message == (
            "starting 3 dataset runs of blog_digest: a full run each, this once"
        )
        first = [running.wait_for(RunFinished, timeout=WAIT_S) for _ in names]
        baseline = running.wait_for(Evaluated, timeout=WAIT_S)
        project.edit("draft_digest", EDIT)
        summary = running.wait_for(CasesDecided, timeout=WAIT_S)
        ends = [running.wait_for(RunFinished, timeout=WAIT_S) for _ in names]
        judged = running.wait_for(Evaluated, timeout=WAIT_S)
        kept = running.wait_for(Recorded, timeout=WAIT_S)

    # The cases were started once each, and ran every step.
    assert sorted(f.case or "" for f in first) == sorted(names)
    assert all(f.status == "completed" for f in first)
    base_runs = {f.case: f.run_id for f in first}
    for name in names:
        assert case_runs(project, ids[name]) == [base_runs[name], ends_by_case(ends)[name]]
        assert project.steps_run(base_runs[name]) == DIGEST_STEPS
    if isinstance(via, OutputApi):
        starts = bridge.requests("POST", "/workflow/start")
        assert sorted(s.json["workflowId"] for s in starts) == sorted(ids.values())

    # Before any edit: the baseline, judged on the first runs.
    assert baseline.baseline
    assert baseline.eval_workflow == "blog_digest_eval"
    assert rows(baseline, suffix) == {
        "weekly": ("pass", None),
        "points": ("partial", None),
        "resets": ("fail", None),
    }

    # One save: each case reset once, from its own first run, re-running the edited step on.
    assert sorted(c.label for c in summary.cases) == sorted(f"blog_digest/{n}" for n in names)
    for case in summary.cases:
        assert case.error is None
        assert case.outcome is not None
        assert case.outcome.new_run_id is not None
    new_runs = ends_by_case(ends)
    assert all(e.status == "completed" for e in ends)
    for name in names:
        assert project.steps_run(new_runs[name]) == ["draft_digest", "polish_digest"]
        after = engine.history(ids[name], new_runs[name], payloads=True)
        assert [m.base_run_id for m in after.reset_markers] == [base_runs[name]]
        assert f"draft_digest: {EDIT}" in str(after.result)
    if isinstance(via, OutputApi):
        resets = bridge.requests("POST", "/reset")
        assert sorted(r.path for r in resets) == sorted(
            f"/workflow/{ids[n]}/runs/{base_runs[n]}/reset" for n in names
        )
    else:
        assert bridge.requests() == []
    # Temporal's own list of runs agrees: two runs per case id, no more.
    eventually(
        lambda: (
            sorted(
                (r.workflow_id, r.run_id)
                for r in engine.runs_of_type("blog_digest")
                if r.workflow_id in ids.values()
            )
            == sorted((ids[n], run) for n in names for run in (base_runs[n], new_runs[n]))
        ),
        "visibility to list the six case runs",
    )

    # The matrix: the resets case now passes, the others as they were.
    assert not judged.baseline
    assert rows(judged, suffix) == {
        "weekly": ("pass", "pass"),
        "points": ("partial", "partial"),
        "resets": ("pass", "fail"),
    }
    assert (
        verdict_line(judged.matrix) == "2 pass, 1 partial (was 1 pass, 1 partial, 1 fail): better"
    )

    # The save is iteration 1, with its three cases and the verdicts.
    assert (kept.n, kept.workflow) == (1, "blog_digest")
    (record,) = Iterations(project.root / ".output-reset").read()
    assert [f["path"] for f in record["files"]] == ["prompts/draft_digest.prompt"]
    assert sorted(
        (c["case"], c["workflowId"], c["oldRunId"], c["newRunId"], c["status"])
        for c in record["cases"]
    ) == sorted((n, ids[n], base_runs[n], new_runs[n], "completed") for n in names)
    assert record["eval"]["line"] == verdict_line(judged.matrix)
    assert {c: v["verdict"] for c, v in record["eval"]["cases"].items()} == {
        f"weekly_{suffix}": "pass",
        f"points_{suffix}": "partial",
        f"resets_{suffix}": "pass",
    }


def ends_by_case(ends: list[RunFinished]) -> dict[str | None, str]:
    return {e.case: e.run_id for e in ends}
