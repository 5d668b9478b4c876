"""What `output-reset init` finds in an Output project: workflows, their steps and prompts.

The scanner produces these and the renderer reads them; nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Kind = Literal["step", "evaluator"]


@dataclass(frozen=True, slots=True, kw_only=True)
class PromptUse:
    """A `prompt: 'name@v1'` in a step, and the file Output loads for it."""

    name: str
    path: Path  # the `<name>.prompt` file
    line: int  # where the step names it
    skills: tuple[Path, ...] = ()  # folders (or single .md files) of skills the prompt loads


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
    steps: tuple[Step, ...]  # steps and evaluators, in the order `fn` calls them
    children: tuple[str, ...] = ()  # child workflows `fn` calls, by name

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


@dataclass(frozen=True, slots=True, kw_only=True)
class Project:
    root: Path
    workflows: tuple[Workflow, ...]
    warnings: tuple[str, ...] = ()  # one line each: `path:line: what could not be followed`
