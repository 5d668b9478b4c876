"""Keeping iterations while watching: the changed files' texts as a reset goes out, and the
record of the burst once its runs (and its evals) have ended (`.output-reset/iterations.jsonl`).

Called on job threads. A record that cannot be written is one Notice, never a stopped watch:
the resets themselves are in the state file and the audit log already. An iteration still
waiting for its evals when watch stops is kept without them (`keep_the_rest`), so that stopping
during a slow eval loses no save.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from runner.actions import Digest, Iteration
from runner.errors import BadAnswer, StateError
from runner.iterations import Iterations
from runner.reports import Notice, Recorded


class Recorder:
    def __init__(self, store: Iterations, root: Path) -> None:
        self.store = store
        self.root = root
        self._told = False
        self._lock = threading.Lock()
        self._writing = threading.Lock()  # a kept iteration's claim and write, together
        self._due: dict[int, Iteration] = {}  # asked to be kept, not kept yet (in that order)
        self._asked = 0

    def expect(self, iteration: Iteration) -> int:
        """Note (on the loop thread) an iteration to keep once its job gets to it (after its
        evals, for dataset cases); its key."""
        with self._lock:
            self._asked += 1
            self._due[self._asked] = iteration
            return self._asked

    def keep(
        self, key: int, iteration: Iteration, eval_output: Any = None, line: str | None = None
    ) -> Recorded | Notice | None:
        """Keep the iteration noted as `key`, now that its evals have ended; None when watch
        stopped first and kept it without them. Claimed and written under one lock, so that
        a stop waits for a write under way and keeps the saves in their order."""
        with self._writing:
            with self._lock:
                if self._due.pop(key, None) is None:
                    return None
            return self.record(iteration, eval_output, line)

    def keep_the_rest(self) -> list[Recorded | Notice]:
        """Watch is stopping: keep, in the order they were asked for, the iterations whose
        jobs have not kept them (evals still running, or the job not yet run), without evals."""
        with self._writing:
            with self._lock:
                rest, self._due = list(self._due.values()), {}
            return self._keep_without_evals(rest)

    def _keep_without_evals(self, rest: list[Iteration]) -> list[Recorded | Notice]:
        said: list[Recorded | Notice] = []
        for iteration in rest:
            kept = self.record(iteration)
            said.append(kept)
            if isinstance(kept, Recorded):
                said.append(
                    Notice(
                        f"{iteration.workflow}: iteration {kept.n} kept without its evals "
                        "(watch stopped before they ended)",
                        level="info",
                    )
                )
        return said

    def snapshot(self, files: Mapping[str, Digest]) -> None:
        """Keep the texts a reset is built on, as they are now (before the reset is sent)."""
        for rel in files:
            with contextlib.suppress(StateError):  # said when the record fails too
                self.store.snapshot(self.root, rel)

    def record(
        self, iteration: Iteration, eval_output: Any = None, line: str | None = None
    ) -> Recorded | Notice:
        """Append the iteration; `eval_output` is its eval workflow's EvalOutput, if any, and
        `line` the verdict line printed for it (compared with the evals before this save,
        which may be the ones run at the start rather than a kept iteration's)."""
        try:
            n = self.store.record(self._document(iteration, eval_output, line))
        except StateError as exc:
            return Notice(f"{iteration.workflow}: the iteration was not kept: {exc}")
        first, self._told = not self._told, True
        return Recorded(n, iteration.workflow, hint=first)

    def _document(self, iteration: Iteration, eval_output: Any, line: str | None) -> dict[str, Any]:
        store = self.store
        verdicts = None
        if eval_output is not None:
            try:
                verdicts = store.eval_record(iteration.workflow, eval_output)
            except BadAnswer:
                verdicts = None  # said by the evaluator already
        if verdicts is not None and line is not None:
            verdicts["line"] = line
        return {
            "workflow": iteration.workflow,
            "files": [{"path": p, "hash": h} for p, h in sorted(iteration.files.items())],
            "cases": [
                {
                    "case": c.case,
                    "workflowId": c.workflow_id,
                    "oldRunId": c.old_run_id,
                    "newRunId": c.new_run_id,
                    "status": c.status,
                    "output": store.keep_json(c.output) if c.status == "completed" else None,
                }
                for c in iteration.cases
            ],
            "eval": verdicts,
        }
