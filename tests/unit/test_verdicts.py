"""Output's eval rules (runner/demo/worker/verdicts.py, docs/output-api.md §8.5), which the
example's eval workflow and the Output API double both follow: plain data in and out."""

from __future__ import annotations

import math
from typing import Any

import pytest

from runner.demo.worker.verdicts import (
    error_case,
    evaluator_input,
    evaluator_result,
    interpret,
    judged_case,
    summary,
)

NUMBER = {"type": "number", "pass": 0.8, "partial": 0.5}
STRING = {"type": "string", "pass": ["good"], "partial": ["ok"]}


@pytest.mark.parametrize(
    ("spec", "value", "verdict"),
    [
        ({"type": "boolean"}, True, "pass"),
        ({"type": "boolean"}, 1, "fail"),
        ({"type": "boolean"}, "true", "fail"),
        ({"type": "verdict"}, "pass", "pass"),
        ({"type": "verdict"}, "partial", "partial"),
        ({"type": "verdict"}, "maybe", "fail"),
        (NUMBER, 0.8, "pass"),
        (NUMBER, 0.5, "partial"),
        (NUMBER, 0.49, "fail"),
        ({"type": "number", "pass": 0.8}, 0.7, "fail"),
        (NUMBER, "0.9", "fail"),
        (NUMBER, math.nan, "fail"),
        (NUMBER, True, "fail"),
        (STRING, "good", "pass"),
        (STRING, "ok", "partial"),
        (STRING, "bad", "fail"),
    ],
)
def test_interpretation_follows_output_s_table(
    spec: dict[str, Any], value: Any, verdict: str
) -> None:
    assert interpret(spec, value) == verdict


def test_informational_evaluators_never_decide_a_case() -> None:
    def result(verdict: str, criticality: str = "required") -> dict[str, Any]:
        return {"name": "e", "verdict": verdict, "criticality": criticality}

    assert judged_case("a", [result("pass"), result("fail", "informational")])["verdict"] == "pass"
    assert judged_case("b", [result("partial"), result("pass")])["verdict"] == "partial"
    assert judged_case("c", [result("partial"), result("fail")])["verdict"] == "fail"
    assert judged_case("d", [result("fail", "informational")])["verdict"] == "pass"


def test_the_summary_counts_partial_as_acceptable() -> None:
    cases = [{"verdict": v} for v in ("pass", "partial", "fail", "fail")]
    assert summary(cases) == {
        "total": 4,
        "passed": 1,
        "partial": 1,
        "failed": 2,
        "acceptableRate": 0.5,
    }
    assert summary([])["acceptableRate"] == 0
    assert repr(summary([{"verdict": "pass"}])["acceptableRate"]) == "1"  # JSON's 1, not 1.0


def test_an_evaluator_gets_the_ground_truth_merged_for_it() -> None:
    dataset = {
        "name": "c",
        "input": {"values": [1]},
        "ground_truth": {"notes": "global", "min": 1, "evals": {"sum": {"min": 2}}},
    }
    assert evaluator_input(dataset, "sum") == {
        "input": {"values": [1]},
        "ground_truth": {"notes": "global", "min": 2},
    }
    with_output = {**dataset, "last_output": {"output": None, "date": "d"}}
    assert evaluator_input(with_output, "other")["output"] is None
    assert "evals" not in evaluator_input(with_output, "other")["ground_truth"]


def test_a_result_keeps_feedback_only_when_there_is_some() -> None:
    raw = {"value": 0.6, "confidence": 0.9, "feedback": [], "dimensions": []}
    assert evaluator_result("score", "required", NUMBER, raw) == {
        "name": "score",
        "verdict": "partial",
        "criticality": "required",
        "confidence": 0.9,
    }
    assert error_case("x")["evaluators"][0]["reasoning"] == "Activity task failed"
