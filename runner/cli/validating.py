"""`validate`: the config checked as a file, then (when the API answers) every step name it
uses checked against a pinned run of its workflow."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from runner.cli.common import (
    ConfigOption,
    app,
    error,
    flag,
    load,
    open_resetter,
    pinned_slots,
    plural,
    setup_logging,
    warn,
)
from runner.config import CONFIG_NAME
from runner.errors import ApiError, AuthError, NoRunYet, NotStarted

if TYPE_CHECKING:
    from runner.actions import Slot
    from runner.config import Config, WorkflowConfig
    from runner.paths import Matcher
    from runner.resetter import Resetter


@app.command()
def validate(
    config: ConfigOption = Path(CONFIG_NAME),
    offline: Annotated[
        bool, flag("--offline", help="Check the file only; do not ask the API.")
    ] = False,
) -> None:
    """Check the config; when the API answers, check every step against the pinned run."""
    from runner.paths import Matcher

    setup_logging(False)
    cfg = load(config)
    matcher = Matcher(cfg)
    mapped = matcher.mapped_files()
    slots = pinned_slots(cfg)  # a case that does not exist is a config error: said alone
    for warning in _file_warnings(cfg, matcher, mapped, str(config)):
        warn(warning)
    rules = sum(len(w.rules) for w in cfg.workflows)
    cases = sum(1 for s in slots if s.workflow.case is not None)
    summary = (
        f"{plural(len(cfg.workflows), 'workflow')}, {plural(rules, 'rule')}, "
        f"{plural(len(mapped), 'mapped file')}"
        + (f", {plural(cases, 'dataset case')}" if cases else "")
    )
    problems: list[str] = []
    checked = ""
    if not offline:
        checked = _check_steps(cfg, slots, str(config), problems)
    for problem in problems:
        error(problem)
    if problems:
        typer.echo(f"{config}: {plural(len(problems), 'problem')} ({summary})")
        raise typer.Exit(2)
    typer.echo(f"{config}: ok ({summary}){checked}")


def _file_warnings(cfg: Config, matcher: Matcher, mapped: list[str], shown: str) -> list[str]:
    """Rules that match no file yet (once per rule, even when YAML aliases repeat it), and
    rules that match the config file itself."""
    from runner.config import RuleRef

    said: set[tuple[int, tuple[str, ...]]] = set()
    warnings: list[str] = []
    for w, workflow in enumerate(cfg.workflows):
        for r, rule in enumerate(workflow.rules):
            if (rule.line, rule.files) in said:
                continue
            said.add((rule.line, rule.files))
            files = ", ".join(rule.files)
            if not any(RuleRef(w, r) in matcher.rules_for(rel) for rel in mapped):
                warnings.append(f"{shown}:{rule.line}: {files} matches no file yet")
            if RuleRef(w, r) in matcher.rules_for(cfg.path.name):
                warnings.append(
                    f"{shown}:{rule.line}: {files} matches the config file itself; an edit of "
                    "the config reloads it, it does not reset"
                )
    return warnings


def _check_steps(cfg: Config, slots: list[Slot], shown: str, problems: list[str]) -> str:
    """Check every entry's step names (rules and `steps:`) against a pinned run of it (the
    first that has one: its runs share the rules); say what could not be checked. A refused
    token is a failure (exit 1), not a note."""
    notes: list[str] = []
    try:
        with open_resetter(cfg) as resetter:
            for index, entry in enumerate(cfg.workflows):
                for slot in (s for s in slots if s.index == index):
                    try:
                        problems += _step_problems(resetter, slot.workflow, shown)
                        break
                    except (NoRunYet, NotStarted):
                        continue
                else:
                    notes.append(entry.type or entry.label)
            where = resetter.engine.description
    except AuthError:
        raise
    except ApiError as exc:
        return f"; step names not checked: {exc}"
    if notes:
        warn(f"no run yet of {', '.join(notes)}: their step names are not checked")
    return f"; step names checked against the pinned runs ({where})"


def _step_problems(resetter: Resetter, workflow: WorkflowConfig, shown: str) -> list[str]:
    import difflib

    from runner.plan import Change

    pin = resetter.resolve(workflow, {}, persist=False).pin
    asked = [Change(rule=r, files=()) for r in workflow.rules]
    history, children = resetter.runs.load(pin, asked, children=bool(workflow.side_effects))
    if history.parent_id is not None:
        warn(
            f"{shown}:{workflow.line}: {workflow.label}: run {pin.run_id} is a child run of "
            f"{history.parent_id}: a reset re-runs it alone and {history.parent_id} keeps its "
            f"result; map these files under the entry of {history.parent_id} instead"
        )
    runs = [history, *children.values()]
    known = {step for run in runs for step in run.steps_in_order()}
    # A `child#step` is matched whole (as the planner does): its child part must be right too.
    types = {a.activity_type for run in runs for a in run.activities if not a.internal}
    where = "has not reached it yet" if not history.closed else "never ran it"
    run = f"run {pin.run_id} of {pin.workflow_id} (the run {where})"
    problems: list[str] = []

    def unknown(name: str, what: str, line: int) -> None:
        if "#" in name:
            if name in types:
                return
            close = difflib.get_close_matches(name, sorted(types), n=1)
        elif name in known:
            return
        else:
            close = difflib.get_close_matches(name, sorted(known), n=1)
        hint = f'; did you mean "{close[0]}"?' if close else ""
        problems.append(f'{shown}:{line}: {what}: step "{name}" is not in {run}{hint}')

    for rule in workflow.rules:
        unknown(rule.step, rule.action, rule.line)
    for step in sorted(workflow.side_effects):
        unknown(step, "steps", workflow.line)
    return problems
