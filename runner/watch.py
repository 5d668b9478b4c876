"""File events from the OS (inotify via watchdog, or polling): the one module importing watchdog.

The watcher only reports paths; deciding whether content changed is the daemon's job, because a
save is never one tidy "modified" event (measured: 4, 8 or 24 events per save, by editor). Opens and
no-write closes are filtered out at the source, or watchdog drowns in them on big trees.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
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
from watchdog.observers.api import BaseObserver, EventEmitter, ObservedWatch
from watchdog.observers.polling import PollingObserver

from runner.errors import WatchError
from runner.pathnames import shown
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
_LINK_EVENTS = (FileCreatedEvent, FileMovedEvent, FileDeletedEvent)
# Splitting a folder into one watch per child costs one inotify instance each (the default
# limit is 128 per user); past this many children, watch the folder whole instead.
_MAX_SPLIT = 48


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
        self._scheduled: list[_Watch] = []
        # Read on watchdog's thread, replaced (never changed in place) on the caller's.
        self._aliases: dict[str, str] = {}  # real folder -> the symlinked path it was asked as
        self._overflow_hook = _OverflowHook(on_overflow)

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
        if not root.tree:
            self._schedule(root.path, recursive=False)
            return
        children = _subfolders(root.path)
        skipped = [c for c in children if self._skip_dir(c)]
        if not skipped or len(children) > _MAX_SPLIT:
            self._schedule(root.path, recursive=True)
            return
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
        watch = self._observer.schedule(
            self._handler, str(real), recursive=recursive, event_filter=_EVENTS
        )
        emitter = next(e for e in self._observer.emitters if e.watch == watch)
        self._scheduled.append(_Watch(path, real, recursive, watch, emitter, _inode(path)))
        if real != path:
            self._aliases = {**self._aliases, str(real): str(path)}

    def _drop_dead(self) -> None:
        """Unschedule the watches of folders that were deleted or replaced. watchdog stops
        the emitter of a deleted folder but keeps it scheduled, and hands that dead watch
        back when the same path is scheduled again (even if the folder is back, even with
        the same inode number)."""
        live: list[_Watch] = []
        for w in self._scheduled:
            if not w.emitter.stopped_event.is_set() and _inode(w.path) == w.inode:
                live.append(w)
                continue
            with contextlib.suppress(KeyError):
                self._observer.unschedule(w.watch)
        self._scheduled = live
        self._aliases = {str(w.real): str(w.path) for w in live if w.real != w.path}

    def refresh(self, roots: Sequence[WatchRoot]) -> None:
        """After folders came or went: drop the watches that died with their folder, then
        watch every root again where no live watch covers it (the split parts of a root
        included), so that every mapped file is under a live watch. A change made before
        this returns is for the caller to find, by re-hashing."""
        self._drop_dead()
        for root in roots:
            if not root.path.is_dir():
                continue
            try:
                self._schedule_root(root)
            except OSError as exc:
                raise _translate(exc) from None

    def _logical(self, path: str) -> str:
        for real, alias in self._aliases.items():
            if path == real or path.startswith(real + os.sep):
                return alias + path[len(real) :]
        return path

    def _emit(self, event: FileSystemEvent) -> None:
        src = self._logical(os.fsdecode(event.src_path))
        dest = self._logical(os.fsdecode(getattr(event, "dest_path", "") or ""))
        is_dir = event.is_directory or (
            isinstance(event, _LINK_EVENTS) and self._folder_link(dest or src)
        )
        self._sink(src, is_dir)
        if dest:
            self._sink(dest, is_dir)

    def _folder_link(self, path: str) -> bool:
        """A symlink to a folder is reported as a file, but it brings files to watch (or,
        when it is one we watch through, takes them away): it counts as a folder."""
        if path in self._aliases.values():
            return True
        return os.path.islink(path) and os.path.isdir(path)


@dataclass(frozen=True, slots=True)
class _Watch:
    path: Path
    real: Path  # where `path` points, when it is a symlink
    recursive: bool
    watch: ObservedWatch
    emitter: EventEmitter
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
    where = f" {shown(os.fsdecode(exc.filename))}" if exc.filename else ""
    return WatchError(f"cannot watch{where}: {exc.strerror or exc}")


def _read_sysctl(name: str) -> str:
    try:
        return Path(f"/proc/sys/fs/inotify/{name}").read_text().strip()
    except OSError:
        return "unknown"
