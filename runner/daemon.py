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
from runner.cases import Cases
from runner.config import Config, load_config
from runner.debounce import Burst, Debouncer
from runner.effects import Effects
from runner.engine import Engine
from runner.errors import ConfigError, RunnerError
from runner.iterations import Iterations
from runner.paths import Contents, Matcher, WatchRoot
from runner.recording import Recorder
from runner.reports import Changed, ConfigReloaded, Notice, Ready, Reporter
from runner.resetter import Resetter
from runner.runs import CLOSED_HISTORIES, Runs
from runner.state import StateStore
from runner.watch import Watcher

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
        self._matcher = Matcher(config)
        self._debouncer = Debouncer(config.debounce_ms / 1000, options.max_hold_s)
        self._contents = Contents(config.root)
        self._watcher: Watcher | None = None
        self._folder_events = False
        self._last_wall = 0.0
        settings = t.Settings(
            dry_run=options.dry_run,
            catch_up=options.catch_up,
            wait_worker=options.wait_worker and engine.watches_worker,
            worker_timeout_s=options.worker_timeout_s,
        )
        self._cases = Cases(config)
        self._case_warnings = self._cases.read()  # a case the config names must exist
        self._board = Board(self._cases.slots(), self._matcher, settings)
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
        self._say_all(self._case_warnings + self._contents.index(self._matcher.mapped_files()))
        release = None if self.options.dry_run else self.store.claim_watch()
        try:
            self._watcher = self._start_watcher()
            self._act(self._board.start())
            self._loop()
        finally:
            self._act(self._board.stop())
            self._shutdown()
            if release is not None:
                release()

    def _shutdown(self) -> None:
        if self._watcher is not None:
            self._watcher.stop()
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

    def _start_watcher(self) -> Watcher:
        watcher = Watcher(
            self._roots(),
            self._on_fs_event,
            skip_dir=self._matcher.skip_dir,
            on_overflow=lambda: self._queue.put(self._overflowed),
            poll=self.options.poll,
        )
        watcher.start()
        return watcher

    def _roots(self) -> list[WatchRoot]:
        """The mapped files' folders, and the dataset folders (their cases are pinned); a
        dataset folder that is gone is watched for through its nearest folder still there, so
        that its return is a folder event (then the watches are refreshed, the cases read)."""
        datasets = [
            WatchRoot(_nearest_folder(f, self.config.root), tree=False)
            for f in self._cases.folders.values()
        ]
        return self._matcher.watch_roots() + datasets

    def _overflowed(self, now: float) -> list[t.Action]:
        self._debouncer.overflow(now)
        return []

    def _on_fs_event(self, path: str, is_dir: bool) -> None:
        """Called on the watcher's thread: filter cheaply, then hand over to the loop."""
        rel = self._matcher.relative(path)
        if rel is None or (is_dir and self._matcher.skip_dir(path)):
            return  # e.g. node_modules or .output-reset appearing: nothing of ours in there
        if (
            is_dir
            or rel == self.config.path.name
            or self._matcher.rules_for(rel)
            or (rel in self._contents)
            or self._cases.in_datasets(Path(path))
        ):
            self._queue.put(_FsEvent(path, is_dir, self.clock(), time.time()))

    def _on_burst(self, burst: Burst, now: float) -> None:
        rels = {r for p in burst.paths if (r := self._matcher.relative(p)) is not None}
        reloaded = self.config.path.name in rels and self._reload(now)
        # Lost events, a storm (git checkout), folders moved, or new watches after a config
        # change (events in between may be lost): trust nothing, re-check every mapped file.
        distrust = burst.overflowed or burst.events > STORM_EVENTS or self._folder_events
        if reloaded or distrust:
            self._refresh_watches()
        # After the refresh: a dataset file written in a folder made before it was watched.
        if not reloaded and (
            distrust or any(self._cases.in_datasets(Path(p)) for p in burst.paths)
        ):
            self._reread_cases(now)
        if reloaded or distrust:
            candidates = set(self._matcher.mapped_files()) | self._contents.known()
        else:
            candidates = {r for r in rels if self._matcher.rules_for(r) or r in self._contents}
        self._folder_events = False
        changed, warnings = self._contents.rehash(candidates)
        self._say_all(warnings)
        if changed:
            self.report(Changed(files=tuple(sorted(changed))))
            self._act(self._board.edits(now, self._last_wall, changed))

    def _reread_cases(self, now: float) -> None:
        """A dataset file changed: the cases it holds are pinned again (a new case gets its
        first run, an edited input a new run, a removed case is let go)."""
        before = self._cases.slots()
        try:
            self._say_all(self._cases.read())
        except ConfigError as exc:
            self.report(Notice(f"{exc} (still using the previous cases)", level="error"))
            return
        after = self._cases.slots()
        if after != before:
            self.report(Notice(f"datasets changed: {self._cases.count()} cases now", level="info"))
            self._act(self._board.reconfigure(after, self._matcher, now))
            self._keep_histories()

    def _refresh_watches(self) -> None:
        if self._watcher is None:
            return
        try:
            self._watcher.refresh(self._roots())
        except RunnerError as exc:
            self.report(Notice(str(exc), level="error"))

    def _reload(self, now: float) -> bool:
        """Load the edited config; True when it changed and is now in use."""
        try:
            fresh = load_config(self.config.path, shown_as=self.config.path.name)
        except ConfigError as exc:
            self.report(Notice(f"{exc} (still using the previous config)", level="error"))
            return False
        if fresh == self.config:
            return False
        cases = Cases(fresh)
        try:
            warnings = cases.read()
        except ConfigError as exc:
            self.report(Notice(f"{exc} (still using the previous config)", level="error"))
            return False
        self.config, self._cases = fresh, cases
        self._matcher = Matcher(fresh)
        self._debouncer.quiet_s = fresh.debounce_ms / 1000
        if self._watcher is not None:
            self._watcher.stop()
        self._watcher = self._start_watcher()
        self._say_all(warnings + self._contents.index(self._matcher.mapped_files()))
        self.report(ConfigReloaded(fresh.path.name))
        self._act(self._board.reconfigure(cases.slots(), self._matcher, now))
        self._keep_histories()
        return True

    # -- carrying out the board's actions -------------------------------------------------------

    def _act(self, actions: list[t.Action]) -> None:
        self._effects.carry(actions)

    def _announce(self) -> None:
        watches = self._watcher.watches if self._watcher is not None else 0
        runs = len(self._board.trackers)
        self.report(Ready(len(self._contents), len(self.config.workflows), watches, runs))

    def _baseline(self, action: t.PinRun) -> dict[str, str | None]:
        """A new pin's baseline: the content now of the files mapped to its workflow."""
        return self._contents.hashes(
            lambda rel: (
                rel not in action.pending
                and any(r.workflow == action.index for r in self._matcher.rules_for(rel))
            )
        )

    def _keep_histories(self) -> None:
        """Each pin's closed history and the one before it stay read (20 cases: 40)."""
        self.runs.keep = max(CLOSED_HISTORIES, 2 * len(self._board.trackers))

    def _say_all(self, warnings: list[str]) -> None:
        for warning in warnings:
            self.report(Notice(warning))


def _nearest_folder(folder: Path, root: Path) -> Path:
    """`folder`, or its nearest parent that exists (at most `root`)."""
    while not folder.is_dir() and folder != root and folder.is_relative_to(root):
        folder = folder.parent
    return folder


def _recorder(config: Config) -> Recorder:
    return Recorder(Iterations(config.state_dir), config.root)


def _reraise(error: BaseException, now: float) -> list[t.Action]:
    raise error  # a bug in a job: the CLI prints its traceback (exit 3)
