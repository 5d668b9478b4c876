"""`output-reset eval`: run the evals of every dataset entry on its pinned runs, once, now."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from runner.cli.common import (
    ConfigOption,
    JsonOption,
    app,
    error,
    load,
    open_resetter,
    pinned_slots,
    setup_logging,
    warn,
)
from runner.config import CONFIG_NAME
from runner.errors import NoRunYet, NotStarted, UsageError

if TYPE_CHECKING:
    from runner.actions import CaseRun, Slot
    from runner.config import Config
    from runner.reports import Evaluated
    from runner.resetter import Resetter


@app.command("eval")
def evaluate(
    config: ConfigOption = Path(CONFIG_NAME),
    workflow: Annotated[
        str | None,
        typer.Option("--workflow", "-w", help="Only this dataset entry (its workflow type)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Judge the dataset cases' pinned runs with the eval workflow, now.

    Runs each dataset entry's `<type>_eval` on its cases' outputs, as `output workflow test
    --cached` does, and shows the verdicts. Exit 0 when every case passes, 1 otherwise."""
    from runner.actions import RunEvals
    from runner.evaluate import Evaluator
    from runner.iterations import Iterations
    from runner.reports import Evaluated
    from runner.wording import matrix_lines

    setup_logging(False)
    cfg = load(config)
    entries = _dataset_entries(cfg, workflow)
    slots = pinned_slots(cfg)
    documents: list[dict[str, Any]] = []
    every_case_passed = True
    with open_resetter(cfg) as resetter:
        # Compared with the newest eval kept while watching: "(was 2 pass, 1 fail)".
        evaluator = Evaluator(resetter.engine, cfg.root, Iterations(cfg.state_dir))
        for index in entries:
            entry = cfg.workflows[index]
            runs, missing = _case_runs(resetter, [s for s in slots if s.index == index])
            for label, why in missing:
                warn(f"{label}: not judged: {why}")
            every_case_passed &= not missing
            if not runs:
                error(f"{entry.type}: no case has a run to judge yet")
                every_case_passed = False
                continue
            found = evaluator.run(RunEvals(entry, tuple(runs)))
            if not isinstance(found, Evaluated):
                error(found.message if found is not None else f"{entry.type}: not judged")
                every_case_passed = False
                continue
            every_case_passed &= found.matrix.all_pass and not found.unjudged
            if as_json:
                documents.append(_as_json(found))
            else:
                for line in matrix_lines(found):
                    typer.echo(line)
    if as_json:
        typer.echo(json.dumps({"evaluations": documents}, indent=2, ensure_ascii=False))
    if not every_case_passed:
        raise typer.Exit(1)


def _dataset_entries(cfg: Config, wanted: str | None) -> list[int]:
    found = [i for i, w in enumerate(cfg.workflows) if w.datasets is not None]
    if not found:
        raise UsageError(
            f"no entry of {cfg.shown} has `datasets:`; add `datasets: all` to a `type:` entry "
            "whose workflow has tests/datasets"
        )
    if wanted is None:
        return found
    chosen = [i for i in found if cfg.workflows[i].type == wanted]
    if not chosen:
        known = ", ".join(str(cfg.workflows[i].type) for i in found)
        raise UsageError(f"{wanted}: not a dataset entry of the config (it has: {known})")
    return chosen


def _case_runs(
    resetter: Resetter, slots: list[Slot]
) -> tuple[list[CaseRun], list[tuple[str, str]]]:
    """Each case's pinned run (its output read from its history by the evaluator), and the
    cases that have none yet, with why."""
    from runner.actions import CaseRun

    runs: list[CaseRun] = []
    missing: list[tuple[str, str]] = []
    for slot in slots:
        case = slot.workflow.case
        assert case is not None
        try:
            pin = resetter.resolve(slot.workflow, {}, persist=False).pin
        except (NoRunYet, NotStarted) as exc:
            missing.append((slot.workflow.label, f"{exc}; `output-reset watch` starts its run"))
            continue
        runs.append(CaseRun(case, pin.workflow_id, pin.run_id))
    return runs, missing


def _as_json(event: Evaluated) -> dict[str, Any]:
    from runner.jsonlines import event_json

    document = event_json(event) or {}
    document.pop("event", None)
    return document
