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
from typing import Any

from runner.actions import (
    Action,
    Announce,
    Digest,
    EndWait,
    ObserveWorker,
    PinResult,
    Record,
    ResetRun,
    Routes,
    RunEvals,
    Say,
    Settings,
    Slot,
    StopFollowing,
    WaitWorker,
)
from runner.errors import (
    ApiError,
    NoRunYet,
    NotReset,
    NotStarted,
    ResetInProgress,
    ResetOutcomeUnknown,
    RunnerError,
    SideEffectsDeclined,
)
from runner.fanout import (
    NEWER_GOES,
    STAYS_PENDING,
    case_error,
    case_runs,
    iteration,
    settled,
    start_cases,
)
from runner.gate import WorkerGate
from runner.plan import Decision
from runner.reports import (
    CaseDecided,
    CasesDecided,
    Changed,
    Decided,
    Notice,
    Outcome,
    SessionSummary,
    WaitingForWorker,
)
from runner.rounds import Round, Rounds
from runner.tracker import MAX_RETRY_S, Tracker
from runner.usage import Totals
from runner.wording import first_runs_line

FIRST_RUN_POLL_S = 10.0  # how often to look for the first run of a type that never ran
IN_PROGRESS_RETRY_S = 2.0  # another output-reset is resetting the same run


class Board:
    def __init__(self, slots: Sequence[Slot], routes: Routes, settings: Settings) -> None:
        self.settings = settings
        self.routes = routes
        self.session = Totals()
        self._serials = 0
        self.trackers = [self._new(s, catch_up=settings.catch_up) for s in slots]
        self._gate = WorkerGate(settings.worker_timeout_s)
        self._rounds = Rounds()
        self._announced = False
        self._settled: set[int] = set()
        self._judged: set[int] = set()  # dataset entries whose evals ran (or were asked for)
        self._down = False

    def _new(self, slot: Slot, *, catch_up: bool) -> Tracker:
        self._serials += 1
        entry = slot.entry if slot.fanned else None
        return Tracker(self._serials, slot.workflow, slot.index, entry, catch_up=catch_up)

    def tracker(self, serial: int) -> Tracker | None:
        return next((t for t in self.trackers if t.serial == serial), None)

    @property
    def _gated(self) -> bool:
        return self.settings.wait_worker and not self.settings.dry_run

    def _process(self, tracker: Tracker, now: float) -> list[Action]:
        actions = tracker.process(now, dry_run=self.settings.dry_run)
        for reset in (a for a in actions if isinstance(a, ResetRun)):
            entry = tracker.entry
            # What its iterations are kept under: the workflow type, or the pin's label.
            label = (entry or tracker.workflow).type or (entry or tracker.workflow).label
            self._rounds.join(
                tracker.index, label, tracker.serial, reset.hashes, fanned=entry is not None
            )
        return actions

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
            began = tracker.begin(now, dry_run=self.settings.dry_run) if tracker.pin else []
            return began + self._start_when_pinned(tracker.index) + self._baseline(tracker.index)
        self._settled.add(tracker.serial)
        if any(t.serial not in self._settled for t in self.trackers):
            return []
        self._announced = True
        actions: list[Action] = [Announce()]
        waiting = [t.workflow.type or t.label for t in self.trackers if t.no_run_yet]
        if waiting:
            actions.append(Say(Notice(first_runs_line(waiting), level="info")))
        actions += start_cases(
            [t for t in self.trackers if t.to_start], dry_run=self.settings.dry_run
        )
        caught_up: set[tuple[str, ...]] = set()  # an edit's catch-up, said once for all cases
        for t in self.trackers:
            if t.pin is not None:
                for action in t.begin(now, dry_run=self.settings.dry_run):
                    report = action.report if isinstance(action, Say) else None
                    if isinstance(report, Changed) and report.catch_up:
                        if report.files in caught_up:
                            continue
                        caught_up.add(report.files)
                    actions.append(action)
            elif not t.to_start:
                actions += self._process(t, now)
        for index in dict.fromkeys(t.index for t in self.trackers):
            actions += self._baseline(index)
        return actions

    def _start_when_pinned(self, index: int) -> list[Action]:
        """After start-up (a dataset file edited): once every case of the entry has been
        looked up, start the ones without a run, together (one line for them all)."""
        cases = [t for t in self.trackers if t.index == index]
        if any(t.busy and t.pin is None for t in cases):
            return []
        return start_cases([t for t in cases if t.to_start], dry_run=self.settings.dry_run)

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
        if isinstance(error, NotStarted):
            # A dry run starts none, and says so once per case.
            tracker.to_start = not (self.settings.dry_run and tracker.no_run_yet)
        elif isinstance(error, NoRunYet):
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
        said: set[str] = set()  # a fanned-out entry's cases wait as one: said once
        for tracker in trackers:
            tracker.held = True
            label = tracker.workflow.case_of or tracker.label
            if not tracker.told_waiting and label not in said:
                said.add(label)
                gate, timeout = self._gate.md_only, self.settings.worker_timeout_s
                actions.append(Say(WaitingForWorker(label, tracker.files(), gate, timeout)))
            tracker.told_waiting = True
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
            said = self._decided(tracker, Decided(tracker.label, outcome, None), None)
            return [*said, *self._process(tracker, now)]
        tracker.pin = outcome.pin
        tracker.failures = 0
        actions = self._api_ok()
        new_run = outcome.new_run_id
        actions += self._decided(
            tracker, Decided(tracker.label, outcome.decision, outcome), new_run
        )
        actions += [Say(Notice(f"{tracker.label}: {note}")) for note in outcome.notes]
        if new_run is not None:
            self.session.add(outcome.savings)
            decision = outcome.decision
            actions.append(
                tracker.follow(
                    decision.workflow_id, new_run, previous=decision.run_id, rerun=decision.rerun
                )
            )
        return actions + self._process(tracker, now)

    def reset_failed(self, now: float, serial: int, error: RunnerError) -> list[Action]:
        tracker = self.tracker(serial)
        if tracker is None:
            return []
        declined = isinstance(error, SideEffectsDeclined)
        newer = tracker.job_back(dealt_with=declined)  # declined: deliberately not done
        after = NEWER_GOES if newer else STAYS_PENDING
        said = self._failure(tracker, now, error, after)
        # An edit made while the job was out is the "next change" the failed one waits for:
        # it goes now (unless the failure set a time to try again).
        again = newer and tracker.retry_at is None
        if self._rounds.member(serial):
            # A case of a fanned-out entry: its failure is a part of the entry's one summary,
            # worded the same for every case that failed alike, so they are said together.
            case = CaseDecided(tracker.label, None, None, case_error(error, after))
            summary, due = self._rounds.decided(serial, case, None)
            if tracker.entry is None:
                said += self._round_end(due)
            else:
                said = self._round_done(summary, due)
        return said + (self._process(tracker, now) if again else [])

    def _failure(
        self, tracker: Tracker, now: float, error: RunnerError, after: str = STAYS_PENDING
    ) -> list[Action]:
        """What a failed reset says, and when to try again (`after`: what becomes of the
        change when it is not tried again by itself)."""
        label = tracker.label
        if isinstance(error, SideEffectsDeclined):
            return [Say(Notice(f"{label}: {error}"))]
        if isinstance(error, ResetInProgress):
            tracker.retry_at = now + IN_PROGRESS_RETRY_S
            return [Say(Notice(f"{label}: {error}", level="info"))]
        if isinstance(error, NotReset):
            return [Say(Notice(str(error)))]  # stays pending until the next change
        if isinstance(error, ResetOutcomeUnknown):
            if error.retryable:  # whether it happened is found out once the API answers
                tracker.back_off(now)
                return [Say(Notice(f"{label}: {error}"))]
            return [Say(Notice(f"{label}: {error}; {after}", level="error"))]
        if isinstance(error, ApiError):
            return self._api_failed(tracker, now, error, "reset not done", after)
        return [Say(Notice(f"{label}: {error}; {after}", level="error"))]

    def _decided(self, tracker: Tracker, report: Decided, new_run: str | None) -> list[Action]:
        """A decision line; for a case of a fanned-out entry, its part of the one summary."""
        if not self._rounds.member(tracker.serial):
            return [Say(report)]
        case = CaseDecided(report.label, report.decision, report.outcome)
        summary, due = self._rounds.decided(tracker.serial, case, new_run)
        if tracker.entry is None:
            return [Say(report), *self._round_end(due)]
        return self._round_done(summary, due)

    def _round_done(self, summary: CasesDecided | None, due: Round | None) -> list[Action]:
        actions: list[Action] = [Say(summary)] if summary is not None else []
        return actions + self._round_end(due)

    def followed(
        self, serial: int, run_id: str, status: str | None = None, output: Any = None
    ) -> list[Action]:
        """The follower of `run_id` ended: the run closed (`status`, its `output`), or the
        follow was cut off (`status` None). The entry's evals, when every case's run ended."""
        tracker = self.tracker(serial)
        if tracker is None:
            return []
        if tracker.following == run_id:
            tracker.following = None
        if status is not None:
            tracker.ended = (run_id, status, output)
        actions = self._round_end(self._rounds.ended(serial, run_id, status, output))
        return actions + self._baseline(tracker.index)

    def _round_end(self, due: Round | None) -> list[Action]:
        """A round whose new runs have all ended: its evals (dataset cases), or its record."""
        if due is None:
            return []
        done = iteration(due, self.tracker)
        # The entry as it is now (a config reload may have moved it): its members' index.
        members = [t for s in due.members if (t := self.tracker(s)) is not None]
        index = members[0].index if members else due.index
        trackers = [t for t in self.trackers if t.index == index]
        entry = trackers[0].entry if trackers else None
        if entry is None or entry.datasets is None:
            return [Record(done)]
        self._judged.add(index)
        return [RunEvals(entry, case_runs(trackers, due), done)]

    def _baseline(self, index: int) -> list[Action]:
        """Once every case of a dataset entry has a run that has ended, before any save: its
        evals, to show where the cases stand (so that the first save can say better or
        worse). Not in a dry run: an eval run is a run."""
        if self.settings.dry_run or index in self._judged or not self._announced:
            return []
        cases = [t for t in self.trackers if t.index == index]
        entry = cases[0].entry if cases else None
        if entry is None or entry.datasets is None:
            return []
        if not settled(cases):
            return []
        self._judged.add(index)
        return [RunEvals(entry, case_runs(cases), baseline=True)]

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

    def reconfigure(self, slots: Sequence[Slot], routes: Routes, now: float) -> list[Action]:
        """The config file changed: keep the trackers whose entry pins the same thing (with
        their pin, follower and pending edits, re-mapped through the new rules); start the
        others like at start-up (but without catching up): pinned, then followed or read."""
        old = {t.workflow.key: t for t in self.trackers}
        carried: dict[str, Digest] = {}
        moved: dict[int, int] = {}  # entry index before -> after, for the entries judged
        fresh: set[int] = set()  # entries with a new run to pin (a new case, a new input)
        self.routes, self.trackers = routes, []
        for slot in slots:
            workflow = slot.workflow
            before = old.pop(workflow.key, None)
            if before is None or before.workflow.fingerprint() != workflow.fingerprint():
                self.trackers.append(self._new(slot, catch_up=False))
                fresh.add(slot.index)
                continue
            carried.update((f, h) for files in before.pending.values() for f, h in files.items())
            moved[before.index] = slot.index
            before.workflow, before.index, before.pending = workflow, slot.index, {}
            before.entry = slot.entry if slot.fanned else None
            self.trackers.append(before)
        # An entry with a new case (or a case's new input) is judged again once it settles.
        self._judged = {moved[i] for i in self._judged if i in moved} - fresh
        actions: list[Action] = [StopFollowing(t.serial) for t in old.values() if t.following]
        for summary, due in self._rounds.forget({t.serial for t in old.values()}):
            actions += self._round_done(summary, due)
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

    def _api_failed(
        self,
        tracker: Tracker,
        now: float,
        error: ApiError,
        what: str,
        after: str = STAYS_PENDING,
    ) -> list[Action]:
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
        return [Say(Notice(f"{what}: {error}; {after}", level="error"))]

    def _api_ok(self) -> list[Action]:
        if not self._down:
            return []
        self._down = False
        return [Say(Notice("the API answers again", level="info"))]
