"""The text of a first `output-reset.yaml` (`output-reset init`): pure, from a scanned Project.

Each workflow becomes a commented entry whose rules map prompts, skills, step code and
workflow code to the step an edit re-runs.
"""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from runner.errors import UsageError
from runner.init.project import Project, Step, Workflow

# Names the API accepts as a workflow type (kept in step with runner.config).
_API_NAME = re.compile(r"^[a-z0-9_.@-]+$", re.IGNORECASE)


def render_config(
    project: Project, *, config_dir: Path, pins: Mapping[str, str] | None = None
) -> str:
    """The commented YAML text of an `output-reset.yaml` living in `config_dir`.

    `pins` maps a workflow type to the workflow id of its latest run; a type without a pin is
    written as `type:` (follow its most recent run).
    """
    config_dir = config_dir.resolve()
    pins = pins or {}
    lines = _header(project, config_dir)
    skipped: list[str] = []
    entries = 0
    for workflow in project.workflows:
        pin = pins.get(workflow.name)
        drafts = _drafts(workflow, config_dir)
        if not drafts or (pin is None and not _API_NAME.match(workflow.name)):
            skipped.append(workflow.name)
            continue
        lines += _entry(workflow, drafts, config_dir, pin)
        entries += 1
    if not entries:
        names = ", ".join(w.name for w in project.workflows)
        raise UsageError(
            f"none of the workflows under {project.root} ({names}) calls a step or evaluator "
            "that output-reset could find; nothing to write"
        )
    if skipped:
        lines.append("")
        lines += _comment(
            "Not listed (no step found that the workflow calls, or a name the API cannot "
            "filter on): " + ", ".join(skipped) + ".",
            indent="",
        )
    return "\n".join(lines) + "\n"


@dataclass(frozen=True, slots=True, kw_only=True)
class _Draft:
    """One rule before it becomes text."""

    section: int  # 0 prompts, 1 skills, 2 step code, 3 workflow code
    order: int  # position of `step` in the call order
    files: str
    step: str
    notes: tuple[str, ...] = ()


_SECTIONS = (
    "Prompts: an edit re-runs the step that loads the prompt, and every step after it.",
    "Skills (.md files a prompt loads with it): an edit re-runs the first step whose prompt "
    "loads them.",
    "Step and evaluator code: an edit re-runs the earliest step of the file that this "
    "workflow calls. To keep a slow step's result, write `reset_after: STEP` instead.",
    "Workflow code: when workflow.ts changes, output-reset starts a fresh run with the same "
    "input, so everything runs again from the first step.",
)


def _drafts(workflow: Workflow, config_dir: Path) -> list[_Draft]:
    order = {s: i for i, s in enumerate(workflow.steps)}
    drafts: list[_Draft] = []
    # Prompts, grouped by file: the earliest user re-runs every later one anyway.
    users: dict[Path, list[Step]] = {}
    for step in workflow.steps:
        for prompt in step.prompts:
            users.setdefault(prompt.path, [])
            if step not in users[prompt.path]:
                users[prompt.path].append(step)
    for path, steps in users.items():
        first, later = steps[0], steps[1:]
        notes: tuple[str, ...] = ()
        if later:
            notes = (
                f"Also loaded by {_names(later)}, which {'run' if len(later) > 1 else 'runs'} "
                f"later: re-running {first.name} re-runs {'them' if len(later) > 1 else 'it'} "
                "too.",
            )
        drafts.append(
            _Draft(
                section=0,
                order=order[first],
                files=_rel(path, config_dir),
                step=first.name,
                notes=notes,
            )
        )
    # Skills: the first step whose prompt loads them.
    for source in workflow.skills:
        using = [s for s in workflow.steps if any(source in p.skills for p in s.prompts)]
        pattern = _rel(source, config_dir) + ("/*.md" if source.suffix != ".md" else "")
        prompts = sorted({p.path.name for s in using for p in s.prompts if source in p.skills})
        drafts.append(
            _Draft(
                section=1,
                order=order[using[0]],
                files=pattern,
                step=using[0].name,
                notes=(f"Skills of {', '.join(prompts)}.",),
            )
        )
    # Code: one rule per declaring file, re-running its earliest step in call order.
    by_file: dict[Path, list[Step]] = {}
    for step in workflow.steps:
        by_file.setdefault(step.file, []).append(step)
    for path, steps in by_file.items():
        first = steps[0]
        notes = ()
        if first.shared:
            notes = (
                f"Shared {first.kind}s: registered for every workflow; {workflow.name} calls "
                f"{_names(steps)} from this file.",
            )
        elif len(steps) > 1:
            notes = (f"Defines {_names(steps)} (in call order).",)
        drafts.append(
            _Draft(
                section=2,
                order=order[first],
                files=_rel(path, config_dir),
                step=first.name,
                notes=notes,
            )
        )
    if workflow.steps:
        drafts.append(
            _Draft(
                section=3,
                order=0,
                files=_rel(workflow.file, config_dir),
                step=workflow.steps[0].name,
            )
        )
    drafts.sort(key=lambda d: (d.section, d.order))
    return drafts


def _header(project: Project, config_dir: Path) -> list[str]:
    where = _rel(project.root, config_dir)
    source = "src/workflows" if where == "." else f"{where}/src/workflows"
    lines = [
        "# output-reset.yaml: which file edits reset which step of your Output workflow runs.",
        *_comment(
            f"Written by `output-reset init` from the sources in {source}; edit it freely.",
            indent="",
        ),
        "#",
        *_comment(
            "`output-reset watch` watches the files listed below. When one really changes, it "
            "resets the pinned run of its workflow so that the named step, and every step after "
            "it, runs again on the new code, while the results of the steps before it are kept.",
            indent="",
        ),
        "#   rerun: STEP        run STEP and everything after it again",
        "#   reset_after: STEP  keep STEP's result, run everything after it again",
        *_comment(
            "Paths are relative to this file and use gitignore-style patterns. Step names are the "
            "`name:` values of step({ ... }) and evaluator({ ... }), not the exported "
            'identifiers. Reference: the output-reset README, section "Config". Check this '
            "file with `output-reset validate`.",
            indent="",
        ),
    ]
    if project.warnings:
        lines += ["#", "# output-reset init could not follow everything; check these by hand:"]
        for warning in project.warnings:
            lines += textwrap.wrap(
                _one_line(warning),
                width=98,
                initial_indent="#   - ",
                subsequent_indent="#     ",
                break_on_hyphens=False,
            )
    lines += [
        "version: 1",
        "",
        *_comment(
            "The Output API: OUTPUT_API_URL (environment or .env) wins over api.url; the default "
            "is http://localhost:3001. Uncomment to point somewhere else:",
            indent="",
        ),
        "# api:",
        "#   url: http://localhost:3001",
        "",
        "workflows:",
    ]
    return lines


def _entry(
    workflow: Workflow, drafts: list[_Draft], config_dir: Path, pin: str | None
) -> list[str]:
    called = ", ".join(s.name for s in workflow.steps)
    about = [
        f"{workflow.name} ({_rel(workflow.file, config_dir)}). Steps and evaluators in the order "
        f"it calls them: {called}."
    ]
    if workflow.disable_trace:
        about.append(
            "Tracing is off (disableTrace: true): re-running its first step starts a fresh run "
            "with the same input, as there is no earlier activity to reset after."
        )
    if workflow.children:
        about.append(
            f"It starts child workflow{'s' if len(workflow.children) > 1 else ''} "
            f"{', '.join(workflow.children)}; each has its own entry for its files."
        )
    lines = [""]
    for text in about:
        lines += _comment(text, indent="  ")
    if pin is not None:
        lines.append(
            f"  - id: {_scalar(pin)}  # latest run of {workflow.name} when this file was written"
        )
    else:
        lines.append(f"  - type: {_scalar(workflow.name)}  # pin the most recent run of this type")
    lines.append("    rules:")
    section = -1
    for draft in drafts:
        if draft.section != section:
            section = draft.section
            lines += _comment(_SECTIONS[section], indent="      ")
        for note in draft.notes:
            lines += _comment(note, indent="      ")
        lines.append(f"      - files: {_scalar(draft.files)}")
        lines.append(f"        rerun: {_scalar(draft.step)}")
    return lines


def _comment(text: str, *, indent: str) -> list[str]:
    width = max(40, 98 - len(indent))
    return [
        f"{indent}# {line}"
        for line in textwrap.wrap(_one_line(text), width=width, break_on_hyphens=False)
    ]


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _names(steps: Sequence[Step]) -> str:
    return ", ".join(s.name for s in steps)


def _rel(path: Path, config_dir: Path) -> str:
    try:
        rel = path.resolve().relative_to(config_dir)
    except ValueError:
        raise UsageError(
            f"{path} is outside {config_dir}; write the config in a folder that contains the "
            "project"
        ) from None
    return rel.as_posix()


# YAML 1.1 scalars that would load as something other than a string.
_YAML_SPECIAL = re.compile(
    r"[-+]?(\d[\d_]*(\.[\d_]*)?([eE][-+]?\d+)?|\.\d[\d_]*|0x[0-9a-fA-F_]+|0o?[0-7_]+|[\d_:]+)"
    r"|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)"
    r"|y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE"
    r"|on|On|ON|off|Off|OFF|null|Null|NULL|~|"
)
_YAML_PLAIN = re.compile(r"[A-Za-z0-9_./][A-Za-z0-9_./@*+-]*")


def _scalar(value: str) -> str:
    """A YAML scalar for `value`: plain when safe, else double-quoted (JSON is valid YAML)."""
    if _YAML_PLAIN.fullmatch(value) and not _YAML_SPECIAL.fullmatch(value):
        return value
    return json.dumps(value)
