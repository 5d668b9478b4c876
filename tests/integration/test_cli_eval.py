"""`output-reset eval`: the eval workflow run on the dataset cases' pinned runs, once, against
the API double on loopback (which runs eval workflows as Output does)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli_process import run_main
from tests.fakeapi import Evaluator, FakeOutputApi, Interpret
from tests.integration.test_cli_fanout import CASES_ENTRY, ran, with_datasets


def words(input: Any, output: Any, truth: dict[str, Any]) -> bool:
    return len(str(input["text"]).split()) >= 3  # basic has 2 words: fail; long has 4: pass


def has_output(input: Any, output: Any, truth: dict[str, Any]) -> str:
    return "pass" if output is not None else "fail"


def define_eval(fake: FakeOutputApi) -> None:
    fake.define_eval(
        "probe_three_eval",
        [
            Evaluator("enough_words", words, Interpret.boolean()),
            Evaluator("has_output", has_output, Interpret.verdict(), criticality="informational"),
        ],
    )


def both_ran(fake: FakeOutputApi) -> None:
    ran(fake, "probe_three-case-basic", "alpha beta")
    ran(fake, "probe_three-case-long", "alpha beta gamma delta")


def test_eval_prints_the_verdict_matrix_and_fails_when_a_case_fails(
    tmp_path: Path, fake: FakeOutputApi, capsys: pytest.CaptureFixture[str]
) -> None:
    define_eval(fake)
    both_ran(fake)
    config = with_datasets(tmp_path, fake)
    code, out, err = run_main(["eval", "-c", str(config)], capsys)
    assert (code, err) == (1, "")
    lines = out.splitlines()
    assert lines[0] == "probe_three_eval: 1 pass, 1 fail"
    assert lines[1].split() == ["case", "enough_words", "has_output", "(info)", "verdict"]
    assert lines[2].split() == ["basic", "fail", "pass", "FAIL"]
    assert lines[3].split() == ["long", "pass", "pass", "PASS"]
    (run,) = [r for r in fake.requests if r.path == "/workflow/run"]
    sent = run.json["input"]["datasets"]
    assert [d["name"] for d in sent] == ["basic", "long"]
    assert all("last_output" in d for d in sent)


def test_eval_exits_0_when_every_case_passes(
    tmp_path: Path, fake: FakeOutputApi, capsys: pytest.CaptureFixture[str]
) -> None:
    define_eval(fake)
    ran(fake, "probe_three-case-long", "alpha beta gamma delta")
    config = with_datasets(tmp_path, fake, CASES_ENTRY.replace("all", "[long]"))
    code, out, _ = run_main(["eval", "-c", str(config)], capsys)
    assert code == 0
    assert out.splitlines()[0] == "probe_three_eval: 1 pass"


def test_eval_as_json(
    tmp_path: Path, fake: FakeOutputApi, capsys: pytest.CaptureFixture[str]
) -> None:
    define_eval(fake)
    both_ran(fake)
    config = with_datasets(tmp_path, fake)
    code, out, _ = run_main(["eval", "--json", "-c", str(config)], capsys)
    assert code == 1
    (document,) = json.loads(out)["evaluations"]
    assert document["evalWorkflow"] == "probe_three_eval"
    assert document["line"] == "1 pass, 1 fail"
    assert {c["case"]: c["verdict"] for c in document["cases"]} == {
        "basic": "fail",
        "long": "pass",
    }


def test_a_case_without_a_run_is_named_and_fails_the_eval(
    tmp_path: Path, fake: FakeOutputApi, capsys: pytest.CaptureFixture[str]
) -> None:
    define_eval(fake)
    ran(fake, "probe_three-case-long", "alpha beta gamma delta")
    config = with_datasets(tmp_path, fake)
    code, out, err = run_main(["eval", "-c", str(config)], capsys)
    assert code == 1
    assert out.splitlines()[0] == "probe_three_eval: 1 pass"
    assert err == (
        "warning: probe_three/basic: not judged: no run of this case under "
        "probe_three-case-basic yet; `output-reset watch` starts its run\n"
    )


def test_no_eval_workflow_is_one_line_and_exit_1(
    tmp_path: Path, fake: FakeOutputApi, capsys: pytest.CaptureFixture[str]
) -> None:
    both_ran(fake)
    config = with_datasets(tmp_path, fake)
    code, out, err = run_main(["eval", "-c", str(config)], capsys)
    assert (code, out) == (1, "")
    assert err.startswith("error: probe_three: the worker has no eval workflow probe_three_eval")
    assert len(err.splitlines()) == 1


def test_a_config_without_datasets_is_a_usage_error(
    tmp_path: Path, fake: FakeOutputApi, capsys: pytest.CaptureFixture[str]
) -> None:
    config = with_datasets(tmp_path, fake, CASES_ENTRY.replace("    datasets: all\n", ""))
    code, out, err = run_main(["eval", "-c", str(config)], capsys)
    assert (code, out) == (2, "")
    assert err == (
        f"error: no entry of {config} has `datasets:`; add `datasets: all` to a `type:` entry "
        "whose workflow has tests/datasets\n"
    )


def test_a_case_the_eval_output_leaves_out_is_named_and_fails_the_eval(
    tmp_path: Path, fake: FakeOutputApi, capsys: pytest.CaptureFixture[str]
) -> None:
    # An EvalOutput without one of the cases asked read as "1 pass", exit 0: a CI green for
    # a case nobody judged.
    define_eval(fake)
    both_ran(fake)
    config = with_datasets(tmp_path, fake)
    judged = {
        "datasetName": "long",
        "verdict": "pass",
        "evaluators": [{"name": "x", "verdict": "pass"}],
    }
    fake.inject(
        "POST",
        r"/workflow/run$",
        status=200,
        body={
            "v": "2",
            "workflowId": "probe_three_eval-1",
            "runId": "r1",
            "status": "completed",
            "input": {},
            "output": {"cases": [judged]},
            "trace": None,
            "error": None,
        },
    )
    code, out, err = run_main(["eval", "-c", str(config)], capsys)
    assert (code, err) == (1, "")
    assert out.splitlines() == [
        "probe_three_eval: 1 pass",
        "  case  x     verdict",
        "  long  pass  PASS",
        "  basic: not judged: the eval workflow's output has no verdict for it",
    ]
