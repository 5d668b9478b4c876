"""The rules of one entry before they become text (`output-reset init`): which file re-runs
which step, in four sections, each in the order a run calls the steps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from runner.init.project import Project, PromptUse, StepCall, Workflow

Show = Callable[[Path], str]  # a path as the config writes it

SECTIONS = (
    "Prompts: an edit re-runs the step that loads the prompt, and every step after it.",
    "Skills (.md files a prompt loads with it): an edit re-runs the first step whose prompt "
    "loads them.",
    "Step and evaluator code: an edit re-runs the earliest step of the file that this "
    "workflow calls. To keep a slow step's result, write `reset_after: STEP` instead.",
    "Workflow code: when workflow.ts changes, output-reset starts a fresh run with the same "
    "input, so everything runs again from the first step.",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Draft:
    """One rule before it becomes text."""

    section: int  # an index into SECTIONS
    order: int  # position of `step` in the run
    files: str
    step: str
    notes: tuple[str, ...] = ()


def drafts(project: Project, workflow: Workflow, show: Show) -> list[Draft]:
    sequence = project.sequence(workflow)
    found = [
        *_prompts(sequence, show),
        *_skills(sequence, show),
        *_code(workflow, sequence, show),
        *_workflow_code(project, workflow, sequence, show),
    ]
    return sorted(found, key=lambda d: (d.section, d.order))


def names(calls: Sequence[StepCall]) -> str:
    return ", ".join(c.rule_name for c in calls)


def _prompts(sequence: Sequence[StepCall], show: Show) -> Iterator[Draft]:
    """One rule per prompt file: the earliest user re-runs every later one anyway."""
    users: dict[Path, list[tuple[int, StepCall, PromptUse]]] = {}
    for k, call in enumerate(sequence):
        for prompt in call.step.prompts:
            users.setdefault(prompt.path, []).append((k, call, prompt))
    for path, uses in users.items():
        k, first, prompt = uses[0]
        calls = [c for _, c, _ in uses]
        yield Draft(
            section=0,
            order=k,
            files=show(path),
            step=first.rule_name,
            notes=_prompt_notes(prompt, calls, show),
        )


def _prompt_notes(prompt: PromptUse, calls: list[StepCall], show: Show) -> tuple[str, ...]:
    first, later = calls[0], calls[1:]
    if prompt.guessed:
        return (
            f"Loaded in {show(prompt.file)}, which {show(first.step.file)} imports; "
            "output-reset cannot tell which of its steps calls it, so it counts for every one "
            f"({names(calls)}) and re-runs the first.",
        )
    notes: list[str] = []
    if prompt.file != first.step.file:
        notes.append(f"Loaded in {show(prompt.file)}, a helper {first.rule_name} calls.")
    if later:
        many = len(later) > 1
        notes.append(
            f"Also loaded by {names(later)}, which {'run' if many else 'runs'} later: "
            f"re-running {first.rule_name} re-runs {'them' if many else 'it'} too."
        )
    return tuple(notes)


def _skills(sequence: Sequence[StepCall], show: Show) -> Iterator[Draft]:
    """One rule per skills folder (or file): the first step whose prompt loads them."""
    sources = dict.fromkeys(k for c in sequence for p in c.step.prompts for k in p.skills)
    for source in sources:
        using = [
            (k, c)
            for k, c in enumerate(sequence)
            if any(source in p.skills for p in c.step.prompts)
        ]
        prompts = sorted(
            {p.path.name for _, c in using for p in c.step.prompts if source in p.skills}
        )
        k, first = using[0]
        yield Draft(
            section=1,
            order=k,
            files=show(source) + ("/*.md" if source.suffix != ".md" else ""),
            step=first.rule_name,
            notes=(f"Skills of {', '.join(prompts)}.",),
        )


def _code(workflow: Workflow, sequence: Sequence[StepCall], show: Show) -> Iterator[Draft]:
    """One rule per declaring file, re-running its earliest step in the run."""
    by_file: dict[Path, list[tuple[int, StepCall]]] = {}
    for k, call in enumerate(sequence):
        by_file.setdefault(call.step.file, []).append((k, call))
    for path, found in by_file.items():
        k, first = found[0]
        calls = [c for _, c in found]
        notes: tuple[str, ...] = ()
        if first.step.shared:
            notes = (
                f"Shared {first.step.kind}s: registered for every workflow; {workflow.name} "
                f"calls {names(calls)} from this file.",
            )
        elif len(calls) > 1:
            notes = (f"Defines {names(calls)} (in call order).",)
        yield Draft(section=2, order=k, files=show(path), step=first.rule_name, notes=notes)


def _workflow_code(
    project: Project, workflow: Workflow, sequence: Sequence[StepCall], show: Show
) -> Iterator[Draft]:
    """Its workflow.ts and each child's: a fresh run, named by the first step it leads to."""
    for each in (workflow, *project.descendants(workflow)):
        below = {each.name, *(d.name for d in project.descendants(each))}
        first = next((k for k, c in enumerate(sequence) if c.workflow in below), None)
        if first is not None:
            step = sequence[first].rule_name
            yield Draft(section=3, order=first, files=show(each.file), step=step)
