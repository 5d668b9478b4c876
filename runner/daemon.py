"""The watch loop: file events -> bursts -> real content changes -> worker wait -> one reset.

One thread owns all decisions (`run()`); the watcher, the worker-wait probes and the run
followers are threads that only post messages to its queue or report progress. The loop never
sleeps on a fixed clock: it waits on the queue until the next deadline (debounce, retry, worker
timeout), and `stop()` wakes it at once.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from runner.compare import compare_runs
from runner.config import Config, WorkflowConfig, load_config
from runner.debounce import Burst, Debouncer
from runner.engine import Engine
from runner.errors import ApiError, ConfigError, ResetOutcomeUnknown, RunnerError
from runner.history import Activity, RunHistory
from runner.paths import Digest, Matcher, digest, reloads_worker
from runner.pins import Pin
from runner.plan import Change
from runner.reports import (
    Changed,
    ConfigReloaded,
    Decided,
    Notice,
    Outcome,
    Pinned,
    Ready,
    Reporter,
    RunCompared,
    RunFinished,
    SessionSummary,
    StepDone,
    WaitingForWorker,
)
from runner.reset import OtherRunRunning, Resetter, SideEffectsDeclined
from runner.state import StateStore
from runner.usage import Totals
from runner.watch import Watcher

log = logging.getLogger(__name__)

STORM_EVENTS = 500  # past this many events in one burst, re-check every mapped file
WORKER_TIMEOUT_S = 60.0
WORKER_POLL_S = 0.5
MD_PROBE_DELAY_S = 1.0
MAX_RETRY_S = 30.0
SIGNAL_CHECK_S = 1.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Options:
    dry_run: bool = False
    follow: bool = True
    wait_worker: bool = True
    catch_up: bool = True
    poll: bool = False
    worker_timeout_s: float = WORKER_TIMEOUT_S
    max_hold_s: float = 5.0


# -- messages to the loop -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _FsEvent:
    path: str
    is_dir: bool
    at: float


@dataclass(frozen=True, slots=True)
class _Overflow:
    at: float


@dataclass(frozen=True, slots=True)
class _WorkerReady:
    key: str
    ticket: int
    timed_out: bool


@dataclass(frozen=True, slots=True)
class _Wake:
    pass


_Message = _FsEvent | _Overflow | _WorkerReady | _Wake


@dataclass
class _Tracked:
    """Per pinned workflow: what changed and is not dealt with yet, and what we wait for."""

    config: WorkflowConfig
    index: int
    pending: dict[int, set[str]] = field(default_factory=dict)  # rule index -> files
    pin: Pin | None = None
    running: bool = False  # the pinned run, when it was pinned
    caught_up: tuple[str, ...] = ()
    waiting_ticket: int | None = None
    baseline: str | None = None
    retry_at: float | None = None
    failures: int = 0
    follower: _Follower | None = None


class Daemon:
    def __init__(
        self,
        config: Config,
        engine: Engine,
        report: Reporter,
        *,
        options: Options = Options(),
        store: StateStore | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.engine = engine
        self.report = report
        self.options = options
        self.store = store or StateStore(config.state_dir)
        self.clock = clock
        self._queue: queue.Queue[_Message] = queue.Queue()
        self._stop = threading.Event()
        self._matcher = Matcher(config)
        self._debouncer = Debouncer(config.debounce_ms / 1000, options.max_hold_s)
        self._resetter = Resetter(config, engine, self.store)
        self._tracked = [_Tracked(config=w, index=i) for i, w in enumerate(config.workflows)]
        self._seen: dict[str, Digest] = {}
        self._watcher: Watcher | None = None
        self._tickets = 0
        self._burst_baseline: str | None = None
        self._burst_has_baseline = False
        self._warned_down = False
        self._folder_events = False
        self._session = Totals()

    # -- lifecycle ----------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the loop to end; safe from a signal handler and from any thread.

        From the main thread (a signal handler) only the flag is set: the loop may hold the
        queue's lock right then, and it checks the flag at least once a second anyway. From
        another thread the loop is also woken at once."""
        self._stop.set()
        if threading.current_thread() is not threading.main_thread():
            self._queue.put_nowait(_Wake())

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run(self) -> None:
        """Watch until `stop()`. Raises only for problems that make watching impossible."""
        self._seen = self._hash_all()
        if not self.options.dry_run:
            self.store.prepare()  # before the watcher: its creation is no news
        self._watcher = self._start_watcher()
        try:
            for tracked in self._tracked:
                self._pin(tracked, catch_up=self.options.catch_up, start=False)
            self.report(
                Ready(
                    files=len(self._seen),
                    workflows=len(self._tracked),
                    watches=self._watcher.watches,
                )
            )
            for tracked in self._tracked:
                self._start(tracked)
            self._loop()
        finally:
            self._shutdown()

    def _shutdown(self) -> None:
        if self._session.resets:
            self.report(SessionSummary(replace(self._session)))
        if self._watcher is not None:
            self._watcher.stop()
        for tracked in self._tracked:
            if tracked.follower is not None:
                tracked.follower.cancel()
        for tracked in self._tracked:
            if tracked.follower is not None:
                tracked.follower.join(0.5)

    def _start_watcher(self) -> Watcher:
        watcher = Watcher(
            self._matcher.watch_roots(),
            self._on_fs_event,
            skip_dir=self._matcher.skip_dir,
            on_overflow=lambda: self._queue.put(_Overflow(self.clock())),
            poll=self.options.poll,
        )
        watcher.start()
        return watcher

    def _on_fs_event(self, path: str, is_dir: bool) -> None:
        """Called on the watcher's thread: filter cheaply, then hand over to the loop."""
        rel = self._matcher.relative(path)
        if rel is None or (is_dir and self._matcher.skip_dir(path)):
            return  # e.g. node_modules or .output-reset appearing: nothing of ours in there
        if is_dir or rel == self._config_rel() or self._matcher.rules_for(rel) or rel in self._seen:
            self._queue.put(_FsEvent(path, is_dir, self.clock()))

    def _config_rel(self) -> str:
        return self.config.path.name

    # -- the loop -----------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stop.is_set():
            timeout = self._next_deadline()
            try:
                message = self._queue.get(timeout=timeout)
            except queue.Empty:
                message = None
            if self._stop.is_set():
                return
            if message is not None:
                self._handle(message)
            burst = self._debouncer.take(self.clock())
            if burst is not None:
                self._on_burst(burst)
            self._retry_due()

    def _next_deadline(self) -> float:
        now = self.clock()
        deadlines = [d for d in (self._debouncer.deadline(),) if d is not None]
        deadlines += [t.retry_at for t in self._tracked if t.retry_at is not None]
        # Wake at least once a second: a signal delivered to another thread is only handled
        # when the main thread runs Python code again (a blocked queue.get never would).
        return max(0.0, min([*deadlines, now + SIGNAL_CHECK_S]) - now)

    def _handle(self, message: _Message) -> None:
        if isinstance(message, _FsEvent):
            self._folder_events |= message.is_dir
            opened = self._debouncer.add(message.path, message.at)
            if opened:
                self._burst_has_baseline = False
            self._note_baseline(message.path)
        elif isinstance(message, _Overflow):
            self._debouncer.overflow(message.at)
        elif isinstance(message, _WorkerReady):
            self._worker_ready(message)

    def _waits_for_worker(self) -> bool:
        return self.options.wait_worker and self.engine.watches_worker and not self.options.dry_run

    def _note_baseline(self, path: str) -> None:
        """Take the catalog run id at the first event that can restart the worker."""
        if not self._waits_for_worker() or self._burst_has_baseline:
            return
        rel = self._matcher.relative(path)
        if rel is None or not reloads_worker(rel):
            return
        self._burst_has_baseline = True
        try:
            self._burst_baseline = self.engine.worker_marker()
        except ApiError as exc:
            log.info("cannot read the catalog run id: %s", exc)
            self._burst_baseline = None

    # -- bursts -------------------------------------------------------------------------------

    def _on_burst(self, burst: Burst) -> None:
        rels = {r for p in burst.paths if (r := self._matcher.relative(p)) is not None}
        reloaded = self._config_rel() in rels and self._reload_config()
        # Lost events, a storm (git checkout), folders moved, or new watches after a config
        # change (events in between may be lost): trust nothing, re-check every mapped file.
        structural = (
            reloaded or burst.overflowed or burst.events > STORM_EVENTS or self._folder_events
        )
        self._folder_events = False
        if structural:
            self._refresh_watches()
            candidates = set(self._matcher.mapped_files()) | set(self._seen)
        else:
            candidates = {r for r in rels if self._matcher.rules_for(r) or r in self._seen}
        changed = self._rehash(candidates)
        if changed:
            self.report(Changed(files=tuple(sorted(changed))))
        elif not reloaded:
            log.debug("burst of %d events: no content changed", burst.events)
            return
        baseline = self._burst_baseline if self._burst_has_baseline else None
        self._add_pending(changed, baseline=baseline)

    def _refresh_watches(self) -> None:
        if self._watcher is None:
            return
        try:
            self._watcher.refresh(self._matcher.watch_roots())
        except RunnerError as exc:
            self.report(Notice(str(exc), level="error"))

    def _rehash(self, candidates: set[str]) -> set[str]:
        """The files whose content differs from the last seen; a deletion is a change."""
        changed: set[str] = set()
        for rel in sorted(candidates):
            try:
                now = digest(self.config.root / rel)
            except PermissionError:
                self.report(
                    Notice(f"cannot read {rel} (permission denied); keeping its last known content")
                )
                continue
            before = self._seen.get(rel)
            if now == before:
                continue
            changed.add(rel)
            if now is None:
                del self._seen[rel]
            else:
                self._seen[rel] = now
        return changed

    def _hash_all(self) -> dict[str, Digest]:
        hashes: dict[str, Digest] = {}
        for rel in self._matcher.mapped_files():
            try:
                hashes[rel] = digest(self.config.root / rel)
            except PermissionError:
                self.report(Notice(f"cannot read {rel} (permission denied)"))
        return {k: v for k, v in hashes.items() if v is not None}

    def _add_pending(self, changed: set[str], *, baseline: str | None) -> None:
        for rel in changed:
            for ref in self._matcher.rules_for(rel):
                self._tracked[ref.workflow].pending.setdefault(ref.rule, set()).add(rel)
        for tracked in self._tracked:
            if not tracked.pending:
                continue
            reload_now = any(reloads_worker(f) for files in tracked.pending.values() for f in files)
            if tracked.waiting_ticket is not None:
                # Joins the pending reset; a new edit restarts the worker again, so wait for
                # the catalog to move on from where it is now.
                if reload_now and baseline is not None:
                    tracked.baseline = baseline
                    self._start_wait(tracked)
                continue
            if self._waits_for_worker() and reload_now:
                tracked.baseline = baseline
                self._start_wait(tracked)
            else:
                self._process(tracked)

    # -- waiting for Output's worker (CONTRACT §7.4, Addendum) ---------------------------------

    def _start_wait(self, tracked: _Tracked) -> None:
        files = tuple(sorted({f for fs in tracked.pending.values() for f in fs}))
        md_only = all(f.endswith(".md") for f in files if reloads_worker(f))
        self._tickets += 1
        ticket = self._tickets
        first_wait = tracked.waiting_ticket is None
        tracked.waiting_ticket = ticket
        if first_wait:
            self.report(
                WaitingForWorker(
                    label=tracked.config.label,
                    files=files,
                    md_only=md_only,
                    timeout_s=self.options.worker_timeout_s,
                )
            )
        probe = _WorkerProbe(
            engine=self.engine,
            baseline=tracked.baseline,
            md_only=md_only,
            timeout_s=self.options.worker_timeout_s,
            stop=self._stop,
            done=lambda timed_out: self._queue.put(
                _WorkerReady(tracked.config.key, ticket, timed_out)
            ),
        )
        probe.start()

    def _worker_ready(self, message: _WorkerReady) -> None:
        for tracked in self._tracked:
            if tracked.config.key == message.key and tracked.waiting_ticket == message.ticket:
                tracked.waiting_ticket = None
                if message.timed_out:
                    self.report(
                        Notice(
                            f"{tracked.config.label}: Output's worker did not report new code "
                            f"within {self.options.worker_timeout_s:g} s; resetting anyway"
                        )
                    )
                self._process(tracked)

    # -- deciding and resetting ----------------------------------------------------------------

    def _retry_due(self) -> None:
        now = self.clock()
        for tracked in self._tracked:
            if tracked.retry_at is not None and now >= tracked.retry_at:
                tracked.retry_at = None
                if tracked.pin is None:
                    self._pin(tracked, catch_up=self.options.catch_up)
                elif tracked.pending and tracked.waiting_ticket is None:
                    self._process(tracked)

    def _pin(self, tracked: _Tracked, *, catch_up: bool, start: bool = True) -> None:
        """Find the run to pin; then, unless `start` is off, catch up and go."""
        workflow = tracked.config
        hashes = self._hashes_for(tracked.index)
        try:
            resolved = self._resetter.resolve(workflow, hashes, persist=not self.options.dry_run)
            status = self.engine.status(resolved.pin.workflow_id, resolved.pin.run_id)
        except ApiError as exc:
            self._api_failed(tracked, exc, f"{workflow.label}: cannot pin a run yet")
            return
        except RunnerError as exc:
            self.report(Notice(f"{workflow.label}: {exc}", level="error"))
            return
        self._api_ok()
        pin = tracked.pin = resolved.pin
        tracked.running = status.running
        self.report(
            Pinned(workflow.label, pin.workflow_id, pin.run_id, resolved.source, status.status)
        )
        if catch_up and resolved.source == "state":
            # Edits made while output-reset was not running: the files differ from the hashes
            # recorded when the pin last moved.
            stale = {f for f, h in hashes.items() if pin.hashes.get(f, h) != h}
            stale |= {
                f
                for f, h in pin.hashes.items()
                if h is not None and f not in hashes and self._maps(tracked.index, f)
            }
            tracked.caught_up = tuple(sorted(stale))
            for rel in stale:
                for ref in self._matcher.rules_for(rel):
                    if ref.workflow == tracked.index:
                        tracked.pending.setdefault(ref.rule, set()).add(rel)
        if start:
            self._start(tracked)

    def _start(self, tracked: _Tracked) -> None:
        """After pinning: deal with pending edits, or follow / remember the pinned run."""
        pin = tracked.pin
        if pin is None:
            return
        if tracked.caught_up:
            self.report(Changed(files=tracked.caught_up, catch_up=True))
            tracked.caught_up = ()
        if tracked.pending:  # caught up, or edits made while the API could not be reached
            self._process(tracked)
        elif tracked.running:
            self._follow(tracked, pin.workflow_id, pin.run_id)
        else:
            try:
                # Read the finished run once now, so the first edit need not wait for it.
                self._resetter.history(pin.workflow_id, pin.run_id)
            except ApiError as exc:
                log.info("could not read run %s yet: %s", pin.run_id, exc)
            if not self.options.dry_run:
                # Traces carry LLM usage, and a reset overwrites them (CONTRACT §5.5): read now.
                self._resetter.remember_usage(pin.workflow_id, pin.run_id)

    def _maps(self, index: int, rel: str) -> bool:
        return any(ref.workflow == index for ref in self._matcher.rules_for(rel))

    def _hashes_for(self, index: int) -> dict[str, str | None]:
        return {rel: h for rel, h in self._seen.items() if self._maps(index, rel)}

    def _process(self, tracked: _Tracked) -> None:
        if not tracked.pending:
            return
        pin = tracked.pin
        if pin is None:
            tracked.retry_at = tracked.retry_at or self.clock()
            return
        workflow = tracked.config
        changes = [
            Change(rule=workflow.rules[i], files=tuple(sorted(files)))
            for i, files in sorted(tracked.pending.items())
        ]
        hashes = {f: self._seen.get(f) for c in changes for f in c.files}
        try:
            if self.options.dry_run:
                decision = self._resetter.decide(pin, changes)
                self.report(Decided(workflow.label, decision, None))
                tracked.pending.clear()
                return
            outcome = self._apply(tracked, pin, changes, hashes)
        except OtherRunRunning as exc:
            self.report(Notice(str(exc)))
            return  # stays pending until the next change
        except SideEffectsDeclined as exc:
            self.report(Notice(f"{workflow.label}: {exc}"))
            tracked.pending.clear()
            return
        except ResetOutcomeUnknown as exc:
            self.report(Notice(f"{workflow.label}: {exc}", level="error"))
            return
        except ApiError as exc:
            self._api_failed(tracked, exc, f"{workflow.label}: reset not done")
            return
        except RunnerError as exc:
            self.report(Notice(f"{workflow.label}: {exc}; the change stays pending", level="error"))
            return
        self._api_ok()
        tracked.pin = outcome.pin
        tracked.pending.clear()
        tracked.failures = 0
        self.report(Decided(workflow.label, outcome.decision, outcome))
        for note in outcome.notes:
            self.report(Notice(f"{workflow.label}: {note}"))
        if outcome.new_run_id is None:
            return
        self._session.add(outcome.savings)
        self._follow(
            tracked,
            outcome.decision.workflow_id,
            outcome.new_run_id,
            previous=outcome.decision.run_id,
            rerun=outcome.decision.rerun,
        )

    def _apply(
        self, tracked: _Tracked, pin: Pin, changes: list[Change], hashes: dict[str, str | None]
    ) -> Outcome:
        def before_send() -> None:
            # Stop showing the run we are about to replace, so its termination is not news.
            if tracked.follower is not None:
                tracked.follower.cancel()
                tracked.follower = None

        return self._resetter.apply(
            tracked.config, changes, pin=pin, hashes=hashes, before_send=before_send
        )

    def _api_failed(self, tracked: _Tracked, exc: ApiError, what: str) -> None:
        if exc.retryable:
            tracked.failures += 1
            tracked.retry_at = self.clock() + min(MAX_RETRY_S, 2.0**tracked.failures)
            if not self._warned_down:
                self._warned_down = True
                self.report(Notice(f"{what}: {exc}; will keep retrying"))
            return
        if tracked.pin is None:
            # Maybe no run exists yet, or a token is missing: look again now and then.
            tracked.retry_at = self.clock() + MAX_RETRY_S
            self.report(Notice(f"{what}: {exc}", level="error"))
            return
        self.report(Notice(f"{what}: {exc}; the change stays pending", level="error"))

    def _api_ok(self) -> None:
        if self._warned_down:
            self._warned_down = False
            self.report(Notice("the API answers again", level="info"))

    # -- following a run -----------------------------------------------------------------------

    def _follow(
        self,
        tracked: _Tracked,
        workflow_id: str,
        run_id: str,
        *,
        previous: str | None = None,
        rerun: tuple[str, ...] = (),
    ) -> None:
        """Follow the run; without --no-follow quietly, only to keep its history when done."""
        if tracked.follower is not None:
            tracked.follower.cancel()
        resetter = self._resetter

        def closed(history: RunHistory) -> None:
            resetter.remember(history)
            resetter.remember_usage(history.workflow_id, history.run_id)

        follower = _Follower(
            self.engine,
            workflow_id,
            run_id,
            self.report if self.options.follow else None,
            previous=previous,
            rerun=rerun,
            on_closed=closed,
        )
        tracked.follower = follower
        follower.start()

    # -- config reload --------------------------------------------------------------------------

    def _reload_config(self) -> bool:
        """Load the edited config; True when it changed and is now in use."""
        try:
            fresh = load_config(self.config.path, shown_as=self.config.path.name)
        except ConfigError as exc:
            self.report(Notice(f"{exc} (still using the previous config)", level="error"))
            return False
        if fresh == self.config:
            return False
        old = {t.config.key: t for t in self._tracked}
        carried: set[str] = set()  # pending files, re-mapped through the new rules below
        self.config = fresh
        self._matcher = Matcher(fresh)
        self._debouncer.quiet_s = fresh.debounce_ms / 1000
        self._resetter = Resetter(fresh, self.engine, self.store)
        self._tracked = []
        for i, workflow in enumerate(fresh.workflows):
            tracked = _Tracked(config=workflow, index=i)
            before = old.pop(workflow.key, None)
            if before is not None and before.config.fingerprint() == workflow.fingerprint():
                tracked.pin = before.pin
                tracked.follower = before.follower
                carried.update(f for files in before.pending.values() for f in files)
            self._tracked.append(tracked)
        for gone in old.values():
            if gone.follower is not None:
                gone.follower.cancel()
        if self._watcher is not None:
            self._watcher.stop()
        self._watcher = self._start_watcher()
        self._seen = {k: self._seen.get(k, v) for k, v in self._hash_all().items()}
        self.report(ConfigReloaded(str(self.config.path.name)))
        for rel in carried:
            for ref in self._matcher.rules_for(rel):
                self._tracked[ref.workflow].pending.setdefault(ref.rule, set()).add(rel)
        for tracked in self._tracked:
            if tracked.pin is None:
                self._pin(tracked, catch_up=False, start=False)
        return True


class _WorkerProbe(threading.Thread):
    """Waits until Output's worker runs new code, then tells the loop (never blocks it)."""

    def __init__(
        self,
        *,
        engine: Engine,
        baseline: str | None,
        md_only: bool,
        timeout_s: float,
        stop: threading.Event,
        done: Callable[[bool], None],
    ) -> None:
        super().__init__(name="output-reset-worker-probe", daemon=True)
        self._engine = engine
        self._baseline = baseline
        self._md_only = md_only
        self._timeout_s = timeout_s
        self._stop_event = stop
        self._done = done

    def run(self) -> None:
        deadline = time.monotonic() + self._timeout_s
        if self._md_only or self._baseline is None:
            # .md edits restart the worker without a new catalog run; a catalog query blocks
            # while it restarts, so one that answers after the restart began means "ready".
            if self._stop_event.wait(MD_PROBE_DELAY_S):
                return
            try:
                self._engine.wait_worker_answers()
                self._done(False)
            except ApiError:
                self._done(time.monotonic() >= deadline)
            return
        while not self._stop_event.is_set():
            try:
                if self._engine.worker_marker() != self._baseline:
                    self._done(False)
                    return
            except ApiError as exc:
                log.debug("catalog poll failed: %s", exc)
            if time.monotonic() >= deadline:
                self._done(True)
                return
            self._stop_event.wait(WORKER_POLL_S)


class _Follower(threading.Thread):
    """Reports a run's steps as they complete, its end, and how its outputs changed."""

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
    ) -> None:
        super().__init__(name=f"output-reset-follow-{run_id[:8]}", daemon=True)
        self._engine = engine
        self._history = RunHistory(workflow_id=workflow_id, run_id=run_id)
        self._quiet = report is None
        self._report: Reporter = report or (lambda _: None)
        self._previous = previous
        self._rerun = rerun
        self._on_closed = on_closed
        self._cancel = threading.Event()
        self._began = time.monotonic()

    def cancel(self) -> None:
        self._cancel.set()

    def run(self) -> None:
        history = self._history

        def on_steps(done: list[Activity]) -> None:
            if self._cancel.is_set():
                return
            # A reset run starts with the copied history: those steps were replayed, not run.
            replayed_until = history.reset_markers[-1].event_id if history.reset_markers else 0
            for activity in done:
                if not activity.internal and (activity.closed_id or 0) > replayed_until:
                    self._report(StepDone(history.workflow_id, history.run_id, activity))

        try:
            self._follow_until_closed(on_steps)
            if not history.closed or self._cancel.is_set():
                return
            self._report(
                RunFinished(
                    history.workflow_id,
                    history.run_id,
                    history.status,
                    time.monotonic() - self._began,
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
                            history.run_id,
                            self._previous,
                            diffs,
                            history.result,
                        )
                    )
            if self._on_closed is not None:
                self._on_closed(history)
        except RunnerError as exc:
            if not self._cancel.is_set():
                self._report(Notice(f"stopped following run {history.run_id}: {exc}"))

    def _follow_until_closed(self, on_steps: Callable[[list[Activity]], None]) -> None:
        """Follow, and follow again after transport failures (said once, then quietly)."""
        failures = 0
        while not self._cancel.is_set():
            try:
                self._engine.follow(
                    self._history, on_steps=on_steps, stop=self._cancel, payloads=True
                )
                return
            except ApiError as exc:
                if not exc.retryable:
                    raise
                failures += 1
                if failures == 1:
                    self._report(
                        Notice(
                            f"lost the run {self._history.run_id} for a moment ({exc}); retrying"
                        )
                    )
                self._cancel.wait(min(10.0, 0.25 * 2**failures))
