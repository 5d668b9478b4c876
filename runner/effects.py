"""Carrying out the board's actions: jobs on threads, followers, the worker probe.

The board (board.py) decides; this module does. Pin lookups and resets run as jobs (jobs.py),
off the daemon's loop; a followed run has its follower thread; a worker wait has its probe.
Every result goes back to the board through `post`, to be applied on the loop thread.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from runner import actions as t
from runner.board import Board
from runner.engine import Engine, RunStatus
from runner.errors import RunnerError
from runner.evals import verdict_line
from runner.evaluate import Evaluator
from runner.follow import Follower
from runner.history import RunHistory, unknown_steps
from runner.jobs import Apply, Jobs, Turns
from runner.plan import Decision
from runner.probe import WorkerProbe
from runner.recording import Recorder
from runner.reports import Evaluated, Notice, Outcome, Report, Reporter
from runner.resetter import Resetter
from runner.runs import Runs

Baseline = Callable[[t.PinRun], dict[str, str | None]]


class Effects:
    def __init__(
        self,
        engine: Engine,
        runs: Runs,
        resetter: Resetter,
        *,
        report: Reporter,
        post: Callable[[Apply], None],
        crash: Callable[[BaseException], None],
        baseline: Baseline,
        announce: Callable[[], None],
        root: Path,
        dry_run: bool,
        follow: bool,
        max_jobs: int,
        recorder: Recorder | None = None,
    ) -> None:
        self.engine = engine
        self.runs = runs
        self.resetter = resetter
        self.board: Board | None = None
        self.report = report
        self._post = post
        self._baseline = baseline
        self._announce = announce
        self._dry_run = dry_run
        self._show_follow = follow
        self._jobs = Jobs(post, crash, max_jobs)
        self._turns = Turns()  # an entry's evals and records, in the order asked
        self.recorder = recorder  # None: a dry run keeps no iterations
        self.evals = Evaluator(engine, root, recorder.store if recorder is not None else None)
        self._followers: dict[int, Follower] = {}
        self._probes: dict[int, WorkerProbe] = {}

    def stop(self) -> None:
        for follower in self._followers.values():
            follower.cancel()
        for probe in self._probes.values():
            probe.cancel()
        if self.recorder is not None:
            for said in self.recorder.keep_the_rest():
                self.report(said)

    def carry(self, actions: list[t.Action]) -> None:
        handlers: dict[type, Callable[[Any], None]] = {
            t.Say: lambda a: self.report(a.report),
            t.Announce: lambda a: self._announce(),
            t.PinRun: self._pin,
            t.Warm: self._warm,
            t.ResetRun: self._reset,
            t.FollowRun: self._follow,
            t.StopFollowing: lambda a: self._cancel(self._followers, a.serial),
            t.WaitWorker: self._probe,
            t.EndWait: lambda a: self._cancel(self._probes, a.ticket),
            t.ObserveWorker: self._observe,
            t.StartRun: self._start,
            t.RunEvals: self._evaluate,
            t.Record: self._record,
        }
        for action in actions:
            handlers[type(action)](action)

    @staticmethod
    def _cancel(workers: dict[int, Any], key: int) -> None:
        gone = workers.pop(key, None)
        if gone is not None:
            gone.cancel()

    def _pin(self, action: t.PinRun) -> None:
        serial, board = action.serial, self._the_board()
        hashes = self._baseline(action)

        def pin() -> t.PinResult:
            persist = not self._dry_run
            resolved = self.resetter.resolve(action.workflow, hashes, persist=persist)
            status = self.engine.status(resolved.pin.workflow_id, resolved.pin.run_id)
            return t.PinResult(resolved.pin, resolved.source, status.status, hashes)

        self._jobs.submit(
            pin,
            lambda now, result: board.pinned(now, serial, result),
            lambda now, error: board.pin_failed(now, serial, error),
        )

    def _start(self, action: t.StartRun) -> None:
        serial, board = action.serial, self._the_board()
        hashes = self._baseline(t.PinRun(serial, action.workflow, action.index, action.pending))

        def start() -> t.PinResult:
            resolved = self.resetter.start_case(action.workflow, hashes)
            return t.PinResult(resolved.pin, resolved.source, "running", hashes)

        self._jobs.submit(
            start,
            lambda now, result: board.pinned(now, serial, result),
            lambda now, error: board.pin_failed(now, serial, error),
        )

    def _evaluate(self, action: t.RunEvals) -> None:
        """The evals, then the iteration kept with their verdicts (or without, said why)."""

        recorder, iteration = self.recorder, action.iteration
        key = recorder.expect(iteration) if recorder is not None and iteration is not None else 0

        def evaluate() -> list[Report]:
            try:
                found = self.evals.run(action)
            except RunnerError as exc:
                found = self.evals.failed(action.entry, exc)
            said: list[Report] = [found] if found is not None else []
            if recorder is None or iteration is None:
                return said
            if isinstance(found, Evaluated):
                kept = recorder.keep(key, iteration, found.output, verdict_line(found.matrix))
            else:
                kept = recorder.keep(key, iteration)
            return said if kept is None else [*said, kept]

        self._jobs.submit(evaluate, _said, turn=self._turns.take(f"entry {action.entry.key}"))

    def _record(self, action: t.Record) -> None:
        recorder = self.recorder
        if recorder is not None:
            key = recorder.expect(action.iteration)  # kept at a stop if not yet

            def record() -> list[Report]:
                kept = recorder.keep(key, action.iteration)
                return [] if kept is None else [kept]

            line = f"iterations of {action.iteration.workflow}"
            self._jobs.submit(record, _said, turn=self._turns.take(line))

    def _warm(self, action: t.Warm) -> None:
        pin, workflow = action.pin, action.workflow

        def warm() -> list[str]:
            history = self.runs.history(pin.workflow_id, pin.run_id)
            if not self._dry_run:
                # Traces carry LLM usage, and a reset overwrites them: read them now.
                self.runs.remember_usage(pin.workflow_id, pin.run_id)
            return unknown_steps(workflow.side_effects, history)

        def said(now: float, unknown: list[str]) -> list[t.Action]:
            return [
                t.Say(
                    Notice(
                        f"{workflow.label}: steps: {name} is not a step of run {pin.run_id}, "
                        "so its side_effects guard guards nothing (see output-reset validate)"
                    )
                )
                for name in unknown
            ]

        self._jobs.submit(warm, said)

    def _reset(self, action: t.ResetRun) -> None:
        serial, board = action.serial, self._the_board()
        follower = self._followers.get(serial)

        def reset() -> Outcome | Decision:
            if action.dry_run:
                return self.runs.decide(action.pin, action.changes)
            if self.recorder is not None:
                self.recorder.snapshot(action.hashes)  # the texts this reset is built on
            return self.resetter.apply(
                action.workflow,
                action.changes,
                pin=action.pin,
                hashes=action.hashes,
                # Stop showing the run about to be replaced: its termination is not news.
                before_send=follower.cancel if follower is not None else None,
            )

        self._jobs.submit(
            reset,
            lambda now, outcome: board.reset_done(now, serial, outcome),
            lambda now, error: board.reset_failed(now, serial, error),
        )

    def _follow(self, action: t.FollowRun) -> None:
        """Follow the run; without --no-follow quietly, only to keep its history when done."""
        old = self._followers.pop(action.serial, None)
        if old is not None:
            old.cancel()
        runs, remember_usage = self.runs, not self._dry_run

        def closed(history: RunHistory) -> None:
            runs.remember(history)
            if remember_usage:
                runs.remember_usage(history.workflow_id, history.run_id)

        def ended(history: RunHistory, now: float) -> list[t.Action]:
            if self._followers.get(action.serial) is follower:
                del self._followers[action.serial]
            status = history.status if history.closed else None
            return self._the_board().followed(action.serial, action.run_id, status, history.result)

        follower = Follower(
            self.engine,
            action.workflow_id,
            action.run_id,
            self.report if self._show_follow else None,
            previous=action.previous,
            rerun=action.rerun,
            on_closed=closed,
            on_end=lambda history: self._post(partial(ended, history)),
            case=action.case,
        )
        self._followers[action.serial] = follower
        follower.start()

    def _probe(self, action: t.WaitWorker) -> None:
        board, ticket = self._the_board(), action.ticket
        probe = WorkerProbe(
            self.engine,
            md_only=action.md_only,
            seen=lambda run_id, at: self._post(
                lambda now: board.worker_seen(now, ticket, run_id, at)
            ),
            answered=lambda: self._post(lambda now: board.worker_answered(now, ticket)),
        )
        self._probes[ticket] = probe
        probe.start()

    def _observe(self, _: t.ObserveWorker) -> None:
        board = self._the_board()

        def seen(now: float, status: RunStatus | None) -> list[t.Action]:
            return board.worker_seen(now, None, status.run_id, status.started_at) if status else []

        self._jobs.submit(self.engine.worker_status, seen)

    def _the_board(self) -> Board:
        assert self.board is not None, "Effects.board is set before the first action"
        return self.board


def _said(now: float, reports: list[Report]) -> list[t.Action]:
    return [t.Say(r) for r in reports]
