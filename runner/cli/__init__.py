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

from runner import __version__

# Imported in the order `--help` lists the commands in.
from runner.cli import oneshot  # isort: skip
from runner.cli import iterating  # isort: skip
from runner.cli import setup, watching  # isort: skip
from runner.cli.common import app, error, flag
from runner.errors import RunnerError

__all__ = ["app", "iterating", "main", "oneshot", "run", "setup", "watching"]


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
