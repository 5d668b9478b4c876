"""Workflow input validation as Output's workflow wrapper does it, and how a failed check ends
a run.

Output validates a workflow's input inside the workflow, after `getTraceDestinations`: a bad
input is not a 400 but a run that fails with a `ValidationError` whose message is zod's
`prettifyError` text (recordings e-12, e-21). Eval workflows check their input against
`DatasetSchema` (docs/output-api.md §8.2); ordinary workflows here take a check function from
the test.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from tests.fakeapi.events import Attributes, long
from tests.fakeapi.validation import MISSING, received

Path = tuple[str | int, ...]
Issue = tuple[str, Path]  # zod's message and the path it names
InputCheck = Callable[[Any], list[Issue]]  # an ordinary workflow's input schema, as a function

VERDICTS = ("pass", "partial", "fail")
CRITICALITIES = ("required", "informational")


def invalid_type(expected: str, value: Any, *path: str | int) -> Issue:
    return (f"Invalid input: expected {expected}, received {received(value)}", path)


def invalid_option(options: tuple[str, ...], *path: str | int) -> Issue:
    shown = "|".join(f'"{option}"' for option in options)
    return (f"Invalid option: expected one of {shown}", path)


def prettify(issues: list[Issue]) -> str:
    """zod v4's `prettifyError`: one `✖ message` per issue (shortest path first), each with
    `→ at datasets[0].name` when it has a path."""
    lines: list[str] = []
    for message, path in sorted(issues, key=lambda issue: len(issue[1])):
        lines.append(f"✖ {message}")
        if path:
            lines.append(f"  → at {_dot_path(path)}")
    return "\n".join(lines)


def failure_message(workflow_name: str, issues: list[Issue]) -> str:
    return f'Workflow "{workflow_name}" input validation failed: {prettify(issues)}'


def _dot_path(path: Path) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


# --- DatasetSchema (sdk/evals/src/schemas.ts), what an eval workflow checks -------------------


def dataset_issues(value: Any) -> list[Issue]:
    """The issues zod finds in an eval workflow's input `{datasets: Dataset[]}`."""
    if not isinstance(value, dict):
        return [invalid_type("object", value)]
    datasets = value.get("datasets", MISSING)
    if not isinstance(datasets, list):
        return [invalid_type("array", datasets, "datasets")]
    issues: list[Issue] = []
    for index, case in enumerate(datasets):
        issues += _case_issues(case, ("datasets", index))
    return issues


def _case_issues(case: Any, at: Path) -> list[Issue]:
    if not isinstance(case, dict):
        return [invalid_type("object", case, *at)]
    issues = _typed(case, "name", "string", at, required=True)
    issues += _typed(case, "input", "record", at, required=True)
    truth = case.get("ground_truth", MISSING)
    if truth is not MISSING:
        if not isinstance(truth, dict):
            issues.append(invalid_type("object", truth, *at, "ground_truth"))
        else:
            issues += _records(truth, (*at, "ground_truth"))
    for key in ("last_output", "last_eval"):
        issues += _last(case, key, at)
    return issues


def _records(truth: Mapping[str, Any], at: Path) -> list[Issue]:
    evals = truth.get("evals", MISSING)
    if evals is MISSING:
        return []
    if not isinstance(evals, dict):
        return [invalid_type("record", evals, *at, "evals")]
    return [
        invalid_type("record", per, *at, "evals", name)
        for name, per in evals.items()
        if not isinstance(per, dict)
    ]


def _last(case: Mapping[str, Any], key: str, at: Path) -> list[Issue]:
    """`last_output: {output: any, executionTimeMs?: number, date: string}`; `last_eval` is the
    same with an EvalCase as its output. Unknown keys are stripped, not refused (e-28)."""
    last = case.get(key, MISSING)
    if last is MISSING:
        return []
    here = (*at, key)
    if not isinstance(last, dict):
        return [invalid_type("object", last, *here)]
    issues: list[Issue] = []
    if key == "last_eval":
        issues += _eval_case(last.get("output", MISSING), (*here, "output"))
    issues += _typed(last, "executionTimeMs", "number", here, required=False)
    issues += _typed(last, "date", "string", here, required=True)
    return issues


def _eval_case(value: Any, at: Path) -> list[Issue]:
    if not isinstance(value, dict):
        return [invalid_type("object", value, *at)]
    issues = _typed(value, "datasetName", "string", at, required=True)
    issues += _option(value, "verdict", VERDICTS, at)
    evaluators = value.get("evaluators", MISSING)
    if not isinstance(evaluators, list):
        return [*issues, invalid_type("array", evaluators, *at, "evaluators")]
    for index, result in enumerate(evaluators):
        here = (*at, "evaluators", index)
        if not isinstance(result, dict):
            issues.append(invalid_type("object", result, *here))
            continue
        issues += _typed(result, "name", "string", here, required=True)
        issues += _option(result, "verdict", VERDICTS, here)
        issues += _option(result, "criticality", CRITICALITIES, here)
        issues += _typed(result, "confidence", "number", here, required=False)
        issues += _typed(result, "reasoning", "string", here, required=False)
        issues += _typed(result, "feedback", "array", here, required=False)
    return issues


_KINDS: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "record": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
}


def _typed(
    body: Mapping[str, Any], key: str, expected: str, at: Path, *, required: bool
) -> list[Issue]:
    value = body.get(key, MISSING)
    if (value is MISSING and not required) or (value is not MISSING and _KINDS[expected](value)):
        return []
    return [invalid_type(expected, value, *at, key)]


def _option(body: Mapping[str, Any], key: str, options: tuple[str, ...], at: Path) -> list[Issue]:
    if body.get(key, MISSING) in options:
        return []
    return [invalid_option(options, *at, key)]


# --- the failed run ---------------------------------------------------------------------------


def workflow_execution_failed_validation(
    message: str, wft_completed_id: int
) -> tuple[str, Attributes]:
    # Not recorded as an event: the failure Temporal keeps for an ApplicationFailure thrown by
    # the workflow (Output's ValidationError is a FatalError, so non-retryable).
    return "WORKFLOW_EXECUTION_FAILED", {
        "failure": {
            "message": message,
            "source": "TypeScriptSDK",
            "stackTrace": f"ValidationError: {message}",
            "applicationFailureInfo": {"type": "ValidationError", "nonRetryable": True},
        },
        "retryState": 2,  # RETRY_STATE_NON_RETRYABLE_FAILURE
        "workflowTaskCompletedEventId": long(wft_completed_id),
    }


def result_error(failure: Mapping[str, Any]) -> dict[str, Any]:
    """The `error` of a failed run's v2 result: a step's failure names its activity; a failure
    thrown by the workflow itself is `{message, name}` (e-12, e-21)."""
    info = failure.get("activityFailureInfo")
    if info is not None:
        return {
            "activityType": info["activityType"]["name"],
            "name": "Error",
            "message": failure["cause"]["message"],
        }
    return {"message": failure["message"], "name": failure["applicationFailureInfo"]["type"]}
