"""The commands that write files for you: `init` (a config for an Output project) and `schema`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from runner.cli.common import (
    app,
    flag,
    plural,
    setup_logging,
    warn,
)
from runner.config import CONFIG_NAME, load_config
from runner.errors import ApiError, RunnerError, UsageError

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
    from runner.init import choose_pin, render_config, scan_project
    from runner.output_api import OutputApi, resolve_settings

    setup_logging(False)
    target = folder / CONFIG_NAME
    if target.exists() and not force:
        raise UsageError(f"{target} already exists; pass --force to overwrite it")
    project = scan_project(folder)
    for warning in project.warnings:
        warn(warning)
    settings = resolve_settings(ApiConfig(), load_environment(Path.cwd(), folder))
    api = OutputApi(settings, timeout_s=3.0)
    found: dict[str, str] = {}
    pins: dict[str, str] | None = found
    try:
        # Only the workflows that get an entry: a child's latest run is a child execution,
        # and a reset through its id would leave the parent unchanged.
        for workflow in project.entries:
            pin = choose_pin(run.workflow_id for run in api.runs_of_type(workflow.name))
            if pin is not None:
                found[workflow.name] = pin
        asked = f"pinned to the latest run of each workflow that has one ({settings.shown_url})"
    except ApiError as exc:
        pins = None
        asked = f"each entry pins the most recent run of its type (no API answered: {exc})"
    finally:
        api.close()
    text = render_config(project, config_dir=folder.resolve(), pins=pins)
    try:
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise RunnerError(f"cannot write {target}: {exc.strerror}") from None
    rules = load_config(target, shown_as=str(target))
    count = sum(len(w.rules) for w in rules.workflows)
    typer.echo(
        f"wrote {target}: {plural(len(rules.workflows), 'workflow')}, {plural(count, 'rule')}; "
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
