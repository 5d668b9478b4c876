"""The watch loop: the thin driver around the board (board.py), which makes every decision.

One thread owns all state (`run()`): it turns file events into bursts and real content changes,
hands those and every job's result to the board, and carries out what the board asks on other
threads: pinning and resetting (jobs), following runs (followers), waiting for Output's worker
(a probe). The loop thread never touches the network and never sleeps on a fixed clock: it waits
on its queue until the next deadline, and `stop()` wakes it at once.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from runner import actions as t
from runner.auditlog import AuditLog
from runner.board import Board
from runner.config import Config
from runner.debounce import Burst, Debouncer
from runner.effects import Effects
from runner.engine import Engine
from runner.errors import ConfigError
from runner.iterations import Iterations
from runner.paths import Contents
from runner.recording import Recorder
from runner.reports import Changed, ConfigReloaded, Notice, Ready, Reporter
from runner.resetter import Resetter
from runner.runs import CLOSED_HISTORIES, Runs
from runner.state import StateStore
from runner.watched import Watched

log = logging.getLogger(__name__)

STORM_EVENTS = 500  # past this many events in one burst, re-check every mapped file
MAX_JOBS = 8  # pins and resets under way at once


@dataclass(frozen=True, slots=True, kw_only=True)
class Options:
    dry_run: bool = False
    follow: bool = True
    wait_worker: bool = True
    catch_up: bool = True
    poll: bool = False
    worker_timeout_s: float = t.WORKER_TIMEOUT_S
    max_hold_s: float = 5.0


@dataclass(frozen=True, slots=True)
class _FsEvent:
    path: str
    is_dir: bool
    at: float
    wall: float


# A file event; or something to apply on the loop thread with `now` (a job's result, an
# overflow of the kernel's event queue, a bug to re-raise); or None: wake up.
_Message = _FsEvent | Callable[[float], list[t.Action]] | None


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
        self.runs = Runs(engine, self.store)
        self.resetter = Resetter(engine, self.runs, AuditLog(config.state_dir))
        self._queue: queue.Queue[_Message] = queue.Queue()
        self._stop = threading.Event()
        self._debouncer = Debouncer(config.debounce_ms / 1000, options.max_hold_s)
        self._watched = Watched(config, Contents(config.root))  # the config's cases read
        self._folder_events = False
        self._last_wall = 0.0
        settings = t.Settings(
            dry_run=options.dry_run,
            catch_up=options.catch_up,
            wait_worker=options.wait_worker and engine.watches_worker,
            worker_timeout_s=options.worker_timeout_s,
        )
        self._board = Board(self._watched.slots(), self._watched.matcher, settings)
        self._keep_histories()
        self._effects = Effects(
            engine,
            self.runs,
            self.resetter,
            report=report,
            post=self._queue.put,
            crash=lambda error: self._queue.put(partial(_reraise, error)),
            baseline=self._baseline,
            announce=self._announce,
            root=config.root,
            dry_run=options.dry_run,
            follow=options.follow,
            max_jobs=MAX_JOBS,
            recorder=None if options.dry_run else _recorder(config),
        )
        self._effects.board = self._board

    def stop(self) -> None:
        """Ask the loop to end; safe from any thread (not from a signal handler: see signals)."""
        self._stop.set()
        self._queue.put(None)

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run(self) -> None:
        """Watch until `stop()`. Raises only for problems that make watching impossible."""
        self._say_all(self._watched.index())
        release = None if self.options.dry_run else self.store.claim_watch()
        try:
            self._start_watcher()
            self._act(self._board.start())
            self._loop()
        finally:
            self._act(self._board.stop())
            self._shutdown()
            if release is not None:
                release()

    def _shutdown(self) -> None:
        self._watched.stop()
        self._effects.stop()

    # -- the loop -----------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stop.is_set():
            due = (self._debouncer.deadline(), self._board.deadline())
            deadlines = [d for d in due if d is not None]
            timeout = max(0.0, min(deadlines) - self.clock()) if deadlines else None
            try:
                message = self._queue.get(timeout=timeout)
            except queue.Empty:
                message = None
            if self._stop.is_set():
                return
            now = self.clock()
            self._handle(message, now)
            burst = self._debouncer.take(now)
            if burst is not None:
                self._on_burst(burst, now)
            self._act(self._board.tick(now))

    def _handle(self, message: _Message, now: float) -> None:
        if isinstance(message, _FsEvent):
            self._folder_events |= message.is_dir
            self._last_wall = message.wall
            self._debouncer.add(message.path, message.at)
        elif message is not None:
            self._act(message(now))

    # -- files ------------------------------------------------------------------------------

    def _start_watcher(self) -> None:
        def overflowed() -> None:
            self._queue.put(self._overflowed)

        self._watched.start(self._on_fs_event, overflowed, poll=self.options.poll)

    def _overflowed(self, now: float) -> list[t.Action]:
        self._debouncer.overflow(now)
        return []

    def _on_fs_event(self, path: str, is_dir: bool) -> None:
        """Called on the watcher's thread: filter cheaply, then hand over to the loop."""
        if self._watched.wanted(path, is_dir):
            self._queue.put(_FsEvent(path, is_dir, self.clock(), time.time()))

    def _on_burst(self, burst: Burst, now: float) -> None:
        watched = self._watched
        rels = {r for p in burst.paths if (r := watched.matcher.relative(p)) is not None}
        reloaded = self.config.path.name in rels and self._reload(now)
        # Lost events, a storm (git checkout), folders moved, or new watches after a config
        # change (events in between may be lost): trust nothing, re-check every mapped file.
        distrust = burst.overflowed or burst.events > STORM_EVENTS or self._folder_events
        if reloaded or distrust:
            self._say_all([e for e in [self._watched.refresh()] if e], level="error")
        # After the refresh: a dataset file written in a folder made before it was watched.
        if not reloaded and (
            distrust or any(watched.cases.in_datasets(Path(p)) for p in burst.paths)
        ):
            self._reread_cases(now)
        candidates = self._watched.candidates(rels, everything=reloaded or distrust)
        self._folder_events = False
        changed, warnings = self._watched.contents.rehash(candidates)
        self._say_all(warnings)
        if changed:
            self.report(Changed(files=tuple(sorted(changed))))
            self._act(self._board.edits(now, self._last_wall, changed))

    def _reread_cases(self, now: float) -> None:
        """A dataset file changed: the cases it holds are pinned again (a new case gets its
        first run, an edited input a new run, a removed case is let go)."""
        try:
            warnings, changed = self._watched.reread_cases()
        except ConfigError as exc:
            self.report(Notice(f"{exc} (still using the previous cases)", level="error"))
            return
        self._say_all(warnings)
        if changed:
            count = self._watched.cases.count()
            self.report(Notice(f"datasets changed: {count} cases now", level="info"))
            self._act(self._board.reconfigure(self._watched.slots(), self._watched.matcher, now))
            self._keep_histories()

    def _reload(self, now: float) -> bool:
        """Load the edited config; True when it changed and is now in use."""
        try:
            fresh = self._watched.reload()
        except ConfigError as exc:
            self.report(Notice(f"{exc} (still using the previous config)", level="error"))
            return False
        if fresh is None:
            return False
        self._watched.stop()
        self.config, self._watched = fresh.config, fresh
        self._debouncer.quiet_s = fresh.config.debounce_ms / 1000
        self._start_watcher()
        self._say_all(fresh.index())
        self.report(ConfigReloaded(fresh.config.path.name))
        self._act(self._board.reconfigure(fresh.slots(), fresh.matcher, now))
        self._keep_histories()
        return True

    # -- carrying out the board's actions -------------------------------------------------------

    def _act(self, actions: list[t.Action]) -> None:
        self._effects.carry(actions)

    def _announce(self) -> None:
        watcher = self._watched.watcher
        watches = watcher.watches if watcher is not None else 0
        runs = len(self._board.trackers)
        self.report(Ready(len(self._watched.contents), len(self.config.workflows), watches, runs))

    def _baseline(self, action: t.PinRun) -> dict[str, str | None]:
        """A new pin's baseline: the content now of the files mapped to its workflow."""
        matcher = self._watched.matcher
        return self._watched.contents.hashes(
            lambda rel: (
                rel not in action.pending
                and any(r.workflow == action.index for r in matcher.rules_for(rel))
            )
        )

    def _keep_histories(self) -> None:
        """Each pin's closed history and the one before it stay read (20 cases: 40)."""
        self.runs.keep = max(CLOSED_HISTORIES, 2 * len(self._board.trackers))

    def _say_all(self, warnings: list[str], level: str = "warning") -> None:
        for warning in warnings:
            self.report(Notice(warning, level=level))


def _recorder(config: Config) -> Recorder:
    return Recorder(Iterations(config.state_dir), config.root)


def _reraise(error: BaseException, now: float) -> list[t.Action]:
    raise error  # a bug in a job: the CLI prints its traceback (exit 3)
