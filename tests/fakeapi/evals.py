"""Output's eval workflows in the fake: evaluators, their interpretation, and the eval run's replay.

An eval workflow (`evalWorkflow` in sdk/evals, docs/output-api.md §8.3) is an ordinary traced
workflow whose input is `{datasets: [...]}`: after `getTraceDestinations` it runs the cases in
parallel (10 at a time), each case's evaluators one after the other as activities
`<eval name>#<evaluator>`, and completes with an EvalOutput. An evaluator that throws replaces its
whole case with the single `_error` entry (docs/output-api.md §8.5). Tests give each evaluator a
Python function in place of Output's code; verdicts and the summary follow Output's rules as
runner/demo/worker/verdicts.py has them."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from runner.demo.worker.verdicts import (
    error_case,
    evaluator_input,
    evaluator_result,
    interpret,
    judged_case,
    summary,
)
from tests.fakeapi import events as ev
from tests.fakeapi.inputs import dataset_issues, failure_message
from tests.fakeapi.program import (
    NAME_RE,
    Command,
    CompleteWorkflow,
    ScheduleActivity,
    Step,
    WorkflowDef,
    index_history,
    plan,
    replay,
)
from tests.fakeapi.validation import MISSING
from tests.recordings import eval_recording

EVAL_SUFFIX = "_eval"
DEFAULT_CONCURRENCY = 10

Criticality = Literal["required", "informational"]


@dataclass(frozen=True)
class Interpret:
    """How an evaluator's value becomes a verdict (interpret.ts; docs/output-api.md §8.5)."""

    type: Literal["boolean", "verdict", "number", "string"]
    passing: float | tuple[str, ...] | None = None
    partial: float | tuple[str, ...] | None = None

    @classmethod
    def boolean(cls) -> Interpret:
        return cls("boolean")

    @classmethod
    def verdict(cls) -> Interpret:
        return cls("verdict")

    @classmethod
    def number(cls, passing: float, partial: float | None = None) -> Interpret:
        return cls("number", passing, partial)

    @classmethod
    def string(cls, passing: Sequence[str], partial: Sequence[str] = ()) -> Interpret:
        return cls("string", tuple(passing), tuple(partial))

    def spec(self) -> dict[str, Any]:
        """Output's `interpret` object."""
        spec: dict[str, Any] = {"type": self.type}
        for key, value in (("pass", self.passing), ("partial", self.partial)):
            if value is not None:
                spec[key] = list(value) if isinstance(value, tuple) else value
        return spec

    def verdict_of(self, value: Any) -> str:
        return interpret(self.spec(), value)


@dataclass(frozen=True)
class Judgement:
    """What an evaluator returns (Output's EvaluationResult); a plain value means confidence 1
    and no reasoning, as the deterministic `Verdict` helpers give."""

    value: Any
    confidence: float = 1
    reasoning: str | None = None
    feedback: tuple[Any, ...] = ()


# (input, output, ground_truth) -> a value or a Judgement; `output` is MISSING when the case has
# no last_output (Output sends no `output` key). Raising fails the activity with str(error).
EvaluatorFn = Callable[[Any, Any, dict[str, Any]], Any]


@dataclass(frozen=True)
class Evaluator:
    name: str
    fn: EvaluatorFn
    interpret: Interpret
    criticality: Criticality = "required"
    duration_s: float = 0.0
    gate: threading.Event | None = field(default=None, compare=False)

    def step(self) -> Step:
        return Step(self.name, duration_s=self.duration_s, gate=self.gate)


@dataclass(frozen=True)
class EvalDef:
    evaluators: tuple[Evaluator, ...]
    concurrency: int = DEFAULT_CONCURRENCY

    def judge(self, name: str, arg: Any) -> tuple[bool, Any]:
        """Run evaluator `name` on an activity input: (True, the activity's result) or
        (False, the failure message)."""
        evaluator = next(e for e in self.evaluators if e.name == name)
        try:
            returned = evaluator.fn(
                arg.get("input"), arg.get("output", MISSING), dict(arg.get("ground_truth") or {})
            )
        except Exception as error:  # the evaluator threw: the activity fails with its message
            return False, str(error) or type(error).__name__
        judged = returned if isinstance(returned, Judgement) else Judgement(returned)
        result: dict[str, Any] = {"value": judged.value, "confidence": judged.confidence}
        if judged.reasoning is not None:
            result["reasoning"] = judged.reasoning
        result["feedback"] = list(judged.feedback)
        result["dimensions"] = []
        return True, result


def eval_workflow(name: str, evaluators: Sequence[Evaluator], concurrency: int) -> WorkflowDef:
    if not name.endswith(EVAL_SUFFIX):
        raise ValueError(f"an eval workflow's name ends with {EVAL_SUFFIX}: {name!r}")
    if not evaluators:
        raise ValueError(f"eval workflow {name!r} has no evaluators")
    for evaluator in evaluators:
        if not NAME_RE.match(evaluator.name):
            raise ValueError(f"invalid evaluator name {evaluator.name!r}")
    return WorkflowDef(name, [], evaluation=EvalDef(tuple(evaluators), concurrency))


# --- one workflow task of an eval run -------------------------------------------------------


def eval_commands(
    definition: WorkflowDef, history: Sequence[ev.Event], workflow_input: Any
) -> list[Command]:
    """The commands of the eval run's next workflow task, replayed from its history like
    `program.replay`: the framework's trace stage and memos first (the same as any traced
    workflow), then the cases as far as their activities have closed."""
    evaluation = definition.evaluation
    assert evaluation is not None
    issues = dataset_issues(workflow_input)
    invalid = failure_message(definition.name, issues) if issues else None
    stages = plan(definition, is_root=True)
    prefix = replay(stages, history, workflow_input, definition.name, invalid)
    if not prefix or not isinstance(prefix[-1], CompleteWorkflow):
        return prefix  # still in the framework's part, or the input was refused
    commands: list[Command] = prefix[:-1]  # the memo upserts that go with this task
    datasets: list[dict[str, Any]] = workflow_input["datasets"]
    index = index_history(history)
    progress = _Progress(len(evaluation.evaluators), len(datasets), evaluation.concurrency)
    user_ids = index.scheduled[1:]  # after getTraceDestinations
    for scheduled_id, (ok, outcome) in index.closed.items():  # in the order they closed
        if scheduled_id in user_ids:
            progress.closed(user_ids.index(scheduled_id), ok, outcome)
    for offset, (case, position) in enumerate(progress.scheduled[len(user_ids) :]):
        evaluator = evaluation.evaluators[position]
        arg = evaluator_input(datasets[case], evaluator.name)
        activity_id = len(index.scheduled) + offset + 1
        commands.append(ScheduleActivity(activity_id, evaluator.step(), False, arg))
    if progress.finished == len(datasets):
        commands.append(CompleteWorkflow(eval_output(evaluation, datasets, progress)))
    return commands


class _Progress:
    """`executeInParallel`: up to `concurrency` cases at once, a freed slot taking the next
    case; within a case the evaluators in order, a failure ending the case."""

    def __init__(self, evaluators: int, cases: int, concurrency: int) -> None:
        self.evaluators = evaluators
        self.cases = cases
        self.scheduled: list[tuple[int, int]] = []  # (case, evaluator position), in order
        self.results: list[list[Any]] = [[] for _ in range(cases)]
        self.errors: set[int] = set()
        self.finished = 0
        self._next_case = 0
        for _ in range(min(concurrency, cases)):
            self._begin_next()

    def _begin_next(self) -> None:
        if self._next_case < self.cases:
            self.scheduled.append((self._next_case, 0))
            self._next_case += 1

    def closed(self, nth: int, ok: bool, outcome: Any) -> None:
        case, position = self.scheduled[nth]
        if ok:
            self.results[case].append(outcome)
            if position + 1 < self.evaluators:
                self.scheduled.append((case, position + 1))
                return
        else:
            self.errors.add(case)
        self.finished += 1
        self._begin_next()


def eval_output(
    evaluation: EvalDef, datasets: list[dict[str, Any]], progress: _Progress
) -> dict[str, Any]:
    cases: list[dict[str, Any]] = []
    for case, dataset in enumerate(datasets):
        if case in progress.errors:
            cases.append(error_case(dataset["name"]))
            continue
        results = [
            evaluator_result(e.name, e.criticality, e.interpret.spec(), raw)
            for e, raw in zip(evaluation.evaluators, progress.results[case], strict=True)
        ]
        cases.append(judged_case(dataset["name"], results))
    return {"cases": cases, "summary": summary(cases)}


# --- the catalog ---------------------------------------------------------------------------------


def catalog_entry(definition: WorkflowDef) -> dict[str, Any]:
    """One `GET /workflow/catalog` entry; an eval workflow's as e-01 shows it."""
    if definition.evaluation is None:
        schema = {"$schema": "https://json-schema.org/draft/2020-12/schema"}
        return {
            "name": definition.name,
            "description": f"Fake workflow {definition.name}",
            "inputSchema": schema,
            "outputSchema": schema,
            "path": f"/app/dist/workflows/{definition.name}/workflow.js",
            "activities": [],
            "aliases": list(definition.aliases),
        }
    schemas = _eval_schemas()
    folder = definition.name.removesuffix(EVAL_SUFFIX)
    return {
        "name": definition.name,
        "description": f"Eval workflow for {definition.name}",
        "inputSchema": schemas["inputSchema"],
        "outputSchema": schemas["outputSchema"],
        "path": f"/app/dist/workflows/{folder}/tests/evals/workflow.js",
        "activities": [],
        "aliases": list(definition.aliases),
    }


def _eval_schemas() -> dict[str, Any]:
    """Every eval workflow has the same schemas (`{datasets}` in, EvalOutput out): e-01's."""
    entries = eval_recording("e-01")["response"]["workflows"]
    entry: dict[str, Any] = next(e for e in entries if e["name"] == "simple_eval")
    return entry
