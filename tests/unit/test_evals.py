"""Eval verdicts: Output's EvalOutput read, lined up with the previous iteration's, in one line."""

from __future__ import annotations

from typing import Any

import pytest

from runner.errors import BadAnswer
from runner.evals import Judged, case_verdict, matrix, parse, verdict_line
from tests.recordings import eval_recording


def case(name: str, *verdicts: tuple[str, str], informational: str = "") -> dict[str, Any]:
    evaluators = [
        {
            "name": e,
            "verdict": v,
            "criticality": "informational" if e == informational else "required",
            "reasoning": f"{e} says {v}",
        }
        for e, v in verdicts
    ]
    verdict = parse({"cases": [{"datasetName": name, "evaluators": evaluators}]})[0].verdict
    return {"datasetName": name, "verdict": verdict, "evaluators": evaluators}


def test_the_recorded_mixed_output_including_an_error_case() -> None:
    output = eval_recording("e-08")["response"]["output"]
    cases = parse(output)
    assert [(c.case, c.verdict) for c in cases] == [
        ("ok_with_truth", "pass"),
        ("wrong_sum", "fail"),
        ("output_missing_result", "fail"),
        ("no_last_output", "fail"),
    ]
    assert cases[2].error == "Activity task failed"
    table = matrix(cases)
    assert table.evaluators == ("evaluate_sum",)  # _error is not an evaluator column
    assert table.rows[2].cells[0].verdict is None
    assert verdict_line(table) == "1 pass, 3 fail"
    assert table.trend == "first"


def test_better_worse_mixed_and_same() -> None:
    before = parse({"cases": [case("a", ("e", "partial")), case("b", ("e", "pass"))]})
    better = parse({"cases": [case("a", ("e", "pass")), case("b", ("e", "pass"))]})
    worse = parse({"cases": [case("a", ("e", "partial")), case("b", ("e", "fail"))]})
    mixed = parse({"cases": [case("a", ("e", "pass")), case("b", ("e", "fail"))]})
    assert verdict_line(matrix(better, before)) == "2 pass (was 1 pass, 1 partial): better"
    assert verdict_line(matrix(worse, before)) == "1 partial, 1 fail (was 1 pass, 1 partial): worse"
    assert matrix(mixed, before).trend == "mixed"
    assert matrix(before, before).trend == "same"
    row = matrix(worse, before).rows[1]
    assert (row.change, row.cells[0].change) == ("regressed", "regressed")


def test_an_evaluator_that_changed_counts_even_when_the_case_did_not() -> None:
    before = parse({"cases": [case("a", ("e", "fail"), ("tone", "fail"))]})
    now = parse({"cases": [case("a", ("e", "fail"), ("tone", "pass"))]})
    assert matrix(now, before).trend == "better"


def test_informational_evaluators_never_decide_the_case() -> None:
    judged = [Judged("e", "pass", True), Judged("style", "fail", False)]
    assert case_verdict(judged) == "pass"
    assert case_verdict([Judged("e", "partial", True), Judged("f", "pass", True)]) == "partial"
    assert case_verdict([]) == "pass"


@pytest.mark.parametrize(
    "output",
    [
        None,
        {"cases": {}},
        {"cases": [1]},
        {"cases": [{"datasetName": "a"}]},
        {"cases": [{"datasetName": "a", "evaluators": [{"name": "e", "verdict": "maybe"}]}]},
    ],
)
def test_what_is_not_an_eval_output_is_a_bad_answer(output: Any) -> None:
    with pytest.raises(BadAnswer):
        parse(output)
