"""The text of a first `output-reset.yaml` (`output-reset init`): pure, from a scanned Project.

Each workflow becomes a commented entry whose rules map prompts, skills, step code and
workflow code to the step an edit re-runs.
"""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Mapping
from functools import partial
from pathlib import Path

from runner.errors import UsageError
from runner.init.project import Project, Workflow
from runner.init.rules import SECTIONS, Show, drafts

# Names the API accepts as a workflow type (kept in step with runner.config).
_API_NAME = re.compile(r"^[a-z0-9_.@-]+$", re.IGNORECASE)
_WIDTH = 100  # the longest line it writes, where it can


def render_config(
    project: Project, *, config_dir: Path, pins: Mapping[str, str] | None = None
) -> str:
    """The commented YAML text of an `output-reset.yaml` living in `config_dir`.

    `pins` maps a workflow type to the workflow id of its latest run, when the API was asked
    (None: it was not). A type without a pin is written as `type:` (follow its most recent run).
    """
    config_dir = config_dir.resolve()
    show = partial(_rel, config_dir=config_dir)
    lines = _header(project, config_dir)
    skipped: list[str] = []
    entries = 0
    for workflow in project.entries:
        pin = (pins or {}).get(workflow.name)
        if pin is None and not _API_NAME.match(workflow.name):
            skipped.append(workflow.name)
            continue
        lines += _entry(project, workflow, show, pin=pin, asked=pins is not None)
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
            "Not listed (a name the API cannot filter on, and no run to pin): "
            + ", ".join(skipped)
            + ".",
            indent="",
        )
    return "\n".join(lines) + "\n"


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
                width=_WIDTH - 2,
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
    project: Project, workflow: Workflow, show: Show, *, pin: str | None, asked: bool
) -> list[str]:
    lines = [""]
    for text in _about(project, workflow, show):
        lines += _comment(text, indent="  ")
    if workflow.cases:
        item = f"  - type: {_scalar(workflow.name)}"
        why = "one pinned run per dataset case"
    elif pin is not None:
        item = f"  - id: {_scalar(pin)}"
        why = f"latest run of {workflow.name} when this file was written"
    elif asked:
        item = f"  - type: {_scalar(workflow.name)}"
        why = "no run yet: watch pins the first run of this type when one appears"
    else:
        item = f"  - type: {_scalar(workflow.name)}"
        why = "pin the most recent run of this type"
    if len(item) + len(why) + 4 <= _WIDTH:
        lines.append(f"{item}  # {why}")
    else:
        lines += [f"  # {why[0].upper()}{why[1:]}.", item]
    if workflow.cases:
        lines.append("    datasets: all")
    lines.append("    rules:")
    section = -1
    for draft in drafts(project, workflow, show):
        if draft.section != section:
            section = draft.section
            lines += _comment(SECTIONS[section], indent="      ")
        for note in draft.notes:
            lines += _comment(note, indent="      ")
        lines.append(f"      - files: {_scalar(draft.files)}")
        lines.append(f"        rerun: {_scalar(draft.step)}")
    return lines


def _about(project: Project, workflow: Workflow, show: Show) -> list[str]:
    """What the entry's comment says about the workflow: its steps, tracing, children."""
    own = ", ".join(s.name for s in workflow.steps)
    children = ", ".join(c if c != workflow.name else f"{c} (itself)" for c in workflow.children)
    where = show(workflow.file)
    if workflow.is_eval:
        about = [
            f"{workflow.name} ({where}), an eval workflow: its evaluators run in the order of "
            f"its evals: list: {own}."
        ]
    elif workflow.steps:
        about = [
            f"{workflow.name} ({where}). Steps and evaluators in the order it calls them: {own}."
        ]
    else:
        about = [
            f"{workflow.name} has no steps of its own; starts children {children}. It is "
            f"declared in {where}."
        ]
    if workflow.cases:
        about.append(_datasets_about(project, workflow, show))
    if workflow.disable_trace:
        about.append(
            "Tracing is off (disableTrace: true): re-running its first step starts a fresh run "
            "with the same input, as there is no earlier activity to reset after."
        )
    if workflow.children:
        tree = [
            f"{d.name} starts {', '.join(d.children)}."
            for d in project.descendants(workflow)
            if d.children
        ]
        if workflow.steps:
            plural = "s" if len(workflow.children) > 1 else ""
            tree.insert(0, f"It starts child workflow{plural} {children}.")
        about.append(
            " ".join(tree)
            + " A reset of this run starts them again, so their files are mapped here (a "
            "child's step is named child#step)."
        )
    return about


def _datasets_about(project: Project, workflow: Workflow, show: Show) -> str:
    cases = workflow.cases
    named = ", ".join(cases[:6]) + (f" and {len(cases) - 6} more" if len(cases) > 6 else "")
    where = show(workflow.directory / "tests" / "datasets")
    evals = f"{workflow.name}_eval"
    judged = (
        f"{evals} judges them after each save (or `output-reset eval`, now)."
        if any(w.name == evals for w in project.workflows)
        else f"add an eval workflow {evals} to have each save judge them."
    )
    count = "1 case" if len(cases) == 1 else f"{len(cases)} cases"
    return (
        f"Its datasets ({where}) hold {count}: {named}. Each case gets its own pinned run "
        f"(workflow id {workflow.name}-case-<case>, started once with the case's input), all "
        f"reset together on each save; {judged}"
    )


def _comment(text: str, *, indent: str) -> list[str]:
    width = max(40, _WIDTH - 2 - len(indent))
    return [
        f"{indent}# {line}"
        for line in textwrap.wrap(_one_line(text), width=width, break_on_hyphens=False)
    ]


def _one_line(text: str) -> str:
    return " ".join(text.split())


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
# `#` starts a comment only after a space, so `child#step` stays plain.
_YAML_PLAIN = re.compile(r"[A-Za-z0-9_./][A-Za-z0-9_./@*+#-]*")


def _scalar(value: str) -> str:
    """A YAML scalar for `value`: plain when safe, else double-quoted (JSON is valid YAML)."""
    if _YAML_PLAIN.fullmatch(value) and not _YAML_SPECIAL.fullmatch(value):
        return value
    return json.dumps(value)
