"""The `output-reset` command line: the composition root, and the only module that prints.

Each command loads the config, builds the engine adapter and hands over to the core. Errors
are mapped to exit codes in one place (`main`): 0 ok, 1 runtime failure, 2 usage or config
error, 3 a bug (with its traceback).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any

import typer

from runner import __version__
from runner.config import CONFIG_NAME, Config, load_config
from runner.errors import ApiError, RunnerError, UsageError

if TYPE_CHECKING:
    from runner.config import WorkflowConfig
    from runner.engine import Engine
    from runner.history import RunHistory
    from runner.paths import Matcher
    from runner.plan import Change, Decision
    from runner.reset import Resetter

app = typer.Typer(
    name="output-reset",
    help="Watch prompt and step files of an Output project and reset the pinned workflow run "
    "from the right step.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def flag(*names: str, **kwargs: Any) -> Any:
    """A boolean option: shown without the `<bool>` value typer would print for it."""
    return typer.Option(*names, metavar="", **kwargs)


ConfigOption = Annotated[
    Path,
    typer.Option("--config", "-c", help="The config file.", show_default=True),
]
JsonOption = Annotated[bool, flag("--json", help="Print JSON instead of text.")]


def main() -> None:
    """Entry point: run the app and map every failure to an exit code."""
    try:
        app()
    except RunnerError as exc:
        _error(str(exc))
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception:
        traceback.print_exc()
        _error(
            f"this is a bug in output-reset {__version__}; please report it with the "
            "traceback above"
        )
        sys.exit(3)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"output-reset {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        flag("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    pass


# -- watch ------------------------------------------------------------------------------------


@app.command()
def watch(
    config: ConfigOption = Path(CONFIG_NAME),
    dry_run: Annotated[
        bool, flag("--dry-run", help="Print each decision instead of resetting.")
    ] = False,
    no_follow: Annotated[
        bool, flag("--no-follow", help="Do not follow the new run after a reset.")
    ] = False,
    no_wait_worker: Annotated[
        bool,
        flag("--no-wait-worker", help="Reset without waiting for Output's worker to reload."),
    ] = False,
    no_catch_up: Annotated[
        bool,
        flag("--no-catch-up", help="Ignore edits made while output-reset was not running."),
    ] = False,
    poll: Annotated[bool, flag("--poll", help="Poll the files instead of using inotify.")] = False,
    verbose: Annotated[bool, flag("--verbose", "-v", help="Say more.")] = False,
    as_json: Annotated[
        bool, flag("--json", help="Print one JSON object per event (for editors).")
    ] = False,
) -> None:
    """Watch the mapped files and reset the pinned run when one really changes."""
    from runner.daemon import Daemon, Options
    from runner.view import make_view

    _logging(verbose)
    cfg = _load(config)
    engine = _engine(cfg)
    options = Options(
        dry_run=dry_run,
        follow=not no_follow,
        wait_worker=not no_wait_worker,
        catch_up=not no_catch_up,
        poll=poll,
    )
    view = make_view(as_json=as_json, verbose=verbose, live=sys.stdout.isatty())
    daemon = Daemon(cfg, engine, view.report, options=options)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if daemon.stopping:
            os._exit(130)  # a second Ctrl-C: the user really wants out now
        daemon.stop()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        daemon.run()
    finally:
        view.close()
        engine.close()


# -- demo -------------------------------------------------------------------------------------


@app.command()
def demo(
    directory: Annotated[
        Path,
        typer.Option(
            "--dir", help="Folder for the demo's prompts and config (created; edits are kept)."
        ),
    ] = Path("output-reset-demo"),
    verbose: Annotated[bool, flag("--verbose", "-v", help="Say more.")] = False,
) -> None:
    """Try it in one command: a Temporal dev server, an example worker, prompts to edit."""
    import threading

    from runner.demo import run_demo
    from runner.view import LiveView, PlainView

    _logging(verbose)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            os._exit(130)
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    view = LiveView(verbose=verbose) if sys.stdout.isatty() else PlainView(verbose=verbose)
    try:
        code = run_demo(directory, report=view.line, stop=stop, on_report=view.report)
    finally:
        view.close()
    raise typer.Exit(code)


# -- plan -------------------------------------------------------------------------------------


@app.command()
def plan(
    files: Annotated[list[Path], typer.Argument(help="Files to treat as changed.")],
    config: ConfigOption = Path(CONFIG_NAME),
    as_json: JsonOption = False,
) -> None:
    """Show what a change to these files would do. Changes nothing."""
    from runner.paths import Matcher
    from runner.view import decision_json

    _logging(False)
    cfg = _load(config)
    matcher = Matcher(cfg)
    per_workflow, unmapped = _changes_for(cfg, matcher, files)
    results: list[dict[str, Any]] = []
    with _resetter(cfg) as resetter:
        for index, changes in sorted(per_workflow.items()):
            workflow = cfg.workflows[index]
            pin = resetter.resolve(workflow, {}, persist=False).pin
            decision = resetter.decide(pin, changes)
            results.append(decision_json(workflow.label, decision))
            if not as_json:
                typer.echo(f"{workflow.label} (run {pin.run_id}): {_describe(decision)}")
    if as_json:
        typer.echo(json.dumps({"plans": results, "unmapped": unmapped}, indent=2))
        return
    for path in unmapped:
        typer.echo(f"{path}: no rule maps this file")


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
    from runner.plan import Change

    _logging(False)
    if (step is None) == (not file):
        raise UsageError("give either --step NAME or --file PATH (not both)")
    cfg = _load(config)
    matcher = Matcher(cfg)
    if file:
        per_workflow, unmapped = _changes_for(cfg, matcher, file)
        if unmapped:
            raise UsageError(f"{unmapped[0]}: no rule in {config} maps this file")
        candidates = sorted(per_workflow)
    else:
        per_workflow, candidates = {}, list(range(len(cfg.workflows)))
    index = _pick_workflow(cfg, candidates, workflow)
    target = cfg.workflows[index]
    changes = per_workflow.get(index, [])
    hashes = {f: digest(cfg.root / f) for c in changes for f in c.files}
    with _resetter(cfg) as resetter:
        pin = resetter.resolve(target, {}).pin
        decision = None
        if step is not None:
            # Like `npx output workflow reset --step`: keep that step, re-run what follows.
            asked = Rule(files=(), action="reset_after", step=step, line=0)
            decision = resetter.decide(pin, [Change(rule=asked, files=())])
            if decision.kind == "none":
                raise RunnerError(f"no reset: {decision.why}")
        outcome = resetter.apply(
            target,
            changes,
            pin=pin,
            hashes=hashes,
            reason=reason or (f"output-reset: reset after {step}" if step else None),
            decision=decision,
            confirm=_confirm(yes),
        )
    for note in outcome.notes:
        _warn(note)
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
    from runner.view import totals_line

    _logging(False)
    cfg = _load(config)
    documents: list[dict[str, Any]] = []
    with _resetter(cfg) as resetter:
        for workflow in cfg.workflows:
            resolved = resetter.resolve(workflow, {}, persist=False)
            pin = resolved.pin
            history, children = resetter.load(pin)
            steps = _step_table(workflow, history, children)
            documents.append(
                {
                    "workflow": workflow.label,
                    "workflowId": pin.workflow_id,
                    "runId": pin.run_id,
                    "pinnedBy": resolved.source,
                    "status": history.status,
                    "steps": steps,
                }
            )
        totals = Totals()
        for entry in resetter.store.read_log():
            if entry.get("outcome") in ("done", "recovered"):
                totals.add_json(entry.get("saved"))
    if as_json:
        typer.echo(json.dumps({"workflows": documents, "saved": totals.to_json()}, indent=2))
        return
    marks = {"completed": "✓", "running": "…", "failed": "✗", "not run": "·"}
    for doc in documents:
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


def _step_table(
    workflow: WorkflowConfig, history: RunHistory, children: dict[str, RunHistory]
) -> list[dict[str, Any]]:
    files_by_step: dict[str, list[str]] = {}
    for rule in workflow.rules:
        label = ", ".join(rule.files) + (" (reset after)" if rule.action == "reset_after" else "")
        files_by_step.setdefault(rule.step, []).append(label)
    rows: list[dict[str, Any]] = []
    named = set(files_by_step)
    for name in history.steps_in_order():
        last = history.occurrences(name)[-1]
        rows.append(
            {
                "step": name,
                "state": _activity_state(last.outcome, history.closed),
                "runs": len(history.occurrences(name)),
                "files": files_by_step.get(name, []),
            }
        )
        named.discard(name)
    for child in children.values():
        for name in child.steps_in_order():
            if name in named:
                last = child.occurrences(name)[-1]
                rows.append(
                    {
                        "step": name,
                        "state": _activity_state(last.outcome, child.closed),
                        "runs": len(child.occurrences(name)),
                        "files": files_by_step.get(name, []),
                        "child": child.workflow_type,
                    }
                )
                named.discard(name)
    for name in sorted(named):
        rows.append({"step": name, "state": "not run", "runs": 0, "files": files_by_step[name]})
    return rows


def _activity_state(outcome: str, run_closed: bool) -> str:
    if outcome == "scheduled":
        return "not run" if run_closed else "running"
    return "completed" if outcome == "completed" else "failed"


# -- log --------------------------------------------------------------------------------------


@app.command("log")
def show_log(
    config: ConfigOption = Path(CONFIG_NAME),
    as_json: JsonOption = False,
    limit: Annotated[int, typer.Option("--limit", "-n", help="Show the last N entries.")] = 20,
) -> None:
    """Show the audit log of resets (.output-reset/resets.jsonl)."""
    from runner.state import StateStore

    _logging(False)
    cfg = _load(config)
    entries = StateStore(cfg.state_dir).read_log()[-limit:] if limit > 0 else []
    if as_json:
        typer.echo(json.dumps({"entries": entries}, indent=2, ensure_ascii=False))
        return
    if not entries:
        typer.echo("no resets logged yet")
        return
    for entry in entries:
        when = str(entry.get("time", ""))[:19].replace("T", " ")
        action = entry.get("action")
        what = {"reset": f"reset after {entry.get('anchor')}", "fresh": "fresh run"}.get(
            str(action), "no reset"
        )
        runs = f"{entry.get('oldRunId')} -> {entry.get('newRunId') or '-'}"
        saved = entry.get("saved") or {}
        seconds = f"  saved {saved['seconds']:.1f}s" if saved.get("seconds") else ""
        files = ", ".join(entry.get("files") or [])
        typer.echo(
            f"{when}  {entry.get('workflow')}  {entry.get('outcome')}  {what}  {runs}{seconds}"
            f"  ({files})"
        )
        if entry.get("error"):
            typer.echo(f"    {entry['error']}")


# -- init -------------------------------------------------------------------------------------


@app.command()
def init(
    folder: Annotated[
        Path, typer.Argument(help="The Output project (the folder with src/workflows).")
    ] = Path(),
    force: Annotated[
        bool, flag("--force", help="Overwrite an existing output-reset.yaml.")
    ] = False,
) -> None:
    """Write an output-reset.yaml for an Output project: one rule per prompt and steps file."""
    from runner.config import ApiConfig
    from runner.environment import load_environment
    from runner.output_api import OutputApi, resolve_settings
    from runner.scaffold import render_config, scan_project

    _logging(False)
    target = folder / CONFIG_NAME
    if target.exists() and not force:
        raise RunnerError(f"{target} already exists; pass --force to overwrite it")
    project = scan_project(folder)
    for warning in project.warnings:
        _warn(warning)
    settings = resolve_settings(ApiConfig(), load_environment(Path.cwd(), folder))
    api = OutputApi(settings, timeout_s=3.0)
    pins: dict[str, str] = {}
    try:
        for workflow in project.workflows:
            runs = api.runs_of_type(workflow.name)
            if runs:
                pins[workflow.name] = runs[0].workflow_id
        asked = f"pinned to the latest run of each workflow that has one ({settings.url})"
    except ApiError as exc:
        asked = f"each entry pins the most recent run of its type (no API answered: {exc})"
    finally:
        api.close()
    text = render_config(project, config_dir=folder.resolve(), pins=pins or None)
    try:
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise RunnerError(f"cannot write {target}: {exc.strerror}") from None
    rules = load_config(target, shown_as=str(target))
    count = sum(len(w.rules) for w in rules.workflows)
    typer.echo(
        f"wrote {target}: {_count(len(rules.workflows), 'workflow')}, {_count(count, 'rule')}; "
        f"{asked}"
    )
    typer.echo(f"next: output-reset validate -c {target}, then output-reset watch -c {target}")


# -- schema -----------------------------------------------------------------------------------


@app.command("schema")
def show_schema(
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write it to this file instead of printing it."),
    ] = None,
) -> None:
    """Print the JSON Schema of output-reset.yaml (for editor completion and checking)."""
    from runner.schema import schema

    text = json.dumps(schema(), indent=2) + "\n"
    if output is None:
        typer.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise RunnerError(f"cannot write {output}: {exc.strerror}") from None
    typer.echo(
        f"wrote {output}; add this first line to output-reset.yaml for completion in your editor:\n"
        f"# yaml-language-server: $schema={output.name}"
    )


# -- validate ---------------------------------------------------------------------------------


@app.command()
def validate(
    config: ConfigOption = Path(CONFIG_NAME),
    offline: Annotated[
        bool, flag("--offline", help="Check the file only; do not ask the API.")
    ] = False,
) -> None:
    """Check the config; when the API answers, check every step against the pinned run."""
    import difflib

    from runner.paths import Matcher, RuleRef
    from runner.plan import Change

    _logging(False)
    cfg = _load(config)
    matcher = Matcher(cfg)
    mapped = matcher.mapped_files()
    rules = sum(len(w.rules) for w in cfg.workflows)
    typer.echo(
        f"{config}: ok ({_count(len(cfg.workflows), 'workflow')}, {_count(rules, 'rule')}, "
        f"{_count(len(mapped), 'mapped file')})"
    )
    for w, workflow in enumerate(cfg.workflows):
        for r, rule in enumerate(workflow.rules):
            if not any(RuleRef(w, r) in matcher.rules_for(rel) for rel in mapped):
                _warn(f"{config}:{rule.line}: {', '.join(rule.files)} matches no file yet")
    if offline:
        return
    problems: list[str] = []
    try:
        with _resetter(cfg) as resetter:
            for workflow in cfg.workflows:
                pin = resetter.resolve(workflow, {}, persist=False).pin
                asked = [Change(rule=r, files=()) for r in workflow.rules]
                history, children = resetter.load(pin, asked)
                known = set(history.steps_in_order())
                for child in children.values():
                    known |= set(child.steps_in_order())
                for rule in workflow.rules:
                    name = rule.step.rpartition("#")[2]
                    if name in known or history.occurrences(rule.step):
                        continue
                    close = difflib.get_close_matches(name, sorted(known), n=1)
                    hint = f'; did you mean "{close[0]}"?' if close else ""
                    where = "has not reached it yet" if not history.closed else "never ran it"
                    problems.append(
                        f'{config}:{rule.line}: {rule.action}: step "{rule.step}" is not in '
                        f"run {pin.run_id} of {pin.workflow_id} (the run {where}){hint}"
                    )
            typer.echo(f"steps checked against the pinned runs ({resetter.engine.description})")
    except ApiError as exc:
        typer.echo(f"note: step names not checked: {exc}")
        return
    for problem in problems:
        _error(problem)
    if problems:
        raise typer.Exit(2)


# -- shared plumbing --------------------------------------------------------------------------


def _load(path: Path) -> Config:
    return load_config(path, shown_as=str(path))


def _engine(cfg: Config) -> Engine:
    from runner.environment import load_environment
    from runner.output_api import OutputApi, resolve_settings

    env = load_environment(Path.cwd(), cfg.root)
    if cfg.engine.kind == "temporal":
        try:
            from runner.temporal import TemporalEngine
        except ImportError as exc:
            if exc.name is None or not exc.name.startswith("temporalio"):
                raise
            raise UsageError(
                "engine.kind: temporal needs the Temporal SDK: pip install 'output-reset[temporal]'"
            ) from None
        return TemporalEngine.connect(cfg.engine, env)
    settings = resolve_settings(cfg.api, env)
    if settings.token and settings.plain_http_remote:
        _warn(
            f"{settings.token_env} will be sent over plain http to {settings.url}; "
            "use https for a remote API"
        )
    return OutputApi(settings)


@contextmanager
def _resetter(cfg: Config) -> Iterator[Resetter]:
    from runner.reset import Resetter
    from runner.state import StateStore

    engine = _engine(cfg)
    try:
        yield Resetter(cfg, engine, StateStore(cfg.state_dir))
    finally:
        engine.close()


def _changes_for(
    cfg: Config, matcher: Matcher, files: list[Path]
) -> tuple[dict[int, list[Change]], list[str]]:
    from runner.plan import Change

    by_rule: dict[tuple[int, int], list[str]] = {}
    unmapped: list[str] = []
    for given in files:
        rel = matcher.relative(given.resolve())
        refs = matcher.rules_for(rel) if rel else ()
        if not refs:
            unmapped.append(str(given))
            continue
        for ref in refs:
            assert rel is not None
            by_rule.setdefault((ref.workflow, ref.rule), []).append(rel)
    per_workflow: dict[int, list[Change]] = {}
    for (w, r), rels in sorted(by_rule.items()):
        rule = cfg.workflows[w].rules[r]
        per_workflow.setdefault(w, []).append(Change(rule=rule, files=tuple(rels)))
    return per_workflow, unmapped


def _pick_workflow(cfg: Config, candidates: list[int], wanted: str | None) -> int:
    if wanted is not None:
        for i, w in enumerate(cfg.workflows):
            if wanted in (w.id, w.type, w.key):
                if i not in candidates:
                    raise UsageError(f"{wanted}: no rule of this workflow maps those files")
                return i
        known = ", ".join(w.label for w in cfg.workflows)
        raise UsageError(f"{wanted}: not a workflow in the config (it has: {known})")
    if len(candidates) == 1:
        return candidates[0]
    names = ", ".join(cfg.workflows[i].id or str(cfg.workflows[i].type) for i in candidates)
    raise UsageError(f"several workflows match ({names}); pick one with --workflow")


def _describe(decision: Decision) -> str:
    if decision.kind == "reset":
        return f"reset after {decision.anchor} ({decision.why})"
    if decision.kind == "fresh":
        return f"fresh run ({decision.why})"
    return f"no reset: {decision.why}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _error(message: str) -> None:
    typer.echo(f"error: {message}", err=True)


def _warn(message: str) -> None:
    typer.echo(f"warning: {message}", err=True)


class _LowerLevelFormatter(logging.Formatter):
    """`warning: ...` like every other message of the tool, not `WARNING: ...`."""

    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).replace(record.levelname, record.levelname.lower(), 1)


def _logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_LowerLevelFormatter("%(levelname)s: %(message)s"))
    root = logging.getLogger("runner")
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.WARNING)
    root.propagate = False
