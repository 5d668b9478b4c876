"""`watch` on a `datasets:` entry on a real Temporal server, through both engines: the example
worker's blog_digest with three dataset cases and its eval workflow blog_digest_eval.

The daemon starts each case's run once and judges them before any edit; then each of two
prompt saves resets every case once, from the run the save before made (only the edited step
and the one after it run again), judges the new outputs against the previous verdicts and
keeps the save as an iteration with its three cases.

Case names carry a suffix of their own: the server lives for the whole session, and a case's
workflow id (`blog_digest-case-<case>`) must not find another test's runs.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

from runner.daemon import Options
from runner.demo.worker.worker import BackgroundWorker
from runner.engine import Engine
from runner.evals import verdict_line
from runner.iterations import Iterations
from runner.output_api import OutputApi
from runner.reports import CasesDecided, Evaluated, Notice, Recorded, RunFinished
from runner.temporal import TemporalEngine
from tests.daemon_harness import Running
from tests.temporal.output_bridge import OutputBridge
from tests.temporal.support import DIGEST_STEPS, Project, eventually
from tests.temporal.test_evals import seed

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
# The same length as the shipped prompt (so key_points stays at 37 words): the first edit
# mentions resets, the second no longer does.
EDIT = "Draft a three-line digest on how resets help."
EDIT_2 = "Draft a three-line digest from the main points."


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


def eval_runs(project: Project) -> list[str]:
    """The eval runs whose evaluators ran (the invocations log has each evaluator's call)."""
    runs: dict[str, None] = {}
    for invocation in project.invocations():
        if invocation.workflow_type == "blog_digest_eval":
            runs.setdefault(invocation.run_id, None)
    return list(runs)


def rows(evaluated: Evaluated, suffix: str) -> dict[str, tuple[str, str | None]]:
    """Each case's (verdict, verdict before), by the case's name without its suffix."""
    return {r.case.removesuffix(f"_{suffix}"): (r.verdict, r.before) for r in evaluated.matrix.rows}


@dataclass(frozen=True, slots=True)
class Saved:
    """What the daemon reported for one save: the summary, each case's new run, the verdicts
    and the iteration kept."""

    summary: CasesDecided
    new_runs: dict[str, str]  # case -> its new run
    statuses: set[str]
    judged: Evaluated
    kept: Recorded


def save(running: Running, project: Project, text: str, cases: int) -> Saved:
    project.edit("draft_digest", text)
    summary = running.wait_for(CasesDecided, timeout=WAIT_S)
    ends = [running.wait_for(RunFinished, timeout=WAIT_S) for _ in range(cases)]
    judged = running.wait_for(Evaluated, timeout=WAIT_S)
    kept = running.wait_for(Recorded, timeout=WAIT_S)
    new_runs = {e.case or "": e.run_id for e in ends}
    return Saved(summary, new_runs, {e.status for e in ends}, judged, kept)


def test_each_save_resets_every_case_once_and_the_evals_judge_it(
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
        first = [running.wait_for(RunFinished, timeout=WAIT_S) for _ in names]
        baseline = running.wait_for(Evaluated, timeout=WAIT_S)
        one = save(running, project, EDIT, len(names))
        two = save(running, project, EDIT_2, len(names))

    # The cases were started once each, and ran every step.
    assert started.message == "starting 3 dataset runs of blog_digest: a full run each, this once"
    assert sorted(f.case or "" for f in first) == sorted(names)
    assert all(f.status == "completed" for f in first)
    base_runs = {f.case or "": f.run_id for f in first}
    for name in names:
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

    # Each save: each case reset once, from the run the save before made, re-running the edited
    # step and the one after it; nothing else started.
    chain = [base_runs, one.new_runs, two.new_runs]
    for name in names:
        assert case_runs(project, ids[name]) == [runs[name] for runs in chain]
    for k, (saved, text) in enumerate(((one, EDIT), (two, EDIT_2)), start=1):
        assert [c.label for c in saved.summary.cases] == [f"blog_digest/{n}" for n in names]
        assert [c.error for c in saved.summary.cases] == [None] * 3
        assert sorted(saved.new_runs) == sorted(names)
        assert saved.statuses == {"completed"}
        for name in names:
            run = saved.new_runs[name]
            assert project.steps_run(run) == ["draft_digest", "polish_digest"]
            after = engine.history(ids[name], run, payloads=True)
            # The reset copies the kept events, earlier reset markers included.
            assert [m.base_run_id for m in after.reset_markers] == [r[name] for r in chain[:k]]
            assert f"draft_digest: {text}" in str(after.result)
    if isinstance(via, OutputApi):
        resets = bridge.requests("POST", "/reset")
        assert sorted(r.path for r in resets) == sorted(
            f"/workflow/{ids[n]}/runs/{runs[n]}/reset" for n in names for runs in chain[:2]
        )
        evals = bridge.requests("POST", "/workflow/run")
        assert [e.json["workflowName"] for e in evals] == ["blog_digest_eval"] * 3
    else:
        assert bridge.requests() == []
    assert len(eval_runs(project)) == 3  # the baseline and one per save
    # Temporal's own list of runs agrees: three runs per case id, no more.
    expected = sorted((ids[n], runs[n]) for n in names for runs in chain)
    eventually(
        lambda: (
            sorted(
                (r.workflow_id, r.run_id)
                for r in engine.runs_of_type("blog_digest")
                if r.workflow_id in ids.values()
            )
            == expected
        ),
        "visibility to list the nine case runs",
    )

    # The matrices: the first edit makes the resets case pass, the second undoes it.
    assert [one.judged.baseline, two.judged.baseline] == [False, False]
    assert rows(one.judged, suffix) == {
        "weekly": ("pass", "pass"),
        "points": ("partial", "partial"),
        "resets": ("pass", "fail"),
    }
    assert verdict_line(one.judged.matrix) == (
        "2 pass, 1 partial (was 1 pass, 1 partial, 1 fail): better"
    )
    assert rows(two.judged, suffix) == {
        "weekly": ("pass", "pass"),
        "points": ("partial", "partial"),
        "resets": ("fail", "pass"),
    }
    assert verdict_line(two.judged.matrix) == (
        "1 pass, 1 partial, 1 fail (was 2 pass, 1 partial): worse"
    )

    # Each save is an iteration, with its three cases and the verdicts.
    assert [(s.kept.n, s.kept.workflow) for s in (one, two)] == [
        (1, "blog_digest"),
        (2, "blog_digest"),
    ]
    records = Iterations(project.root / ".output-reset").read()
    assert [r["n"] for r in records] == [1, 2]
    for record, before, saved in zip(records, chain, (one, two), strict=False):
        assert [f["path"] for f in record["files"]] == ["prompts/draft_digest.prompt"]
        assert sorted(
            (c["case"], c["workflowId"], c["oldRunId"], c["newRunId"], c["status"])
            for c in record["cases"]
        ) == sorted((n, ids[n], before[n], saved.new_runs[n], "completed") for n in names)
        assert record["eval"]["line"] == verdict_line(saved.judged.matrix)
        assert {c: v["verdict"] for c, v in record["eval"]["cases"].items()} == {
            r.case: r.verdict for r in saved.judged.matrix.rows
        }
