"""File events from the OS (inotify via watchdog, or polling): the one module importing watchdog.

The watcher only reports paths; deciding whether content changed is the daemon's job, because a
save is never one tidy "modified" event (WATCHING.md: 4, 8 or 24 events per save). Opens and
no-write closes are filtered out at the source, or watchdog drowns in them on big trees.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver, ObservedWatch
from watchdog.observers.polling import PollingObserver

from runner.errors import RunnerError
from runner.paths import WatchRoot

log = logging.getLogger(__name__)

Sink = Callable[[str, bool], None]  # (absolute path, is a folder)

_EVENTS: list[type[FileSystemEvent]] = [
    FileCreatedEvent,
    FileModifiedEvent,
    FileDeletedEvent,
    FileMovedEvent,
    FileClosedEvent,
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
]
# Splitting a folder into one watch per child costs one inotify instance each (the default
# limit is 128 per user); past this many children, watch the folder whole instead.
_MAX_SPLIT = 48


class WatchError(RunnerError):
    """The OS refused to watch (limits, permissions)."""


class Watcher:
    def __init__(
        self,
        roots: Sequence[WatchRoot],
        sink: Sink,
        *,
        skip_dir: Callable[[str], bool],
        on_overflow: Callable[[], None],
        poll: bool = False,
        poll_interval_s: float = 0.5,
    ) -> None:
        self._roots = list(roots)
        self._sink = sink
        self._skip_dir = skip_dir
        self._on_overflow = on_overflow
        self._observer: BaseObserver = (
            PollingObserver(timeout=poll_interval_s) if poll else Observer()
        )
        self._handler = _Handler(self)
        self._split_parents: set[str] = set()
        self._watched_roots: set[WatchRoot] = set()
        self._scheduled: list[_Watch] = []
        self._aliases: dict[str, str] = {}  # real folder -> the symlinked path it was asked as
        self._overflow_hook = _OverflowHook(on_overflow)
        self._lock = threading.Lock()

    @property
    def watches(self) -> int:
        return len(self._observer.emitters)

    def start(self) -> None:
        logging.getLogger("watchdog.observers.inotify_c").addHandler(self._overflow_hook)
        logging.getLogger("watchdog.observers.inotify").addHandler(self._overflow_hook)
        try:
            for root in self._roots:
                self._schedule_root(root)
            self._observer.start()
        except OSError as exc:
            self.stop()
            raise _translate(exc) from None

    def stop(self) -> None:
        logging.getLogger("watchdog.observers.inotify_c").removeHandler(self._overflow_hook)
        logging.getLogger("watchdog.observers.inotify").removeHandler(self._overflow_hook)
        if self._observer.is_alive():
            self._observer.stop()
            self._observer.join(timeout=5)
        else:
            self._observer.unschedule_all()

    def _schedule_root(self, root: WatchRoot) -> None:
        self._watched_roots.add(root)
        if not root.tree:
            self._schedule(root.path, recursive=False)
            return
        children = _subfolders(root.path)
        skipped = [c for c in children if self._skip_dir(c)]
        if not skipped or len(children) > _MAX_SPLIT:
            self._schedule(root.path, recursive=True)
            return
        self._split_parents.add(str(root.path))
        self._schedule(root.path, recursive=False)
        for child in children:
            if child not in skipped:
                self._schedule(Path(child), recursive=True)

    def _schedule(self, path: Path, *, recursive: bool) -> None:
        """Add a watch unless a live one already covers it."""
        covered = any(
            path == w.path or (w.recursive and path.is_relative_to(w.path))
            for w in self._scheduled
            if w.recursive or not recursive
        )
        if covered:
            return
        # A symlinked folder: watch where it points (watchdog does not follow a symlink it
        # is given), and report paths as the user sees them, under the link.
        real = path.resolve()
        if real != path:
            self._aliases[str(real)] = str(path)
        watch = self._observer.schedule(
            self._handler, str(real), recursive=recursive, event_filter=_EVENTS
        )
        self._scheduled.append(_Watch(path, recursive, watch, _inode(path)))

    def _drop_stale(self) -> None:
        """Forget watches of folders that were deleted (or replaced): the kernel dropped them,
        but watchdog would hand the dead watch back if the same path were scheduled again."""
        live: list[_Watch] = []
        for w in self._scheduled:
            if _inode(w.path) == w.inode:
                live.append(w)
                continue
            with contextlib.suppress(KeyError):
                self._observer.unschedule(w.watch)
        self._scheduled = live
        self._watched_roots = {r for r in self._watched_roots if r.path.is_dir()}

    def refresh(self, roots: Sequence[WatchRoot]) -> None:
        """Watch roots that appeared since (a watched folder was deleted, then re-created,
        or the nearest existing parent of a pattern moved up)."""
        with self._lock:
            self._drop_stale()
            for root in roots:
                if root in self._watched_roots or not root.path.is_dir():
                    continue
                try:
                    self._schedule_root(root)
                except OSError as exc:
                    raise _translate(exc) from None

    def _folder_created(self, path: str) -> None:
        """A new child of a split folder needs its own watch."""
        if os.path.dirname(path) not in self._split_parents or self._skip_dir(path):
            return
        with self._lock:
            try:
                self._schedule(Path(path), recursive=True)
            except OSError as exc:
                log.warning("cannot watch new folder %s: %s", path, exc.strerror)

    def _logical(self, path: str) -> str:
        for real, alias in self._aliases.items():
            if path == real or path.startswith(real + os.sep):
                return alias + path[len(real) :]
        return path

    def _emit(self, event: FileSystemEvent) -> None:
        src = self._logical(os.fsdecode(event.src_path))
        is_dir = event.is_directory
        if isinstance(event, DirCreatedEvent):
            self._folder_created(src)
        self._sink(src, is_dir)
        dest = self._logical(os.fsdecode(getattr(event, "dest_path", "") or ""))
        if dest:
            if isinstance(event, DirMovedEvent):
                self._folder_created(dest)
            self._sink(dest, is_dir)


@dataclass(frozen=True, slots=True)
class _Watch:
    path: Path
    recursive: bool
    watch: ObservedWatch
    inode: int | None


def _inode(path: Path) -> int | None:
    try:
        return path.stat().st_ino
    except OSError:
        return None


class _Handler(FileSystemEventHandler):
    def __init__(self, watcher: Watcher) -> None:
        self._watcher = watcher

    def dispatch(self, event: FileSystemEvent) -> None:
        self._watcher._emit(event)


class _OverflowHook(logging.Handler):
    """watchdog reports a kernel queue overflow only as a log record; turn it into a call."""

    def __init__(self, callback: Callable[[], None]) -> None:
        super().__init__(level=logging.WARNING)
        self._callback = callback

    def emit(self, record: logging.LogRecord) -> None:
        if "overflow" in record.getMessage().lower():
            self._callback()


def _subfolders(path: Path) -> list[str]:
    try:
        with os.scandir(path) as entries:
            return sorted(e.path for e in entries if e.is_dir(follow_symlinks=False))
    except OSError:
        return []


def _translate(exc: OSError) -> WatchError:
    if exc.errno == errno.ENOSPC:
        limit = _read_sysctl("max_user_watches")
        return WatchError(
            f"the inotify watch limit is reached (fs.inotify.max_user_watches = {limit}); raise "
            "it with `sudo sysctl fs.inotify.max_user_watches=524288`, or run with --poll"
        )
    if exc.errno == errno.EMFILE:
        limit = _read_sysctl("max_user_instances")
        return WatchError(
            f"too many inotify instances (fs.inotify.max_user_instances = {limit}); raise it "
            "with `sudo sysctl fs.inotify.max_user_instances=512`, or run with --poll"
        )
    where = f" {exc.filename}" if exc.filename else ""
    return WatchError(f"cannot watch{where}: {exc.strerror or exc}")


def _read_sysctl(name: str) -> str:
    try:
        return Path(f"/proc/sys/fs/inotify/{name}").read_text().strip()
    except OSError:
        return "unknown"
