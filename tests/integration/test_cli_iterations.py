"""log, compare, restore and save-datasets as a user runs them, on a real project folder
whose iterations are recorded through the store's own API (as the daemon will)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from runner.auditlog import AuditLog
from runner.iterations import Iterations
from tests.cli_process import run_main

CLI = Path(__file__).resolve().parents[1] / "fixtures" / "evals" / "cli"
DATASETS = "src/workflows/simple/tests/datasets"
CONFIG = (
    "workflows:\n"
    "  - type: simple\n"
    "    datasets: all\n"
    "    rules:\n"
    "      - files: prompts/*.prompt\n"
    "        rerun: draft\n"
)


def project(root: Path, config: str = CONFIG) -> Path:
    (root / "prompts").mkdir()
    workflow = root / "src" / "workflows" / "simple"
    (workflow / "tests" / "datasets").mkdir(parents=True)
    (workflow / "workflow.ts").write_text("export default workflow({ name: 'simple' });\n")
    (root / DATASETS / "multi.yml").write_text((CLI / "multi_before.yml").read_text())
    (root / "output-reset.yaml").write_text(config)
    return root / "output-reset.yaml"


def eval_output(**verdicts: str) -> dict[str, Any]:
    return {
        "cases": [
            {
                "datasetName": case,
                "verdict": verdict,
                "evaluators": [
                    {
                        "name": "evaluate_sum",
                        "verdict": verdict,
                        "criticality": "required",
                        "confidence": 1,
                        "reasoning": f"{case} is {verdict}",
                    }
                ],
            }
            for case, verdict in verdicts.items()
        ],
        "summary": {"total": len(verdicts)},
    }


def iteration(
    root: Path,
    time: str,
    texts: dict[str, str | None],
    outputs: dict[str, Any],
    verdicts: dict[str, str] | None,
    status: str = "completed",
) -> int:
    """Edit the files as a user would, then record the burst as the daemon will."""
    store = Iterations(root / ".output-reset")
    for path, text in texts.items():
        if text is None:
            (root / path).unlink()
        else:
            (root / path).write_text(text)
    n = len(store.read()) + 1
    cases = [
        {
            "case": case,
            "workflowId": f"simple-case-{case}",
            "oldRunId": f"{case}-{n - 1}",
            "newRunId": f"{case}-{n}",
            "status": status,
            "output": store.keep_json(output) if status == "completed" else None,
            "executionTimeMs": 100 * n,
        }
        for case, output in outputs.items()
    ]
    return store.record(
        {
            "time": time,
            "workflow": "simple",
            "files": [store.snapshot(root, path) for path in texts],
            "cases": cases,
            "eval": store.eval_record("simple", eval_output(**verdicts)) if verdicts else None,
        }
    )


def three_iterations(root: Path) -> None:
    iteration(
        root,
        "2026-12-03T09:00:00.000Z",
        {"prompts/draft.prompt": "Add {{a}} and {{b}}.\n"},
        {"case_a": {"result": 4}, "case_b": {"result": 60}},
        {"case_a": "fail", "case_b": "pass"},
    )
    iteration(
        root,
        "2026-12-03T09:05:00.000Z",
        {"prompts/draft.prompt": "Add {{a}} and {{b}}.\nCheck the sum.\n"},
        {"case_a": {"result": 5}, "case_b": {"result": 60}},
        {"case_a": "pass", "case_b": "pass"},
    )
    iteration(
        root,
        "2026-12-03T09:10:00.000Z",
        {"prompts/draft.prompt": "Sum them.\n", "prompts/tone.prompt": "Be brief.\n"},
        {"case_a": {"result": 6}, "case_b": {"result": 61}},
        {"case_a": "fail", "case_b": "partial"},
    )


# -- log --------------------------------------------------------------------------------------


def audit(root: Path, time: str, new_run: str | None, **more: Any) -> None:
    AuditLog(root / ".output-reset").append(
        {
            "time": time,
            "workflow": "simple/case_a",
            "workflowId": "simple-case-case_a",
            "files": ["prompts/draft.prompt"],
            "action": "reset",
            "anchor": "draft",
            "outcome": "done" if new_run else "no reset",
            "oldRunId": "r0",
            "newRunId": new_run,
            **more,
        }
    )


def test_log_shows_iterations_and_the_resets_outside_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = project(tmp_path)
    audit(tmp_path, "2026-12-03T08:59:00.000+00:00", "case_a-1")  # part of #1
    three_iterations(tmp_path)
    audit(tmp_path, "2026-12-03T09:12:00.000+00:00", "by-hand")  # `output-reset reset`
    code, out, err = run_main(["log", "-c", str(config)], capsys)
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "2026-12-03 09:00:00  #1  simple  2 cases  1 pass, 1 fail  (prompts/draft.prompt)",
        "2026-12-03 09:05:00  #2  simple  2 cases  2 pass (was 1 pass, 1 fail): better  "
        "(prompts/draft.prompt)",
        "2026-12-03 09:10:00  #3  simple  2 cases  1 partial, 1 fail (was 2 pass): worse  "
        "(prompts/draft.prompt, prompts/tone.prompt)",
        "2026-12-03 09:12:00  simple/case_a  done  reset after draft  r0 -> by-hand  "
        "(prompts/draft.prompt)",
    ]
    code, out, _ = run_main(["log", "-n", "2", "-c", str(config)], capsys)
    assert [line.split("  ")[1] for line in out.splitlines()] == ["#3", "simple/case_a"]


def test_log_says_when_an_iteration_had_no_eval_or_a_run_did_not_complete(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = project(tmp_path)
    iteration(
        tmp_path,
        "2026-12-03T09:00:00.000Z",
        {"prompts/draft.prompt": "x\n"},
        {"case_a": None, "case_b": None},
        None,
        status="failed",
    )
    _, out, _ = run_main(["log", "-c", str(config)], capsys)
    assert out == (
        "2026-12-03 09:00:00  #1  simple  2 cases (2 did not complete)  no eval  "
        "(prompts/draft.prompt)\n"
    )


def test_log_without_iterations_reads_as_before_and_json_has_both(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = project(tmp_path)
    code, out, _ = run_main(["log", "-c", str(config)], capsys)
    assert (code, out) == (0, "no resets logged yet\n")
    audit(tmp_path, "2026-12-03T08:59:00.000+00:00", None, why="no rule matched")
    _, out, _ = run_main(["log", "-c", str(config)], capsys)
    assert out == "2026-12-03 08:59:00  simple/case_a  no reset  r0  (prompts/draft.prompt)\n"
    three_iterations(tmp_path)
    _, out, _ = run_main(["log", "--json", "-c", str(config)], capsys)
    document = json.loads(out)
    assert [e["outcome"] for e in document["entries"]] == ["no reset"]
    assert [i["n"] for i in document["iterations"]] == [1, 2, 3]
    assert document["iterations"][1]["eval"]["cases"]["case_a"] == {
        "verdict": "pass",
        "evaluators": {"evaluate_sum": "pass"},
    }


# -- compare ----------------------------------------------------------------------------------


def test_compare_shows_files_outputs_and_verdicts_from_a_to_b(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = project(tmp_path)
    three_iterations(tmp_path)
    code, out, err = run_main(["compare", "2", "3", "-c", str(config)], capsys)
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "#2 -> #3",
        "Files",
        "  prompts/draft.prompt",
        "    @@ -1,2 +1 @@",
        "    -Add {{a}} and {{b}}.",
        "    -Check the sum.",
        "    +Sum them.",
        "  prompts/tone.prompt: not recorded by #2",
        "Outputs of simple",
        "  case_a  (run case_a-2 -> case_a-3)",
        "    @@ -1,3 +1,3 @@",
        "     {",
        '    -  "result": 5',
        '    +  "result": 6',
        "     }",
        "  case_b  (run case_b-2 -> case_b-3)",
        "    @@ -1,3 +1,3 @@",
        "     {",
        '    -  "result": 60',
        '    +  "result": 61',
        "     }",
        "Verdicts of simple: 1 partial, 1 fail (was 2 pass): worse",
        "  case_a: pass -> fail (regressed)",
        "    evaluate_sum: pass -> fail",
        "  case_b: pass -> partial (regressed)",
        "    evaluate_sum: pass -> partial",
    ]


def test_compare_of_iterations_that_left_things_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = project(tmp_path)
    three_iterations(tmp_path)
    iteration(
        tmp_path,
        "2026-12-03T09:15:00.000Z",
        {"prompts/tone.prompt": None},
        {"case_a": {"result": 6}},
        None,
    )
    _, out, _ = run_main(["compare", "3", "4", "-c", str(config)], capsys)
    assert out.splitlines() == [
        "#3 -> #4",
        "Files",
        "  prompts/tone.prompt (deleted)",
        "    @@ -1 +0,0 @@",
        "    -Be brief.",
        "Outputs of simple",
        "  case_a: same output  (run case_a-3 -> case_a-4)",
        "  case_b: same output  (run case_b-3)",
        "Verdicts of simple: 1 partial, 1 fail (was 1 partial, 1 fail): same",
        "  2 cases the same",
    ]


@pytest.mark.parametrize(
    ("recorded", "message"),
    [
        (True, "error: no iteration 9 (the log has #1 to #3)\n"),
        (False, "error: no iteration 1: none is recorded yet\n"),
    ],
)
def test_compare_with_an_unknown_iteration_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], recorded: bool, message: str
) -> None:
    config = project(tmp_path)
    if recorded:
        three_iterations(tmp_path)
    code, out, err = run_main(["compare", "1", "9", "-c", str(config)], capsys)
    assert (code, out, err) == (2, "", message)
