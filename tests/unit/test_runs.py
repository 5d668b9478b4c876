"""Which run a config entry pins (runner/runs.py), against an in-memory engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.config import WorkflowConfig, parse_config
from runner.engine import RunStatus
from runner.errors import NoRunYet, RunnerError
from runner.runs import Runs
from runner.state import StateStore
from tests.engines import RecordingEngine

CHILD = "digest-1-BlwCcFq8TzWuXk3mYp0aZA"


class Listed(RecordingEngine):
    """Runs of a type, newest first, as given."""

    def __init__(self, rows: list[tuple[str, str]]) -> None:
        super().__init__()
        self.rows = rows

    def runs_of_type(self, workflow_type: str) -> list[RunStatus]:
        return [RunStatus(workflow_id=w, run_id=r, status="completed") for w, r in self.rows]


def entry(tmp_path: Path) -> tuple[Runs, WorkflowConfig]:
    text = "workflows:\n  - type: prep\n    rules: [{files: a.prompt, rerun: s}]\n"
    config = parse_config(text, path=tmp_path / "output-reset.yaml", shown_as="c")
    return Runs(Listed([]), StateStore(tmp_path / ".output-reset")), config.workflows[0]


def test_a_type_entry_pins_the_newest_run_that_is_not_a_child_execution(tmp_path: Path) -> None:
    runs, workflow = entry(tmp_path)
    runs.engine = Listed([(CHILD, "r-child"), ("prep-7", "r-root"), ("prep-6", "r-old")])
    resolved = runs.resolve(workflow, {}, persist=False)
    assert (resolved.pin.workflow_id, resolved.pin.run_id) == ("prep-7", "r-root")


def test_a_type_that_only_ran_as_a_child_is_said_so(tmp_path: Path) -> None:
    runs, workflow = entry(tmp_path)
    runs.engine = Listed([(CHILD, "r-child")])
    with pytest.raises(RunnerError) as raised:
        runs.resolve(workflow, {}, persist=False)
    assert not isinstance(raised.value, NoRunYet)
    assert str(raised.value) == (
        "workflow type prep has only run as a child of another workflow; pin the workflow "
        "that starts it instead (its files go in that entry's rules)"
    )


def test_a_type_that_never_ran_is_no_run_yet(tmp_path: Path) -> None:
    runs, workflow = entry(tmp_path)
    with pytest.raises(NoRunYet):
        runs.resolve(workflow, {}, persist=False)
