"""The `output-reset` command line: the composition root, and the only code that prints.

Each command loads the config, builds the engine adapter and hands over to the core. Errors
are mapped to exit codes in one place (`main`): 0 ok, 1 runtime failure, 2 usage or config
error, 3 a bug (with its traceback). Commands import what they need when they run, so `--help`
stays fast.
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import Annotated

import typer
from typer.models import CommandInfo

from runner import __version__
from runner.cli import evaluating, iterating, oneshot, setup, validating, watching
from runner.cli.common import app, error, flag
from runner.errors import RunnerError

__all__ = [
    "app",
    "evaluating",
    "iterating",
    "main",
    "oneshot",
    "run",
    "setup",
    "validating",
    "watching",
]

# `--help` lists the commands in this order, the daemon first, each in one line that fits.
_SHORT = {
    "watch": "Watch the mapped files; reset the pinned runs on a change.",
    "plan": "Show what a change to these files would do.",
    "reset": "Reset the pinned run once, now, and pin the new run.",
    "status": "Show each pinned run, its steps and their files.",
    "eval": "Judge the dataset cases' runs with the eval workflow.",
    "log": "Show the resets and iterations so far.",
    "compare": "Show what changed between two iterations.",
    "restore": "Write the mapped files back as they were at an iteration.",
    "save-datasets": "Write the newest outputs and verdicts into the datasets.",
    "validate": "Check the config, and its step names against the runs.",
    "init": "Write an output-reset.yaml for this Output project.",
    "schema": "Print the JSON Schema of output-reset.yaml.",
    "demo": "Try it in one command, on an example project.",
}
_ORDER = list(_SHORT)


def _name(command: CommandInfo) -> str:
    return command.name or str(getattr(command.callback, "__name__", ""))


app.registered_commands.sort(
    key=lambda c: _ORDER.index(_name(c)) if _name(c) in _ORDER else len(_ORDER)
)
for _command in app.registered_commands:
    _command.short_help = _command.short_help or _SHORT.get(_name(_command))


def main() -> None:
    """Entry point: run the app and map every failure to an exit code."""
    try:
        app()
    except RunnerError as exc:
        error(str(exc))
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception:
        traceback.print_exc()
        error(
            f"this is a bug in output-reset {__version__}; please report it with the "
            "traceback above"
        )
        sys.exit(3)


def run() -> None:
    """The `output-reset` command: `main()`, then leave at once.

    Everything worth keeping is written by then (the state file atomically, the log line by
    line). The interpreter's own shutdown can hang for seconds on a foreign runtime's threads
    (the Temporal SDK's, with a long poll out), which Ctrl-C must not wait for."""
    code: int | str | None = 0
    try:
        main()
    except SystemExit as done:
        code = done.code
    if isinstance(code, str):
        sys.stderr.write(code + "\n")
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code or 0)


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
