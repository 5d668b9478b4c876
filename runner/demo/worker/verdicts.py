"""Output's eval rules as plain functions (sdk/evals: interpret.ts, aggregateCaseVerdict, the
summary; docs/output-api.md §8.3-§8.5), for the example's eval workflow and for the Output API
double in tests/fakeapi. Pure and standard-library only: Temporal's workflow sandbox imports
this module."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

ERROR_EVALUATOR = "_error"
ERROR_REASONING = "Activity task failed"  # the generic ActivityFailure message (e-08, e-17)
VERDICTS = ("pass", "partial", "fail")


def interpret(spec: Mapping[str, Any], value: Any) -> str:
    """An evaluator's value as a verdict. `spec` is Output's `interpret`: `{"type": "boolean"}`,
    `{"type": "verdict"}`, `{"type": "number", "pass": 0.8, "partial"?: 0.5}` or
    `{"type": "string", "pass": [...], "partial"?: [...]}`."""
    kind = spec["type"]
    if kind == "boolean":
        return "pass" if value is True else "fail"
    if kind == "verdict":
        return value if value in ("pass", "partial") else "fail"
    if kind == "number":
        # `typeof value !== 'number' || isNaN(value)` fails: "0.9", true and NaN do.
        if not isinstance(value, int | float) or isinstance(value, bool) or math.isnan(value):
            return "fail"
        partial = spec.get("partial")
        if value >= spec["pass"]:
            return "pass"
        return "partial" if partial is not None and value >= partial else "fail"
    if value in spec.get("pass", ()):
        return "pass"
    return "partial" if value in spec.get("partial", ()) else "fail"


def evaluator_input(dataset: Mapping[str, Any], evaluator: str) -> dict[str, Any]:
    """What evaluator activity `evaluator` gets for a case: `{input, output?, ground_truth}`,
    the case's ground truth with its `evals.<evaluator>` entry merged over it and `evals`
    removed (e-09); no `output` key when the case has no last_output."""
    truth = dict(dataset.get("ground_truth") or {})
    own = (truth.pop("evals", None) or {}).get(evaluator) or {}
    arg: dict[str, Any] = {"input": dataset["input"]}
    last = dataset.get("last_output")
    if isinstance(last, Mapping) and "output" in last:
        arg["output"] = last["output"]
    arg["ground_truth"] = {**truth, **own}
    return arg


def evaluator_result(
    name: str, criticality: str, spec: Mapping[str, Any], raw: Mapping[str, Any]
) -> dict[str, Any]:
    """An EvaluatorResult from the evaluator's EvaluationResult: `feedback` only when it is not
    empty, `dimensions` dropped (§2.4)."""
    result: dict[str, Any] = {
        "name": name,
        "verdict": interpret(spec, raw.get("value")),
        "criticality": criticality,
    }
    for key in ("confidence", "reasoning"):
        if raw.get(key) is not None:
            result[key] = raw[key]
    if raw.get("feedback"):
        result["feedback"] = list(raw["feedback"])
    return result


def error_case(name: str) -> dict[str, Any]:
    """A case whose evaluator threw: the other evaluators' results are lost (§2.4)."""
    error = {
        "name": ERROR_EVALUATOR,
        "verdict": "fail",
        "criticality": "required",
        "reasoning": ERROR_REASONING,
    }
    return {"datasetName": name, "verdict": "fail", "evaluators": [error]}


def judged_case(name: str, results: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """`aggregateCaseVerdict`: a failed required evaluator fails the case, else a partial one
    makes it partial; informational evaluators never count (no required one: pass)."""
    required = [r["verdict"] for r in results if r["criticality"] == "required"]
    verdict = "fail" if "fail" in required else "partial" if "partial" in required else "pass"
    return {"datasetName": name, "verdict": verdict, "evaluators": list(results)}


def summary(cases: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """`acceptableRate = (passed + partial) / total`, 0 without cases (e-11)."""
    total = len(cases)
    count = {verdict: sum(1 for c in cases if c["verdict"] == verdict) for verdict in VERDICTS}
    rate = (count["pass"] + count["partial"]) / total if total else 0
    return {
        "total": total,
        "passed": count["pass"],
        "partial": count["partial"],
        "failed": count["fail"],
        "acceptableRate": int(rate) if float(rate).is_integer() else rate,  # JSON's 1, not 1.0
    }
