"""Following a run to its end on a thread: each step it executes, its end, how its outputs changed.

The one place that retries a follow: engines raise typed errors (`ApiError.retryable`), and a
lost follow is taken up again with a backoff (said once), events already seen being skipped.
A step is reported as run only if it completed after the reset marker that made the run, read
from the history wherever the page boundaries fall: the copied prefix was replayed, not run.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from runner.compare import compare_runs
from runner.engine import Engine
from runner.errors import ApiError, RunnerError
from runner.history import Activity, RunHistory
from runner.reports import Notice, Reporter, RunCompared, RunFinished, StepDone

MAX_BACKOFF_S = 10.0


class Follower(threading.Thread):
    """Reports a run's steps as they complete, its end, and how its outputs changed.

    `report` None follows quietly (only to hand the finished history to `on_closed`)."""

    def __init__(
        self,
        engine: Engine,
        workflow_id: str,
        run_id: str,
        report: Reporter | None,
        *,
        previous: str | None = None,
        rerun: tuple[str, ...] = (),
        on_closed: Callable[[RunHistory], object] | None = None,
        on_end: Callable[[RunHistory], object] | None = None,
        case: str | None = None,
    ) -> None:
        super().__init__(name=f"output-reset-follow-{run_id[:8]}", daemon=True)
        self.run_id = run_id
        self._engine = engine
        self._history = RunHistory(workflow_id=workflow_id, run_id=run_id)
        self._quiet = report is None
        self._report: Reporter = report or (lambda _: None)
        self._previous = previous
        self._rerun = rerun
        self._on_closed = on_closed
        self._on_end = on_end
        self._cancel = threading.Event()
        self._began = time.monotonic()
        self._unsaid: list[Activity] = []
        self._case = case  # closed before the replayed part's end was known

    def cancel(self) -> None:
        self._cancel.set()

    def run(self) -> None:
        try:
            self._follow_until_closed()
            if self._history.closed and not self._cancel.is_set():
                self._finished()
        except RunnerError as exc:
            if not self._cancel.is_set():
                self._report(Notice(f"stopped following run {self.run_id}: {exc}"))
        finally:
            if self._on_end is not None:
                self._on_end(self._history)

    def _on_steps(self, done: list[Activity]) -> None:
        if self._cancel.is_set():
            return
        self._unsaid += [a for a in done if not a.internal]
        until = self._history.replayed_until()
        if until is None and not self._history.closed:
            return  # the reset marker may be on the next page
        for activity in self._unsaid:
            if (activity.closed_id or 0) > (until or 0):
                self._report(StepDone(self._history.workflow_id, self.run_id, activity, self._case))
        self._unsaid = []

    def _follow_until_closed(self) -> None:
        follow_until_closed(self._engine, self._history, self._cancel, self._on_steps, self._report)

    def _finished(self) -> None:
        history = self._history
        self._on_steps([])  # a run that closed before its marker was told: say what is left
        self._report(
            RunFinished(
                history.workflow_id,
                self.run_id,
                history.status,
                time.monotonic() - self._began,
                self._case,
            )
        )
        if self._previous is not None and not self._quiet:
            old = self._engine.history(history.workflow_id, self._previous, payloads=True)
            steps = self._rerun or tuple(history.steps_in_order())
            diffs = tuple(compare_runs(old, history, steps))
            if not self._cancel.is_set():
                self._report(
                    RunCompared(
                        history.workflow_id,
                        self.run_id,
                        self._previous,
                        diffs,
                        history.result,
                        self._case,
                    )
                )
        if self._on_closed is not None:
            self._on_closed(history)


def follow_until_closed(
    engine: Engine,
    history: RunHistory,
    stop: threading.Event,
    on_steps: Callable[[list[Activity]], None],
    report: Reporter,
) -> None:
    """Follow the run until it closes or `stop` is set; follow again after transport failures
    (said once, then quietly, with a growing pause). The one place a follow is retried."""
    failures = 0
    while not stop.is_set():
        try:
            engine.follow(history, on_steps=on_steps, stop=stop, payloads=True)
            return
        except ApiError as exc:
            if not exc.retryable:
                raise
            failures += 1
            if failures == 1:
                report(Notice(f"lost the run {history.run_id} for a moment ({exc}); retrying"))
            stop.wait(min(MAX_BACKOFF_S, 0.25 * 2**failures))
