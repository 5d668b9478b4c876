"""`watch` on a `datasets:` entry against the API double (real files, real HTTP on loopback):
one run per case, started once; one save resets every case once; a dataset file edited while
watching re-pins its cases; faults in the middle of a fan-out."""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from runner.compare import MISSING
from runner.daemon import Options
from runner.evals import verdict_line
from runner.iterations import Iterations
from runner.recording import Recorder
from runner.reports import (
    CasesDecided,
    Evaluated,
    Notice,
    Pinned,
    Recorded,
    RunCompared,
    RunFinished,
)
from tests.daemon_harness import Running
from tests.fakeapi import Evaluator, FakeOutputApi, Interpret
from tests.integration.test_watch_api import api

WORKFLOW = "src/workflows/probe_three"
POLISH = f"{WORKFLOW}/prompts/polish@v1.prompt"
CASES = {"basic": "alpha beta", "long": "alpha beta gamma delta", "short": "alpha"}


def dataset(cases: dict[str, str]) -> str:
    return "".join(f"{name}:\n  input:\n    text: {text}\n" for name, text in cases.items())


def project(root: Path, cases: dict[str, str] = CASES) -> Path:
    folder = root / WORKFLOW
    (folder / "prompts").mkdir(parents=True)
    (folder / "tests" / "datasets").mkdir(parents=True)
    (folder / "workflow.ts").write_text("export default workflow({ name: 'probe_three' });\n")
    (root / POLISH).write_text("<user>polish v1</user>\n")
    (folder / "tests" / "datasets" / "cases.yml").write_text(dataset(cases))
    config = root / "output-reset.yaml"
    config.write_text(
        "debounce_ms: 50\nworkflows:\n  - type: probe_three\n    datasets: all\n    rules:\n"
        f"      - files: {POLISH}\n        rerun: polishDraft\n"
    )
    return config


def case_ran(fake: FakeOutputApi, case: str, text: str) -> str:
    workflow_id = f"probe_three-case-{case}"
    run_id = fake.start_run("probe_three", workflow_id, {"text": text})
    fake.wait_closed(workflow_id, run_id)
    return run_id


def every_case_ran(fake: FakeOutputApi) -> None:
    for case, text in CASES.items():
        case_ran(fake, case, text)


def starts(fake: FakeOutputApi) -> list[tuple[str, object]]:
    found = []
    for request in fake.requests:
        if request.method == "POST" and request.path == "/workflow/start":
            body = json.loads(request.body)
            found.append((body["workflowId"], body["input"]))
    return found


def finished(running: Running, count: int) -> list[RunFinished]:
    return [running.wait_for(RunFinished, timeout=10) for _ in range(count)]


def notice(running: Running, start: str, timeout: float = 10) -> Notice:
    """The next notice that starts so (others, such as 'no eval workflow', passed over)."""
    deadline = time.monotonic() + timeout
    while True:
        said = running.wait_for(Notice, timeout=max(0.1, deadline - time.monotonic()))
        if said.message.startswith(start):
            return said


def test_cases_without_a_run_are_started_once_then_one_save_resets_each_once(
    tmp_path: Path, fake: FakeOutputApi
) -> None:
    config = project(tmp_path)
    basic = case_ran(fake, "basic", CASES["basic"])
    engine = api(fake)
    try:
        with Running(config, engine, Options(wait_worker=False)) as running:
            started = running.wait_for(Notice)
            assert started.message == (
                "starting 2 dataset runs of probe_three: a full run each, this once"
            )
            finished(running, 2)  # the two started runs, followed to their end
            (tmp_path / POLISH).write_text("<user>polish v2</user>\n")
            summary = running.wait_for(CasesDecided, timeout=10)
            ends = finished(running, 3)
            kept = running.wait_for(Recorded, timeout=10)
    finally:
        engine.close()
    assert (kept.n, kept.workflow) == (1, "probe_three")
    (record,) = Iterations(tmp_path / ".output-reset").read()
    store = Iterations(tmp_path / ".output-reset")
    (file,) = record["files"]
    assert file["path"] == POLISH
    assert store.text(file["hash"]) == "<user>polish v2</user>\n"  # as the reset saw it
    assert [(c["case"], c["status"]) for c in record["cases"]] == [
        ("basic", "completed"),
        ("long", "completed"),
        ("short", "completed"),
    ]
    by_case = {c["case"]: c for c in record["cases"]}
    assert by_case["basic"]["oldRunId"] == basic
    assert {e.run_id for e in ends} == {c["newRunId"] for c in record["cases"]}
    assert all(store.json_blob(c["output"]) is not MISSING for c in record["cases"])
    assert sorted(starts(fake)) == [
        ("probe_three-case-long", {"text": CASES["long"]}),
        ("probe_three-case-short", {"text": CASES["short"]}),
    ]
    resets = fake.reset_requests()
    assert sorted(r.path.split("/")[2] for r in resets) == [
        "probe_three-case-basic",
        "probe_three-case-long",
        "probe_three-case-short",
    ]
    assert f"/workflow/probe_three-case-basic/runs/{basic}/reset" in {r.path for r in resets}
    assert [c.label for c in summary.cases] == [
        "probe_three/basic",
        "probe_three/long",
        "probe_three/short",
    ]
    assert {e.case for e in ends} == {"basic", "long", "short"}
    for end in ends:
        # Only the edited step ran again in each case's new run.
        assert fake.invocations(end.run_id) == ["polishDraft"]
        assert end.status == "completed"


def test_a_restarted_watch_finds_the_case_runs_and_starts_none(
    tmp_path: Path, fake: FakeOutputApi
) -> None:
    config = project(tmp_path)
    runs = {case: case_ran(fake, case, text) for case, text in CASES.items()}
    engine = api(fake)
    try:
        with Running(config, engine, Options(wait_worker=False)) as running:
            pinned = [running.wait_for(Pinned) for _ in CASES]
    finally:
        engine.close()
    assert starts(fake) == []
    assert {(p.label, p.run_id) for p in pinned} == {
        (f"probe_three/{case}", run) for case, run in runs.items()
    }


def test_a_dataset_file_edited_while_watching_repins_the_cases_it_changed(
    tmp_path: Path, fake: FakeOutputApi
) -> None:
    config = project(tmp_path)
    every_case_ran(fake)
    engine = api(fake)
    edited = {**CASES, "long": "a new long input", "extra": "one more"}
    del edited["short"]
    try:
        with Running(config, engine, Options(wait_worker=False)) as running:
            for _ in CASES:
                running.wait_for(Pinned)
            file = tmp_path / WORKFLOW / "tests" / "datasets" / "cases.yml"
            file.write_text(dataset(edited))
            changed = notice(running, "datasets changed")
            assert changed.message == "datasets changed: 3 cases now"
            said = notice(running, "starting")
            finished(running, 2)
    finally:
        engine.close()
    assert said.message == "starting 2 dataset runs of probe_three: a full run each, this once"
    assert sorted(starts(fake)) == [
        ("probe_three-case-extra", {"text": "one more"}),
        ("probe_three-case-long", {"text": "a new long input"}),
    ]
    assert fake.reset_requests() == []


def test_one_case_refused_with_409_is_said_and_the_others_are_reset(
    tmp_path: Path, fake: FakeOutputApi
) -> None:
    config = project(tmp_path)
    every_case_ran(fake)
    fake.inject(
        "POST",
        r"/workflow/probe_three-case-long/runs/[^/]+/reset$",
        status=409,
        body={
            "error": "StepNotCompletedError",
            "message": 'Step "draftOutline" has not completed. Cannot reset to an incomplete step.',
        },
    )
    engine = api(fake)
    try:
        with Running(config, engine, Options(wait_worker=False)) as running:
            (tmp_path / POLISH).write_text("<user>polish v2</user>\n")
            summary = running.wait_for(CasesDecided, timeout=10)
            ends = finished(running, 2)
    finally:
        engine.close()
    by_case = {c.label: c for c in summary.cases}
    refused = by_case["probe_three/long"]
    assert refused.decision is None
    assert "has not completed" in str(refused.error)
    assert {e.case for e in ends} == {"basic", "short"}
    assert len(fake.reset_requests()) == 3  # each sent once; the refused one not again


def test_the_api_down_in_the_middle_of_a_fan_out_resets_each_case_once_when_back(
    tmp_path: Path, fake: FakeOutputApi
) -> None:
    config = project(tmp_path)
    every_case_ran(fake)
    # The first reset goes through; the API dies as it answers it.
    fake.inject_delay("POST", r"/reset$", 0.3, times=None)
    engine = api(fake)
    try:
        with Running(config, engine, Options(wait_worker=False)) as running:
            (tmp_path / POLISH).write_text("<user>polish v2</user>\n")
            fake.wait_for_request(lambda r: r.method == "POST" and r.path.endswith("/reset"))
            fake.set_down(True)
            time.sleep(1.0)
            fake.set_down(False)
            fake.clear_faults()
            ends = finished(running, 3)  # each case's new run, followed to its end
    finally:
        engine.close()
    per_case: dict[str, int] = {}
    for request in fake.reset_requests():
        case = request.path.split("/")[2]
        per_case[case] = per_case.get(case, 0) + 1
    assert sorted(per_case) == [f"probe_three-case-{c}" for c in sorted(CASES)]
    assert {e.case for e in ends} == set(CASES)
    # One new run per case, whatever got through before the API went down.
    for case in CASES:
        workflow_id = f"probe_three-case-{case}"
        assert len(fake.run_ids(workflow_id)) == 2, (workflow_id, fake.run_ids(workflow_id))


# -- evals ----------------------------------------------------------------------------------------


def long_enough(input: Any, output: Any, truth: dict[str, Any]) -> bool:
    return len(str(input["text"]).split()) >= 2  # short ("alpha") fails


def judge_length(fake: FakeOutputApi) -> None:
    fake.define_eval(
        "probe_three_eval", [Evaluator("long_enough", long_enough, Interpret.boolean())]
    )


def test_after_a_save_the_evals_judge_every_case_and_the_iteration_keeps_the_verdicts(
    tmp_path: Path, fake: FakeOutputApi
) -> None:
    judge_length(fake)
    config = project(tmp_path)
    every_case_ran(fake)
    engine = api(fake)
    try:
        with Running(config, engine, Options(wait_worker=False)) as running:
            baseline = running.wait_for(Evaluated, timeout=15)
            (tmp_path / POLISH).write_text("<user>polish v2</user>\n")
            first = running.wait_for(Evaluated, timeout=15)
            running.wait_for(Recorded, timeout=10)
            (tmp_path / POLISH).write_text("<user>polish v3</user>\n")
            second = running.wait_for(Evaluated, timeout=15)
            kept = running.wait_for(Recorded, timeout=10)
    finally:
        engine.close()
    # Where the cases stood before any edit, so that the first save can say better or worse.
    assert baseline.baseline
    assert not first.baseline
    assert verdict_line(baseline.matrix) == "2 pass, 1 fail"
    assert verdict_line(first.matrix) == "2 pass, 1 fail (was 2 pass, 1 fail): same"
    assert {r.case: r.verdict for r in first.matrix.rows} == {
        "basic": "pass",
        "long": "pass",
        "short": "fail",
    }
    assert verdict_line(second.matrix) == "2 pass, 1 fail (was 2 pass, 1 fail): same"
    assert kept.n == 2
    records = Iterations(tmp_path / ".output-reset").read()
    assert [r["eval"]["line"] for r in records] == [
        "2 pass, 1 fail (was 2 pass, 1 fail): same",
        "2 pass, 1 fail (was 2 pass, 1 fail): same",
    ]
    # The eval ran once at the start, then on the new runs' outputs once per save.
    runs = [r for r in fake.requests if r.path == "/workflow/run"]
    assert len(runs) == 3


def test_an_eval_workflow_that_fails_is_one_line_and_the_iteration_is_still_kept(
    tmp_path: Path, fake: FakeOutputApi
) -> None:
    config = project(tmp_path)
    every_case_ran(fake)
    fake.inject(
        "POST",
        r"/workflow/run$",
        status=500,
        body={"error": "Error", "message": "the judge's model is overloaded"},
        times=2,  # the evals at the start, then after the save
    )
    engine = api(fake)
    try:
        with Running(config, engine, Options(wait_worker=False)) as running:
            before = notice(running, "probe_three: the evals did not run: ", timeout=15)
            (tmp_path / POLISH).write_text("<user>polish v2</user>\n")
            ends = finished(running, 3)
            said = notice(running, "probe_three: the evals did not run: ", timeout=15)
            kept = running.wait_for(Recorded, timeout=10)
    finally:
        engine.close()
    assert "overloaded" in before.message
    assert "overloaded" in said.message
    assert len(ends) == 3
    (record,) = Iterations(tmp_path / ".output-reset").read()
    assert kept.n == record["n"] == 1
    assert record["eval"] is None
    assert len(record["cases"]) == 3


def test_a_save_made_while_the_first_evals_are_under_way_is_compared_with_them(
    tmp_path: Path, fake: FakeOutputApi
) -> None:
    judge_length(fake)
    config = project(tmp_path)
    every_case_ran(fake)
    fake.inject_delay("POST", r"/workflow/run$", 2.0)  # the evals before any edit: slow
    engine = api(fake)
    try:
        with Running(config, engine, Options(wait_worker=False)) as running:
            fake.wait_for_request(lambda r: r.path == "/workflow/run")
            (tmp_path / POLISH).write_text("<user>polish v2</user>\n")
            first = running.wait_for(Evaluated, timeout=15)
            second = running.wait_for(Evaluated, timeout=15)
    finally:
        engine.close()
    # In the order asked, the save's evals compared with those before any edit.
    assert first.baseline
    assert not second.baseline
    assert verdict_line(second.matrix) == "2 pass, 1 fail (was 2 pass, 1 fail): same"


def test_no_eval_workflow_is_said_once_with_how_to_add_one_and_the_diffs_still_show(
    tmp_path: Path, fake: FakeOutputApi
) -> None:
    config = project(tmp_path)
    every_case_ran(fake)
    engine = api(fake)
    try:
        with Running(config, engine, Options(wait_worker=False)) as running:
            first = notice(running, "probe_three: ", timeout=15)
            (tmp_path / POLISH).write_text("<user>polish v2</user>\n")
            compared = [running.wait_for(RunCompared, timeout=10) for _ in CASES]
            later = notice(running, "probe_three: ", timeout=15)
            running.wait_for(Recorded, timeout=10)
    finally:
        engine.close()
    assert first.message.startswith(
        "probe_three: the worker has no eval workflow probe_three_eval, so the outputs are not "
        "judged; add one (evalWorkflow({ name: 'probe_three_eval', evals: [...] }) in "
    )
    assert later.message == "probe_three: no probe_three_eval to judge the outputs"
    assert {c.case for c in compared} == set(CASES)


def test_the_datasets_folder_deleted_then_made_again_is_read_again(
    tmp_path: Path, fake: FakeOutputApi
) -> None:
    # As `git checkout` of a branch without the folder, then back: once the folder is gone,
    # nothing watched it any more, and its return went unseen (its cases never pinned again).
    config = project(tmp_path)
    for case, text in CASES.items():
        case_ran(fake, case, text)
    folder = tmp_path / WORKFLOW / "tests" / "datasets"
    engine = api(fake)
    try:
        with Running(config, engine, Options(wait_worker=False)) as running:
            for _ in CASES:
                running.wait_for(Pinned)
            shutil.rmtree(folder.parent)
            gone = notice(running, "datasets changed")
            folder.mkdir(parents=True)
            (folder / "cases.yml").write_text(dataset(CASES))
            back = notice(running, "datasets changed")
            pinned = [running.wait_for(Pinned) for _ in CASES]
            (tmp_path / POLISH).write_text("<user>polish v2</user>\n")
            summary = running.wait_for(CasesDecided, timeout=10)
    finally:
        engine.close()
    assert gone.message == "datasets changed: 0 cases now"
    assert back.message == "datasets changed: 3 cases now"
    assert {p.label for p in pinned} == {f"probe_three/{case}" for case in CASES}
    assert len(summary.cases) == 3
    assert starts(fake) == []  # the cases' runs were found again, none started


def test_iterations_are_numbered_in_the_order_of_the_saves_whatever_ends_first(
    tmp_path: Path, fake: FakeOutputApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each save's evals, then its record, ran on a job thread of its own: the number went to
    # whichever record took the lock first. Here the first save's record is held until the
    # second's is done (or 2 s have passed): the second save became iteration #1, and
    # `restore 1` brought back the wrong text.
    fake.define_eval(
        "probe_three_eval", [Evaluator("long_enough", long_enough, Interpret.boolean())]
    )
    config = project(tmp_path)
    for case, text in CASES.items():
        case_ran(fake, case, text)
    real_record = Recorder.record
    second_done = threading.Event()
    calls: list[str] = []

    def record(self: Recorder, iteration: Any, *args: Any) -> Any:
        calls.append("record")
        if len(calls) == 1:
            second_done.wait(2.0)
        try:
            return real_record(self, iteration, *args)
        finally:
            if len(calls) > 1:
                second_done.set()

    monkeypatch.setattr(Recorder, "record", record)
    engine = api(fake)
    try:
        with Running(config, engine, Options(wait_worker=False)) as running:
            running.wait_for(Evaluated, timeout=15)
            rounds = []
            for text in ("<user>polish v2</user>\n", "<user>polish v3</user>\n"):
                (tmp_path / POLISH).write_text(text)
                running.wait_for(CasesDecided, timeout=10)
                rounds.append({e.run_id for e in finished(running, 3)})
            kept = [running.wait_for(Recorded, timeout=15) for _ in range(2)]
    finally:
        engine.close()
    store = Iterations(tmp_path / ".output-reset")
    records = store.read()
    assert [k.n for k in kept] == [r["n"] for r in records] == [1, 2]
    assert [store.text(r["files"][0]["hash"]) for r in records] == [
        "<user>polish v2</user>\n",
        "<user>polish v3</user>\n",
    ]
    assert [{c["newRunId"] for c in r["cases"]} for r in records] == rounds


def test_a_case_removed_from_the_dataset_while_its_reset_is_under_way_leaves_the_round_whole(
    tmp_path: Path, fake: FakeOutputApi
) -> None:
    # The round waited for the removed case forever: no summary, no evals, and the save was
    # never kept as an iteration.
    config = project(tmp_path)
    for case, text in CASES.items():
        case_ran(fake, case, text)
    fake.inject_delay("POST", r"/workflow/probe_three-case-short/runs/[^/]+/reset$", 1.0)
    engine = api(fake)
    try:
        with Running(config, engine, Options(wait_worker=False)) as running:
            for _ in CASES:
                running.wait_for(Pinned)
            (tmp_path / POLISH).write_text("<user>polish v2</user>\n")
            fake.wait_for_request(lambda r: "case-short" in r.path and r.path.endswith("/reset"))
            file = tmp_path / WORKFLOW / "tests" / "datasets" / "cases.yml"
            file.write_text(dataset({k: v for k, v in CASES.items() if k != "short"}))
            summary = running.wait_for(CasesDecided, timeout=10)
            kept = running.wait_for(Recorded, timeout=10)
    finally:
        engine.close()
    assert [c.label for c in summary.cases] == ["probe_three/basic", "probe_three/long"]
    (record,) = Iterations(tmp_path / ".output-reset").read()
    assert kept.n == record["n"] == 1
    assert [(c["case"], c["status"]) for c in record["cases"]] == [
        ("basic", "completed"),
        ("long", "completed"),
    ]


def test_stopping_while_a_saves_evals_run_keeps_its_iteration_without_them(
    tmp_path: Path, fake: FakeOutputApi
) -> None:
    judge_length(fake)
    config = project(tmp_path)
    every_case_ran(fake)
    engine = api(fake)
    try:
        with Running(config, engine, Options(wait_worker=False)) as running:
            running.wait_for(Evaluated, timeout=15)  # the evals before any edit
            fake.inject_delay("POST", r"/workflow/run$", 3.0)  # the save's evals: slow
            (tmp_path / POLISH).write_text("<user>polish v2</user>\n")
            finished(running, 3)
            # The save's evals asked for (the second eval run), then watch stops.
            deadline = time.monotonic() + 15
            while sum(r.path == "/workflow/run" for r in fake.requests) < 2:
                assert time.monotonic() < deadline, "the save's evals were never asked for"
                time.sleep(0.02)
        # Stopped while the save's evals were under way: the save is kept, said so.
        last = [running.reports.get() for _ in range(running.reports.qsize())]
        said = [r for r in last if isinstance(r, Notice)]
        kept = [r for r in last if isinstance(r, Recorded)]
    finally:
        engine.close()
    (record,) = Iterations(tmp_path / ".output-reset").read()
    assert record["eval"] is None
    assert len(record["cases"]) == 3
    assert [k.n for k in kept] == [1]
    assert any("iteration 1 kept without its evals" in n.message for n in said)


def test_a_case_whose_input_changed_is_judged_again_before_the_next_save_is_compared(
    tmp_path: Path, fake: FakeOutputApi
) -> None:
    judge_length(fake)
    config = project(tmp_path)
    every_case_ran(fake)
    engine = api(fake)
    try:
        with Running(config, engine, Options(wait_worker=False)) as running:
            first = running.wait_for(Evaluated, timeout=15)
            # short's input gets long enough to pass: its new run is judged as it is now...
            file = tmp_path / WORKFLOW / "tests" / "datasets" / "cases.yml"
            file.write_text(dataset({**CASES, "short": "alpha beta gamma"}))
            again = running.wait_for(Evaluated, timeout=15)
            # ...so that the next save is compared with that, not with short's old verdict.
            (tmp_path / POLISH).write_text("<user>polish v2</user>\n")
            saved = running.wait_for(Evaluated, timeout=15)
    finally:
        engine.close()
    assert verdict_line(first.matrix) == "2 pass, 1 fail"
    assert again.baseline
    assert verdict_line(again.matrix).startswith("3 pass")
    assert verdict_line(saved.matrix) == "3 pass (was 3 pass): same"
