"""What every command shares: the typer app, common options, loading the config, building the
engine, and the words for errors and warnings (the CLI is the only place that prints).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from runner.config import Config, load_config
from runner.errors import UsageError

if TYPE_CHECKING:
    from runner.actions import Slot
    from runner.engine import Engine
    from runner.paths import Matcher
    from runner.plan import Change, Decision
    from runner.resetter import Resetter

app = typer.Typer(
    name="output-reset",
    help="Watch prompt and step files of an Output project and reset the pinned workflow run "
    "from the right step.",
    add_completion=False,
    no_args_is_help=True,
    # Plain help: rich's renderer alone costs 100 ms of start-up (bench/startup.py).
    rich_markup_mode=None,
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


def load(path: Path) -> Config:
    return load_config(path, shown_as=str(path))


def make_engine(cfg: Config) -> Engine:
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
        warn(
            f"{settings.token_env} will be sent over plain http to {settings.shown_url}; "
            "use https for a remote API"
        )
    return OutputApi(settings)


@contextmanager
def open_resetter(cfg: Config) -> Iterator[Resetter]:
    from runner.auditlog import AuditLog
    from runner.resetter import Resetter
    from runner.runs import Runs
    from runner.state import StateStore

    engine = make_engine(cfg)
    try:
        runs = Runs(engine, StateStore(cfg.state_dir))
        yield Resetter(engine, runs, AuditLog(cfg.state_dir))
    finally:
        engine.close()


def changes_for(
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


def pinned_slots(cfg: Config) -> list[Slot]:
    """Every pinned run of the config: an entry, each id of an id list, each dataset case.
    A dataset file that cannot be used is a warning; a case that does not exist, an error."""
    from runner.cases import Cases

    cases = Cases(cfg)
    for warning in cases.read():
        warn(warning)
    return cases.slots()


def pick_slots(
    cfg: Config, slots: list[Slot], candidates: list[int], wanted: str | None
) -> list[Slot]:
    """The pinned runs `--workflow` names: an entry's (by id, type or key), or one run (by its
    workflow id, or a case as `type/case`); without it, the one entry among `candidates`."""
    if wanted is not None:
        one = [s for s in slots if wanted in (s.workflow.id, s.workflow.label) and s.entry.fans_out]
        if one:
            if one[0].index not in candidates:
                raise UsageError(f"{wanted}: no rule of this workflow maps those files")
            return one[:1]
    index = pick_workflow(cfg, candidates, wanted)
    return [s for s in slots if s.index == index]


def pick_workflow(cfg: Config, candidates: list[int], wanted: str | None) -> int:
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


def describe(decision: Decision) -> str:
    if decision.kind == "reset":
        return f"reset after {decision.anchor} ({decision.why})"
    if decision.kind == "fresh":
        return f"fresh run ({decision.why})"
    return f"no reset: {decision.why}"


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def error(message: str) -> None:
    _say("error", message, "red")


def warn(message: str) -> None:
    _say("warning", message, "yellow")


def _say(level: str, message: str, colour: str) -> None:
    """On a terminal, errors in red and warnings in yellow (click drops the colour elsewhere;
    NO_COLOR turns it off)."""
    prefix = f"{level}:" if os.environ.get("NO_COLOR") else typer.style(f"{level}:", fg=colour)
    typer.echo(f"{prefix} {message}", err=True)


class _LowerLevelFormatter(logging.Formatter):
    """`warning: ...` like every other message of the tool, not `WARNING: ...`."""

    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).replace(record.levelname, record.levelname.lower(), 1)


def setup_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_LowerLevelFormatter("%(levelname)s: %(message)s"))
    root = logging.getLogger("runner")
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.WARNING)
    root.propagate = False
