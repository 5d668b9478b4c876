"""The one-shot commands about runs: `plan`, `reset`, `status` and `log`."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from runner.cli.common import (
    ConfigOption,
    JsonOption,
    app,
    changes_for,
    describe,
    error,
    flag,
    load,
    open_resetter,
    pick_slots,
    pinned_slots,
    setup_logging,
    warn,
)
from runner.config import CONFIG_NAME
from runner.errors import ApiError, AuthError, NoRunYet, NotStarted, RunnerError, UsageError
from runner.pathnames import file_list, shown

if TYPE_CHECKING:
    from runner.actions import Digest
    from runner.config import Rule, WorkflowConfig
    from runner.history import RunHistory
    from runner.plan import Change
    from runner.resetter import Resetter

# -- plan -------------------------------------------------------------------------------------


@app.command()
def plan(
    files: Annotated[list[Path], typer.Argument(help="Files to treat as changed.")],
    config: ConfigOption = Path(CONFIG_NAME),
    as_json: JsonOption = False,
) -> None:
    """Show what a change to these files would do. Changes nothing."""
    from runner.jsonlines import decision_json
    from runner.paths import Matcher

    setup_logging(False)
    cfg = load(config)
    matcher = Matcher(cfg)
    per_workflow, unmapped = changes_for(cfg, matcher, files)
    slots = pinned_slots(cfg)
    results: list[dict[str, Any]] = []
    with open_resetter(cfg) as resetter:
        for index, changes in sorted(per_workflow.items()):
            for slot in (s for s in slots if s.index == index):
                label = slot.workflow.label
                try:
                    pin = resetter.resolve(slot.workflow, {}, persist=False).pin
                except (NoRunYet, NotStarted) as exc:
                    results.append({"workflow": label, "action": "no run", "why": _no_run(exc)})
                    if not as_json:
                        typer.echo(f"{label}: nothing to plan: {_no_run(exc)}")
                    continue
                decision = resetter.runs.decide(pin, changes)
                results.append(decision_json(label, decision))
                if not as_json:
                    typer.echo(f"{label} (run {pin.run_id}): {describe(decision)}")
    if as_json:
        typer.echo(json.dumps({"plans": results, "unmapped": unmapped}, indent=2))
        return
    for path in unmapped:
        typer.echo(f"{shown(path)}: no rule maps this file")


def _no_run(exc: NoRunYet | NotStarted) -> str:
    if isinstance(exc, NotStarted):
        return f"{exc}; `output-reset watch` starts its run"
    return str(exc)


# -- reset ------------------------------------------------------------------------------------


@app.command()
def reset(
    config: ConfigOption = Path(CONFIG_NAME),
    workflow: Annotated[
        str | None,
        typer.Option("--workflow", "-w", help="Which configured workflow (id or type)."),
    ] = None,
    step: Annotated[
        str | None,
        typer.Option("--step", "-s", help="Reset after this completed step (it is kept)."),
    ] = None,
    file: Annotated[
        list[Path] | None,
        typer.Option("--file", "-f", help="Reset as if these files changed."),
    ] = None,
    reason: Annotated[
        str | None, typer.Option("--reason", "-r", help="Recorded in the workflow history.")
    ] = None,
    yes: Annotated[
        bool, flag("--yes", "-y", help="Re-run steps marked side_effects without asking.")
    ] = False,
) -> None:
    """Reset the pinned run once, now, and pin the new run."""
    from runner.config import Rule
    from runner.paths import Matcher, digest

    setup_logging(False)
    if (step is None) == (not file):
        given = "not both" if step is not None else "neither was given"
        raise UsageError(f"give either --step NAME or --file PATH ({given})")
    cfg = load(config)
    matcher = Matcher(cfg)
    if file:
        per_workflow, unmapped = changes_for(cfg, matcher, file)
        if unmapped:
            raise UsageError(f"{shown(unmapped[0])}: no rule in {config} maps this file")
        candidates = sorted(per_workflow)
    else:
        per_workflow, candidates = {}, list(range(len(cfg.workflows)))
    slots = pinned_slots(cfg)
    targets = pick_slots(cfg, slots, candidates, workflow)
    if not targets:
        raise UsageError("that entry pins no run (its datasets have no case)")
    changes = per_workflow.get(targets[0].index, [])
    hashes = {f: digest(cfg.root / f) for c in changes for f in c.files}
    asked = Rule(files=(), action="reset_after", step=step, line=0) if step else None
    why = reason or (f"output-reset: reset after {step}" if step else None)
    failed = 0
    with open_resetter(cfg) as resetter:
        for n, target in enumerate(targets):
            if len(targets) > 1:
                typer.echo(f"\n{target.workflow.label}:" if n else f"{target.workflow.label}:")
            try:
                _reset_one(resetter, target.workflow, changes, hashes, asked, why, yes)
            except (NoRunYet, NotStarted) as exc:
                if len(targets) == 1:
                    raise
                failed += 1
                error(f"{target.workflow.label}: {_no_run(exc)}")
            except RunnerError as exc:
                unreachable = isinstance(exc, ApiError) and exc.retryable
                if len(targets) == 1 or unreachable or isinstance(exc, (AuthError, UsageError)):
                    raise
                failed += 1
                error(f"{target.workflow.label}: {exc}")
    if failed:
        raise typer.Exit(1)


def _reset_one(
    resetter: Resetter,
    target: WorkflowConfig,
    changes: list[Change],
    hashes: dict[str, Digest],
    asked: Rule | None,
    reason: str | None,
    yes: bool,
) -> None:
    """One pinned run reset, said as `npx output workflow reset` says it."""
    from runner.plan import Change, counted

    pin = resetter.resolve(target, {}).pin
    decision = None
    if asked is not None:
        # Like `npx output workflow reset --step`: keep that step, re-run what follows.
        decision = resetter.runs.decide(pin, [Change(rule=asked, files=())])
        if decision.kind == "none":
            raise RunnerError(f"no reset: {decision.why}")
    outcome = resetter.apply(
        target,
        changes,
        pin=pin,
        hashes=hashes,
        reason=reason,
        decision=decision,
        confirm=_confirm(yes),
    )
    for note in outcome.notes:
        warn(note)
    chosen = outcome.decision
    if outcome.new_run_id is None:
        typer.echo(f"No reset: {chosen.why}")
        return
    typer.echo("Workflow reset successfully" if chosen.kind == "reset" else "Fresh run started")
    typer.echo("")
    typer.echo(f"Workflow ID: {chosen.workflow_id}")
    typer.echo(f"New Run ID: {outcome.new_run_id}")
    if chosen.kind == "reset":
        typer.echo(f"Reset after step: {chosen.anchor}")
    if chosen.again:
        typer.echo(f"Runs again: {counted(chosen.again)} (it had not finished at the reset point)")
    typer.echo(f"Reason: {outcome.reason}")


def _confirm(yes: bool) -> Callable[[list[str]], bool]:
    def ask(steps: list[str]) -> bool:
        if yes:
            return True
        if not sys.stdin.isatty():
            raise UsageError(
                f"this reset runs {', '.join(steps)} again, which has side effects; "
                "pass --yes to confirm"
            )
        return typer.confirm(
            f"This reset runs {', '.join(steps)} again, which has side effects. Go on?"
        )

    return ask


# -- status -----------------------------------------------------------------------------------


@app.command()
def status(
    config: ConfigOption = Path(CONFIG_NAME),
    as_json: JsonOption = False,
) -> None:
    """Show each pinned run: its status, its steps, and the files mapped to them."""
    from runner.usage import Totals
    from runner.wording import totals_line

    setup_logging(False)
    cfg = load(config)
    slots = pinned_slots(cfg)
    documents: list[dict[str, Any]] = []
    with open_resetter(cfg) as resetter:
        for slot in slots:
            try:
                documents.append(_status_of(resetter, slot.workflow))
            except (NoRunYet, NotStarted):
                # A normal state: the first run of the type gets pinned when there is one (a
                # dataset case's, started by `watch`).
                documents.append({"workflow": slot.workflow.label, "status": "no run yet"})
        totals = Totals()
        for entry in resetter.audit.read():
            if entry.get("outcome") in ("done", "recovered"):
                totals.add_json(entry.get("saved"))
    if as_json:
        typer.echo(json.dumps({"workflows": documents, "saved": totals.to_json()}, indent=2))
        return
    marks = {"completed": "✓", "running": "…", "failed": "✗", "not run": "·"}
    for doc in documents:
        if "runId" not in doc:
            typer.echo(f"{doc['workflow']}  {doc['status']}")
            continue
        source = {"state": "pinned", "config": "run from config", "latest": "latest run"}
        typer.echo(
            f"{doc['workflowId']}  run {doc['runId']}  {doc['status']}  "
            f"({source.get(doc['pinnedBy'], doc['pinnedBy'])})"
        )
        width = max((len(s["step"]) for s in doc["steps"]), default=4)
        for s in doc["steps"]:
            files = ", ".join(s["files"])
            mark = marks.get(s["state"], " ")
            typer.echo(f"  {mark} {s['step']:<{width}}  {s['state']:<9}  {files}".rstrip())
    if totals.resets:
        typer.echo(f"\n{totals_line(totals)}")


def _status_of(resetter: Resetter, workflow: WorkflowConfig) -> dict[str, Any]:
    resolved = resetter.resolve(workflow, {}, persist=False)
    pin = resolved.pin
    history, children = resetter.runs.load(pin, children=True)
    return {
        "workflow": workflow.label,
        "workflowId": pin.workflow_id,
        "runId": pin.run_id,
        "pinnedBy": resolved.source,
        "status": history.status,
        "steps": _step_table(workflow, history, children),
    }


def _step_table(
    workflow: WorkflowConfig, history: RunHistory, children: dict[str, RunHistory]
) -> list[dict[str, Any]]:
    files_by_step: dict[str, list[str]] = {}
    for rule in workflow.rules:
        label = ", ".join(rule.files) + (" (reset after)" if rule.action == "reset_after" else "")
        # A child's step may be named by its activity type (child#step): shown by its name.
        files_by_step.setdefault(rule.step.rpartition("#")[2], []).append(label)
    rows: list[dict[str, Any]] = []
    named = set(files_by_step)
    shown: set[str] = set()
    for name, run, child in _run_order(history, children):
        if name not in shown and (child is None or name in named):
            rows.append(_step_row(name, run, files_by_step.get(name, []), child))
            named.discard(name)
            shown.add(name)
    for name in sorted(named):
        rows.append({"step": name, "state": "not run", "runs": 0, "files": files_by_step[name]})
    return rows


def _run_order(
    history: RunHistory, children: dict[str, RunHistory]
) -> list[tuple[str, RunHistory, str | None]]:
    """(step, the run that ran it, its child workflow type) in the order the run reached them:
    a child's steps where its parent started it."""
    found: list[tuple[str, RunHistory, str | None]] = []

    def walk(run: RunHistory, child: str | None, depth: int) -> None:
        marks: list[tuple[int, str, str | None]] = [
            (a.scheduled_id, a.step, None) for a in run.activities if not a.internal
        ]
        marks += [(c.initiated_id, c.workflow_id, c.workflow_type) for c in run.children]
        for _, name, started in sorted(marks, key=lambda mark: mark[0]):
            if started is None:
                found.append((name, run, child))
            elif name in children and depth < len(children):
                walk(children[name], started, depth + 1)

    walk(history, None, 0)
    return found


def _step_row(name: str, run: RunHistory, files: list[str], child: str | None) -> dict[str, Any]:
    ran = run.occurrences(name)
    row = {
        "step": name,
        "state": _activity_state(ran[-1].outcome, run.closed),
        "runs": len(ran),
        "files": files,
    }
    return row if child is None else {**row, "child": child}


def _activity_state(outcome: str, run_closed: bool) -> str:
    if outcome == "scheduled":
        return "not run" if run_closed else "running"
    return "completed" if outcome == "completed" else "failed"


# -- log --------------------------------------------------------------------------------------


@app.command("log")
def show_log(
    config: ConfigOption = Path(CONFIG_NAME),
    as_json: JsonOption = False,
    limit: Annotated[int, typer.Option("--limit", "-n", min=0, help="Show the last N lines.")] = 20,
) -> None:
    """Show the iterations and resets, oldest first.

    An iteration (#N) is a burst of edits that reset something, with its files, its cases and
    the eval's verdict line (.output-reset/iterations.jsonl); `compare A B` and `restore N`
    take its number. A reset that made one of an iteration's runs is shown by that iteration;
    every other reset, fresh run or refusal has a line of its own, as logged in
    .output-reset/resets.jsonl. --json gives the last N of both logs whole.
    """
    from runner.auditlog import AuditLog
    from runner.cli.iterating import iteration_line, timeline
    from runner.iterations import Iterations

    setup_logging(False)
    cfg = load(config)
    entries = AuditLog(cfg.state_dir).read()
    iterations = Iterations(cfg.state_dir).read()
    if as_json:
        document = {
            "entries": entries[-limit:] if limit > 0 else [],
            "iterations": iterations[-limit:] if limit > 0 else [],
        }
        typer.echo(json.dumps(document, indent=2, ensure_ascii=False))
        return
    lines = timeline(iterations, entries)[-limit:] if limit > 0 else []
    if not lines:
        typer.echo("no resets logged yet")
        return
    for entry in lines:
        if "n" in entry:
            typer.echo(iteration_line(entry))
        else:
            _reset_line(entry)


def _reset_line(entry: dict[str, Any]) -> None:
    when = str(entry.get("time", ""))[:19].replace("T", " ")
    action = entry.get("action")
    what = {"reset": f"reset after {entry.get('anchor')}", "fresh": "fresh run"}.get(str(action))
    outcome = str(entry.get("outcome"))
    shown = outcome if what is None or outcome == "no reset" else f"{outcome}  {what}"
    new_run = entry.get("newRunId")
    runs = f"{entry.get('oldRunId')} -> {new_run}" if new_run else str(entry.get("oldRunId"))
    saved = entry.get("saved") or {}
    seconds = f"  saved {saved['seconds']:.1f}s" if saved.get("seconds") else ""
    files = file_list([str(f) for f in entry.get("files") or []])
    typer.echo(f"{when}  {entry.get('workflow')}  {shown}  {runs}{seconds}  ({files})")
    if entry.get("error"):
        typer.echo(f"    {entry['error']}")
