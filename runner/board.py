"""The daemon's decisions as a pure state machine: no threads, no clock, no I/O.

The board holds one `Tracker` per pinned run and what they share: the wait for Output's
worker, whether the API was said to be down, the session's savings, and whether the ready line
was said. The daemon tells it what happened (files changed, a run was pinned, a reset came
back, the worker reloaded, time passed) with `now`, and gets back the `Action`s to carry out;
each job's result is the next event. The model is h11's: plain data in, plain data out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from runner.actions import (
    Action,
    Announce,
    Digest,
    EndWait,
    ObserveWorker,
    PinResult,
    Routes,
    Say,
    Settings,
    StopFollowing,
    WaitWorker,
)
from runner.config import WorkflowConfig
from runner.errors import (
    ApiError,
    NoRunYet,
    NotReset,
    ResetInProgress,
    ResetOutcomeUnknown,
    RunnerError,
    SideEffectsDeclined,
)
from runner.gate import WorkerGate
from runner.plan import Decision
from runner.reports import Decided, Notice, Outcome, SessionSummary, WaitingForWorker
from runner.tracker import MAX_RETRY_S, Tracker
from runner.usage import Totals

FIRST_RUN_POLL_S = 10.0  # how often to look for the first run of a type that never ran
IN_PROGRESS_RETRY_S = 2.0  # another output-reset is resetting the same run


class Board:
    def __init__(
        self, workflows: Sequence[WorkflowConfig], routes: Routes, settings: Settings
    ) -> None:
        self.settings = settings
        self.routes = routes
        self.session = Totals()
        self._serials = 0
        self.trackers = [
            self._new(w, i, catch_up=settings.catch_up) for i, w in enumerate(workflows)
        ]
        self._gate = WorkerGate(settings.worker_timeout_s)
        self._announced = False
        self._settled: set[int] = set()
        self._down = False

    def _new(self, workflow: WorkflowConfig, index: int, *, catch_up: bool) -> Tracker:
        self._serials += 1
        return Tracker(serial=self._serials, workflow=workflow, index=index, catch_up=catch_up)

    def tracker(self, serial: int) -> Tracker | None:
        return next((t for t in self.trackers if t.serial == serial), None)

    @property
    def _gated(self) -> bool:
        return self.settings.wait_worker and not self.settings.dry_run

    def _process(self, tracker: Tracker, now: float) -> list[Action]:
        return tracker.process(now, dry_run=self.settings.dry_run)

    # -- start and stop -------------------------------------------------------------------

    def start(self) -> list[Action]:
        actions: list[Action] = [t.pin_job() for t in self.trackers]
        if self._gated:
            actions.append(ObserveWorker())
        return actions

    def stop(self) -> list[Action]:
        return [Say(SessionSummary(replace(self.session)))] if self.session.resets else []

    def _settle(self, tracker: Tracker, now: float) -> list[Action]:
        """Before the ready line, count the first pin attempts; after the last, go."""
        if self._announced:
            return tracker.begin(now, dry_run=self.settings.dry_run) if tracker.pin else []
        self._settled.add(tracker.serial)
        if any(t.serial not in self._settled for t in self.trackers):
            return []
        self._announced = True
        actions: list[Action] = [Announce()]
        waiting = [t.workflow.type or t.label for t in self.trackers if t.no_run_yet]
        if waiting:
            actions.append(Say(Notice(_first_runs(waiting), level="info")))
        for t in self.trackers:
            if t.pin is not None:
                actions += t.begin(now, dry_run=self.settings.dry_run)
            else:
                actions += self._process(t, now)
        return actions

    # -- pinning --------------------------------------------------------------------------

    def pinned(self, now: float, serial: int, result: PinResult) -> list[Action]:
        tracker = self.tracker(serial)
        if tracker is None:
            return []
        return [*self._api_ok(), tracker.pinned(result, self.routes), *self._settle(tracker, now)]

    def pin_failed(self, now: float, serial: int, error: RunnerError) -> list[Action]:
        tracker = self.tracker(serial)
        if tracker is None:
            return []
        tracker.busy = False
        actions: list[Action] = []
        if isinstance(error, NoRunYet):
            first = not tracker.no_run_yet
            tracker.no_run_yet = True
            tracker.retry_at = now + FIRST_RUN_POLL_S
            if first and self._announced:
                actions.append(Say(Notice(f"{tracker.label}: {error}", level="info")))
        elif isinstance(error, ResetInProgress):
            tracker.retry_at = now + IN_PROGRESS_RETRY_S
            actions.append(Say(Notice(f"{tracker.label}: {error}", level="info")))
        elif isinstance(error, ApiError):
            actions += self._api_failed(tracker, now, error, "cannot pin a run yet")
        else:
            actions.append(Say(Notice(f"{tracker.label}: {error}", level="error")))
        return actions + self._settle(tracker, now)

    # -- edits ------------------------------------------------------------------------------

    def edits(self, now: float, wall: float, files: Mapping[str, Digest]) -> list[Action]:
        """Files whose content really changed (a burst), with their new hashes; `wall` is the
        wall-clock time of the burst's last event."""
        touched: dict[int, Tracker] = {}
        reloading: dict[int, Tracker] = {}
        reload_files: list[str] = []
        for rel, digest in sorted(files.items()):
            refs = self.routes.rules_for(rel)
            reloads = bool(refs) and self.routes.reloads(rel)
            if reloads:
                reload_files.append(rel)
            for ref in refs:
                for tracker in self.trackers:
                    if tracker.index == ref.workflow:
                        tracker.add(ref.rule, rel, digest)
                        touched[tracker.serial] = tracker
                        if reloads:
                            reloading[tracker.serial] = tracker
        actions: list[Action] = []
        in_order = [t for t in self.trackers if t.serial in touched]
        if self._gated and reloading:
            held = [t for t in in_order if t.serial in reloading]
            actions += self._wait(now, wall, reload_files, held)
        for tracker in in_order:
            actions += self._process(tracker, now)
        return actions

    # -- the worker wait ----------------------------------------------------------------------

    def _wait(
        self, now: float, wall: float, files: list[str], trackers: list[Tracker]
    ) -> list[Action]:
        """Hold these trackers until Output's worker has loaded the edits; an edit during a
        wait restarts it (the worker restarts again), and the new edits join it."""
        md_only = all(f.endswith(".md") for f in files)
        ended, ticket = self._gate.begin(now, wall, md_only=md_only)
        actions: list[Action] = [EndWait(ended)] if ended is not None else []
        actions.append(WaitWorker(ticket, self._gate.md_only))
        for tracker in trackers:
            tracker.held = True
            if not tracker.told_waiting:
                tracker.told_waiting = True
                report = WaitingForWorker(
                    label=tracker.label,
                    files=tracker.files(),
                    md_only=self._gate.md_only,
                    timeout_s=self.settings.worker_timeout_s,
                )
                actions.append(Say(report))
        return actions

    def worker_seen(
        self, now: float, ticket: int | None, run_id: str, started_at: float | None
    ) -> list[Action]:
        """An observation of the worker (the catalog run and when it started)."""
        if self._gate.seen(ticket, run_id, started_at):
            return self._release(now, timed_out=False)
        return []

    def worker_answered(self, now: float, ticket: int) -> list[Action]:
        """After an `.md`-only edit: the worker answered a query sent after its restart began."""
        return self._release(now, timed_out=False) if self._gate.answered(ticket) else []

    def _release(self, now: float, *, timed_out: bool) -> list[Action]:
        ended = self._gate.end()
        actions: list[Action] = [EndWait(ended)] if ended is not None else []
        for tracker in self.trackers:
            if not tracker.held:
                continue
            tracker.held = False
            tracker.told_waiting = False
            if timed_out:
                limit = self.settings.worker_timeout_s
                actions.append(
                    Say(
                        Notice(
                            f"{tracker.label}: Output's worker did not report new code within "
                            f"{limit:g} s; resetting anyway"
                        )
                    )
                )
            actions += self._process(tracker, now)
        return actions

    # -- what a reset (or a dry-run plan) came back with ------------------------------------

    def reset_done(self, now: float, serial: int, outcome: Outcome | Decision) -> list[Action]:
        """A reset was carried out (`Outcome`), or a dry run decided (`Decision`)."""
        tracker = self.tracker(serial)
        if tracker is None:
            return []
        tracker.job_back(dealt_with=True)
        if isinstance(outcome, Decision):
            return [Say(Decided(tracker.label, outcome, None)), *self._process(tracker, now)]
        tracker.pin = outcome.pin
        tracker.failures = 0
        actions = self._api_ok()
        actions.append(Say(Decided(tracker.label, outcome.decision, outcome)))
        actions += [Say(Notice(f"{tracker.label}: {note}")) for note in outcome.notes]
        if outcome.new_run_id is not None:
            self.session.add(outcome.savings)
            decision = outcome.decision
            actions.append(
                tracker.follow(
                    decision.workflow_id,
                    outcome.new_run_id,
                    previous=decision.run_id,
                    rerun=decision.rerun,
                )
            )
        return actions + self._process(tracker, now)

    def reset_failed(self, now: float, serial: int, error: RunnerError) -> list[Action]:
        tracker = self.tracker(serial)
        if tracker is None:
            return []
        label = tracker.label
        declined = isinstance(error, SideEffectsDeclined)
        tracker.job_back(dealt_with=declined)  # declined: deliberately not done, and said so
        if declined:
            return [Say(Notice(f"{label}: {error}"))]
        if isinstance(error, ResetInProgress):
            tracker.retry_at = now + IN_PROGRESS_RETRY_S
            return [Say(Notice(f"{label}: {error}", level="info"))]
        if isinstance(error, NotReset):
            return [Say(Notice(str(error)))]  # stays pending until the next change
        if isinstance(error, ResetOutcomeUnknown):
            return [Say(Notice(f"{label}: {error}; the change stays pending", level="error"))]
        if isinstance(error, ApiError):
            return self._api_failed(tracker, now, error, "reset not done")
        return [Say(Notice(f"{label}: {error}; the change stays pending", level="error"))]

    def followed(self, serial: int, run_id: str) -> None:
        """The follower of `run_id` ended (the run closed, or it was replaced)."""
        tracker = self.tracker(serial)
        if tracker is not None and tracker.following == run_id:
            tracker.following = None

    # -- time -------------------------------------------------------------------------------

    def deadline(self) -> float | None:
        times = [t.retry_at for t in self.trackers if t.retry_at is not None]
        if self._gate.deadline is not None:
            times.append(self._gate.deadline)
        return min(times, default=None)

    def tick(self, now: float) -> list[Action]:
        actions: list[Action] = []
        if self._gate.due(now):
            actions += self._release(now, timed_out=True)
        for tracker in self.trackers:
            if tracker.retry_at is None or now < tracker.retry_at or tracker.busy:
                continue
            tracker.retry_at = None
            if tracker.pin is None:
                actions.append(tracker.pin_job())
            else:
                actions += self._process(tracker, now)
        return actions

    # -- a new config -----------------------------------------------------------------------

    def reconfigure(
        self, workflows: Sequence[WorkflowConfig], routes: Routes, now: float
    ) -> list[Action]:
        """The config file changed: keep the trackers whose entry pins the same thing (with
        their pin, follower and pending edits, re-mapped through the new rules); start the
        others like at start-up (but without catching up): pinned, then followed or read."""
        old = {t.workflow.key: t for t in self.trackers}
        carried: dict[str, Digest] = {}
        self.routes, self.trackers = routes, []
        for index, workflow in enumerate(workflows):
            before = old.pop(workflow.key, None)
            if before is None or before.workflow.fingerprint() != workflow.fingerprint():
                self.trackers.append(self._new(workflow, index, catch_up=False))
                continue
            carried.update((f, h) for files in before.pending.values() for f, h in files.items())
            before.workflow, before.index, before.pending = workflow, index, {}
            self.trackers.append(before)
        actions: list[Action] = [StopFollowing(t.serial) for t in old.values() if t.following]
        for tracker in self.trackers:
            for rel, digest in carried.items():
                for rule in tracker.rules_for(routes, rel):
                    tracker.add(rule, rel, digest)
            if tracker.pin is None and not tracker.busy:
                actions.append(tracker.pin_job())
            else:
                actions += self._process(tracker, now)
        return actions

    # -- the API's health, said once --------------------------------------------------------

    def _api_failed(self, tracker: Tracker, now: float, error: ApiError, what: str) -> list[Action]:
        what = f"{tracker.label}: {what}"
        if error.retryable:
            tracker.back_off(now)
            if self._down:
                return []
            self._down = True
            return [Say(Notice(f"{what}: {error}; will keep retrying"))]
        if tracker.pin is None:
            # Maybe a token is missing, or the id is wrong: look again now and then.
            tracker.retry_at = now + MAX_RETRY_S
            return [Say(Notice(f"{what}: {error}", level="error"))]
        return [Say(Notice(f"{what}: {error}; the change stays pending", level="error"))]

    def _api_ok(self) -> list[Action]:
        if not self._down:
            return []
        self._down = False
        return [Say(Notice("the API answers again", level="info"))]


def _first_runs(types: list[str]) -> str:
    shown = ", ".join(types[:5]) + (f" and {len(types) - 5} more" if len(types) > 5 else "")
    return (
        f"no run yet of {shown}: each is pinned when its first run appears "
        "(start one with `npx output workflow run <type>`)"
    )
