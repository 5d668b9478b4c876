"""Running a dataset entry's eval workflow on its cases' new outputs, as `output workflow test
--cached` does (docs/output-api.md §8.4), and comparing the verdicts with the last iteration's.

Called on a job thread once every case's run of an iteration has ended; what it finds is an
`Evaluated` report, or one Notice saying why there is none (no eval workflow: said once, with
how to add one; the eval failed or timed out; its answer was not an EvalOutput).
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runner.actions import CaseRun, RunEvals
from runner.config import WorkflowConfig
from runner.datasets import eval_input, read_datasets
from runner.engine import Engine
from runner.errors import NoSuchWorkflow, RunnerError
from runner.evals import CaseVerdict, matrix, parse
from runner.iterations import Iterations, latest_eval
from runner.reports import Evaluated, Notice

log = logging.getLogger(__name__)

EVAL_TIMEOUT_S = 600.0  # what Output's CLI waits for an eval workflow


class Evaluator:
    def __init__(self, engine: Engine, root: Path, kept: Iterations | None = None) -> None:
        self.engine = engine
        self.root = root
        self.kept = kept  # the iterations kept: the verdicts to compare with, across restarts
        self._before: dict[str, list[CaseVerdict]] = {}  # entry -> last verdicts
        self._told: set[str] = set()  # entries told there is no eval workflow
        self._lock = threading.Lock()

    def run(self, action: RunEvals) -> Evaluated | Notice | None:
        """The verdicts (None: a baseline not needed, as an eval of these runs is kept).

        `watch` runs one entry's evals one after the other, in the order asked (its jobs take
        their turn, jobs.Turns), so a save's evals compare with the evals before them."""
        entry = action.entry
        workflow_type = entry.type or ""
        name = f"{workflow_type}_eval"
        with self._lock:
            judged_here = entry.key in self._before
        if action.baseline and not judged_here:
            # At start: the verdicts kept with the last iteration stand for these runs. Later
            # (a dataset's cases changed), the cases are judged again as they are now.
            kept = self._kept_verdicts(workflow_type)
            if kept:
                with self._lock:
                    self._before.setdefault(entry.key, kept)
                return None
        outputs = {c.case: self._output(c) for c in action.cases}
        cases = [c for c in read_datasets(self.root, workflow_type).cases if c.name in outputs]
        date = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        try:
            result = self.engine.run_workflow(
                name, eval_input(cases, outputs, date), timeout_s=EVAL_TIMEOUT_S
            )
        except NoSuchWorkflow:
            return self._no_eval(entry, name)
        if result.status != "completed":
            why = result.error or result.status
            return Notice(f"{workflow_type}: the eval workflow {name} {result.status}: {why}")
        now = parse(result.output)
        with self._lock:
            before = self._before.get(entry.key)
            self._before[entry.key] = now
        if before is None:
            before = self._kept_verdicts(workflow_type)
        table = matrix(now, before)
        said = {c.case for c in now}
        return Evaluated(
            workflow_type,
            name,
            table,
            result.run_id,
            result.output,
            baseline=action.baseline,
            unjudged=tuple(c.name for c in cases if c.name not in said),
        )

    def _kept_verdicts(self, workflow_type: str) -> list[CaseVerdict]:
        """The newest eval kept for this workflow type (none kept, or unreadable: none)."""
        if self.kept is None:
            return []
        try:
            return latest_eval(self.kept, self.kept.read(), workflow_type)
        except RunnerError:
            return []

    def failed(self, entry: WorkflowConfig, error: RunnerError) -> Notice:
        return Notice(f"{entry.type}: the evals did not run: {error}", level="error")

    def _output(self, case: CaseRun) -> Any:
        """The case run's output: as the follower saw it, or read from its history."""
        if case.output_known:
            return case.output
        history = self.engine.history(case.workflow_id, case.run_id, payloads=True)
        return history.result if history.status == "completed" else None

    def _no_eval(self, entry: WorkflowConfig, name: str) -> Notice:
        with self._lock:
            first = entry.key not in self._told
            self._told.add(entry.key)
        if not first:
            return Notice(f"{entry.type}: no {name} to judge the outputs", level="info")
        return Notice(
            f"{entry.type}: the worker has no eval workflow {name}, so the outputs are not "
            f"judged; add one (evalWorkflow({{ name: '{name}', evals: [...] }}) in "
            f"src/workflows/<folder of {entry.type}>/tests/evals/workflow.ts); the runs and "
            "diffs are still shown",
            level="info",
        )
