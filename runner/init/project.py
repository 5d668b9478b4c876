"""What `output-reset init` finds in an Output project: workflows, their steps and prompts.

The scanner produces these and the renderer reads them; nothing here does I/O. A workflow
that another one starts as a child has no entry of its own: its steps are part of every run
of the workflows that start it (`Project.sequence`), so its files are rules of theirs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Kind = Literal["step", "evaluator"]


@dataclass(frozen=True, slots=True, kw_only=True)
class PromptUse:
    """A `prompt: 'name@v1'` a step reaches, and the file Output loads for it."""

    name: str
    path: Path  # the `<name>.prompt` file
    file: Path  # the source that names it: the step's file, or a helper module it imports
    line: int  # where `file` names it
    skills: tuple[Path, ...] = ()  # folders (or single .md files) of skills the prompt loads
    guessed: bool = False  # in a helper no step visibly calls: counted for every step of the file


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    """A step or evaluator: `name` is the `name:` value, the name resets use."""

    name: str
    export: str  # the exported identifier the workflow imports and calls
    kind: Kind
    file: Path  # the file that declares it
    line: int
    shared: bool  # declared under src/shared/steps or src/shared/evaluators
    prompts: tuple[PromptUse, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Workflow:
    name: str  # the workflow type (`workflow({ name })`), not the directory name
    directory: Path
    file: Path  # its workflow.ts
    disable_trace: bool
    calls: tuple[Step | str, ...] = ()  # its steps, and the child workflows it starts (by name)
    is_eval: bool = False  # evalWorkflow({ evals }): `calls` are in the order of `evals`
    cases: tuple[str, ...] = ()  # the names of its dataset cases (tests/datasets/*.yml)

    @property
    def steps(self) -> tuple[Step, ...]:
        """Its own steps and evaluators, in the order `fn` calls them."""
        return tuple(c for c in self.calls if isinstance(c, Step))

    @property
    def children(self) -> tuple[str, ...]:
        return tuple(c for c in self.calls if isinstance(c, str))

    @property
    def evaluators(self) -> tuple[Step, ...]:
        return tuple(s for s in self.steps if s.kind == "evaluator")

    @property
    def shared_files(self) -> tuple[Path, ...]:
        return tuple(dict.fromkeys(s.file for s in self.steps if s.shared))

    @property
    def skills(self) -> tuple[Path, ...]:
        """Skill folders (or files) that prompts of these steps load, first use first."""
        found = (k for s in self.steps for p in s.prompts for k in p.skills)
        return tuple(dict.fromkeys(found))


@dataclass(frozen=True, slots=True)
class StepCall:
    """A step in a run of an entry's workflow: one of its own, or one of a child's."""

    workflow: str  # the workflow that declares the call
    step: Step
    child: bool  # called by a child (or a child's child) of the entry's workflow

    @property
    def rule_name(self) -> str:
        """How a rule names it: `step`, or `child#step`, the activity type, for a child's."""
        return f"{self.workflow}#{self.step.name}" if self.child else self.step.name


@dataclass(frozen=True, slots=True, kw_only=True)
class Project:
    root: Path
    workflows: tuple[Workflow, ...]
    warnings: tuple[str, ...] = ()  # one line each: `path:line: what could not be followed`

    def workflow(self, name: str) -> Workflow | None:
        return next((w for w in self.workflows if w.name == name), None)

    def descendants(self, workflow: Workflow) -> tuple[Workflow, ...]:
        """The workflows it starts, and those start, depth first in call order, each once."""
        found: dict[str, Workflow] = {}
        todo = list(reversed(workflow.children))
        while todo:
            child = self.workflow(todo.pop())
            if child is None or child.name == workflow.name or child.name in found:
                continue
            found[child.name] = child
            todo += reversed(child.children)
        return tuple(found.values())

    def sequence(self, workflow: Workflow) -> tuple[StepCall, ...]:
        """The steps a run of it schedules, in order, children's steps where they start."""
        calls: dict[tuple[str, str], StepCall] = {}
        self._inline(workflow, calls, started={workflow.name}, child=False)
        return tuple(calls.values())

    def _inline(
        self,
        workflow: Workflow,
        calls: dict[tuple[str, str], StepCall],
        *,
        started: set[str],
        child: bool,
    ) -> None:
        for call in workflow.calls:
            if isinstance(call, Step):
                calls.setdefault((workflow.name, call.name), StepCall(workflow.name, call, child))
                continue
            inner = self.workflow(call)
            if inner is not None and inner.name not in started:
                started.add(inner.name)
                self._inline(inner, calls, started=started, child=True)

    @property
    def roots(self) -> tuple[Workflow, ...]:
        """The workflows no other one starts, and any only started from a cycle of them."""
        started = {c for w in self.workflows for c in w.children if c != w.name}
        first = [w for w in self.workflows if w.name not in started]
        reached = {d.name for w in first for d in (w, *self.descendants(w))}
        return tuple(w for w in self.workflows if w.name not in started or w.name not in reached)

    @property
    def entries(self) -> tuple[Workflow, ...]:
        """The workflows that get an entry: the roots whose runs call at least one step."""
        return tuple(w for w in self.roots if self.sequence(w))
