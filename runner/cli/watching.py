"""`watch` and `demo`: the long-running commands. Ctrl-C and SIGTERM end them at once
(runner/signals.py), with the state intact.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from runner.cli.common import (
    ConfigOption,
    app,
    flag,
    load,
    make_engine,
    setup_logging,
)
from runner.config import CONFIG_NAME

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
    from runner.signals import StopOnSignals
    from runner.view import make_view

    setup_logging(verbose)
    cfg = load(config)
    engine = make_engine(cfg)
    options = Options(
        dry_run=dry_run,
        follow=not no_follow,
        wait_worker=not no_wait_worker,
        catch_up=not no_catch_up,
        poll=poll,
    )
    view = make_view(as_json=as_json, verbose=verbose, live=sys.stdout.isatty())
    daemon = Daemon(cfg, engine, view.report, options=options)
    try:
        with StopOnSignals(daemon.stop):
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
            "--dir",
            help="Folder for the demo's prompts and config: a new one, or one an earlier demo "
            "made (edits are kept).",
        ),
    ] = Path("output-reset-demo"),
    verbose: Annotated[bool, flag("--verbose", "-v", help="Say more.")] = False,
) -> None:
    """Try it in one command: a Temporal dev server, an example worker, prompts to edit."""
    import threading

    from runner.demo.flow import run_demo
    from runner.signals import StopOnSignals
    from runner.view import LiveView, PlainView

    setup_logging(verbose)
    stop = threading.Event()
    view = LiveView(verbose=verbose) if sys.stdout.isatty() else PlainView(verbose=verbose)
    try:
        with StopOnSignals(stop.set):
            code = run_demo(directory, report=view.line, stop=stop, on_report=view.report)
    finally:
        view.close()
    raise typer.Exit(code)
