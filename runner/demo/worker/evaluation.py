"""`blog_digest_eval`: blog_digest's eval workflow, shaped like Output's, no LLM
(docs/output-api.md §8.3).

Input `{"datasets": [{"name", "input", "ground_truth"?, "last_output"?: {"output", "date"}}]}`,
output an EvalOutput `{"cases": [...], "summary": {...}}`, both as Output's `evalWorkflow` has
them. As there: the cases run in parallel (10 at a time), each case's evaluators in order, each
evaluator the activity `blog_digest_eval#<name>` (evaluators.py) given `{input, output?,
ground_truth}`; one that throws turns its whole case into the single `_error` entry, and an
input that does not fit fails the run with a ValidationError. Workflow code: deterministic, no
I/O (Temporal's sandbox imports this module).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

from runner.demo.worker.verdicts import (
    error_case,
    evaluator_input,
    evaluator_result,
    judged_case,
    summary,
)

EVAL_WORKFLOW = "blog_digest_eval"
CONCURRENCY = 10  # Output's default `config.concurrency`


@dataclass(frozen=True, slots=True)
class Judge:
    """One entry of `evals`: an evaluator, its criticality and how its value is read."""

    name: str
    criticality: str  # "required" or "informational"
    interpret: dict[str, Any]


JUDGES = (
    # pass when the digest's text mentions the case's topic word
    Judge("mentions_topic", "required", {"type": "boolean"}),
    # min(1, max_words / words): within the limit passes, up to a third over it is partial
    Judge("digest_length", "required", {"type": "number", "pass": 1, "partial": 0.75}),
    # "plain" without jargon words, "mixed" with one; informational: never fails a case
    Judge(
        "plain_words", "informational", {"type": "string", "pass": ["plain"], "partial": ["mixed"]}
    ),
)

_TIMEOUT = timedelta(seconds=30)
_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    maximum_attempts=3,
    non_retryable_error_types=["ValidationError"],  # Output's FatalError
)


@workflow.defn(name=EVAL_WORKFLOW)
class BlogDigestEval:
    @workflow.run
    async def run(self, request: dict[str, Any]) -> dict[str, Any]:
        problem = input_problem(request)
        if problem is not None:
            raise ApplicationError(
                f'Workflow "{EVAL_WORKFLOW}" input validation failed: {problem}',
                type="ValidationError",
                non_retryable=True,
            )
        slots = asyncio.Semaphore(CONCURRENCY)
        cases = await asyncio.gather(*(_case(dataset, slots) for dataset in request["datasets"]))
        return {"cases": list(cases), "summary": summary(cases)}


async def _case(dataset: dict[str, Any], slots: asyncio.Semaphore) -> dict[str, Any]:
    async with slots:
        results: list[dict[str, Any]] = []
        for judge in JUDGES:
            try:
                raw: dict[str, Any] = await workflow.execute_activity(
                    f"{EVAL_WORKFLOW}#{judge.name}",
                    evaluator_input(dataset, judge.name),
                    start_to_close_timeout=_TIMEOUT,
                    retry_policy=_RETRY,
                    result_type=dict,
                )
            except ActivityError:
                return error_case(dataset["name"])
            results.append(evaluator_result(judge.name, judge.criticality, judge.interpret, raw))
        return judged_case(dataset["name"], results)


def input_problem(request: Any) -> str | None:
    """The first way `request` does not fit `{datasets: Dataset[]}`, worded as zod does; the
    keys checked are those the workflow reads (Output's schema checks a few more)."""
    datasets = request.get("datasets") if isinstance(request, dict) else None
    if not isinstance(datasets, list):
        return _issue("array", datasets, "datasets")
    for index, dataset in enumerate(datasets):
        at = f"datasets[{index}]"
        if not isinstance(dataset, dict):
            return _issue("object", dataset, at)
        if not isinstance(dataset.get("name"), str):
            return _issue("string", dataset.get("name"), f"{at}.name")
        if not isinstance(dataset.get("input"), dict):
            return _issue("record", dataset.get("input"), f"{at}.input")
        last = dataset.get("last_output")
        if last is not None and not isinstance(last, dict):
            return _issue("object", last, f"{at}.last_output")
        if last is not None and not isinstance(last.get("date"), str):
            return _issue("string", last.get("date"), f"{at}.last_output.date")
    return None


_JSON_KINDS = {bool: "boolean", int: "number", float: "number", str: "string", list: "array"}


def _issue(expected: str, value: Any, path: str) -> str:
    received = "undefined" if value is None else _JSON_KINDS.get(type(value), "object")
    return f"✖ Invalid input: expected {expected}, received {received}\n  → at {path}"
