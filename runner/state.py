"""The state folder `.output-reset/`: the pins (state.json), LLM usage per step (usage.json) and
the lock that one reset at a time holds.

Writes are atomic (temp file, fsync, rename) so a crash never leaves half a file, and the
daemon and one-shot commands share the pin under an advisory file lock. A corrupt file is set
aside with a warning instead of stopping the tool: the pin can always be found again.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runner.atomic import write_atomically
from runner.errors import AlreadyWatching, StateError, UsageError
from runner.pidlock import PidLock
from runner.pins import Pin

log = logging.getLogger(__name__)

STATE_VERSION = 1


class StateStore:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / "state.json"
        self.usage_path = folder / "usage.json"
        self._lock_path = folder / "lock"
        self._threads = threading.Lock()
        self.warnings: list[str] = []

    def load(self) -> dict[str, Pin]:
        """All pins; a corrupt or unreadable file yields none, with a warning."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError) as exc:
            self._warn(
                f"cannot read {self._shown()} ({_reason(exc)}); pins will be looked up again"
            )
            return {}
        try:
            raw = json.loads(text)
            version = raw.get("version") if isinstance(raw, dict) else None
            if version != STATE_VERSION:
                raise ValueError(f"unknown state version {version!r}")
            workflows = raw.get("workflows", {})
            if not isinstance(workflows, dict):
                raise ValueError("workflows is not an object")
            return {str(k): Pin.from_json(v) for k, v in workflows.items()}
        except (ValueError, KeyError, TypeError) as exc:
            aside = self.path.with_name(f"state.json.corrupt-{int(time.time())}")
            with contextlib.suppress(OSError):
                os.replace(self.path, aside)
            self._warn(
                f"{self._shown()} was corrupt ({exc}); moved it to {aside.name} and will look the "
                "pins up again"
            )
            return {}

    def save(self, key: str, pin: Pin, *, durable: bool = True) -> None:
        """Set one entry, keeping the others (callers hold `lock()`)."""
        pins = self.load()
        pin.updated_at = datetime.now(UTC).isoformat(timespec="seconds")
        pins[key] = pin
        document = {
            "version": STATE_VERSION,
            "workflows": {k: v.to_json() for k, v in sorted(pins.items())},
        }
        self._write(self.path, json.dumps(document, indent=2, sort_keys=True) + "\n", durable)

    # -- LLM usage per step slot, kept because traces are overwritten by resets -------------

    def load_usage(self, workflow_id: str) -> dict[str, dict[str, Any]]:
        try:
            raw = json.loads(self.usage_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        found = raw.get(workflow_id, {}) if isinstance(raw, dict) else {}
        return found if isinstance(found, dict) else {}

    def merge_usage(self, workflow_id: str, usage: dict[str, dict[str, Any]]) -> None:
        """Callers hold `lock()`."""
        try:
            raw = json.loads(self.usage_path.read_text(encoding="utf-8"))
            if not isinstance(raw, dict):
                raw = {}
        except (OSError, ValueError):
            raw = {}
        current = raw.get(workflow_id)
        merged = {**(current if isinstance(current, dict) else {}), **usage}
        raw[workflow_id] = merged
        self._write(self.usage_path, json.dumps(raw, indent=2, sort_keys=True) + "\n")

    @contextlib.contextmanager
    def lock(self, timeout_s: float = 30.0) -> Iterator[None]:
        """Exclusive, cross-process: one reset at a time per config folder.

        Threads of this process queue on a thread lock first (handed over at once, where
        polling the file lock would cost each waiter up to 50 ms: 20 cases reset together
        went one by one); only another process is waited for by polling `flock`."""
        started = time.monotonic()
        if not self._threads.acquire(timeout=timeout_s):
            raise StateError(f"{self._lock_path} stayed busy for {timeout_s:g} s")
        try:
            self.ensure_folder()
            busy = f"another output-reset holds {self._lock_path} (a reset in progress?)"
            left = max(0.0, timeout_s - (time.monotonic() - started))
            with file_lock(self._lock_path, left, busy):
                yield
        finally:
            self._threads.release()

    def claim_watch(self) -> Callable[[], None]:
        """Hold `watch.lock` for as long as this daemon watches (one `watch` per config);
        returns the function that lets it go. Another daemon holding it: AlreadyWatching. A
        folder that cannot be written is refused at once (UsageError), not at the first reset."""
        path = self.folder / "watch.lock"
        try:
            self.ensure_folder()
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except (OSError, StateError) as exc:
            raise UsageError(
                f"cannot write {self._shown(path)} beside the config "
                f"({_reason(exc) if isinstance(exc, OSError) else exc}): output-reset keeps "
                "its pins there, so it could not reset anything; make the folder writable, or "
                "only watch with --dry-run"
            ) from None
        lock = PidLock(fd)
        if not lock.acquire():
            holder = lock.holder() or "another process"
            os.close(fd)
            raise AlreadyWatching(
                f"another output-reset watch (pid {holder}) is watching "
                f"{self.folder.parent}; stop it first (only one may reset these runs)"
            )
        return lock.release

    def _write(self, path: Path, text: str, durable: bool = True) -> None:
        """Atomically: a crash leaves the old file or the new one, never half of one.

        `durable` also survives a power cut (fsync of the file and its folder)."""
        self.ensure_folder()
        try:
            write_atomically(path, text.encode("utf-8"), durable=durable)
        except OSError as exc:
            raise StateError(
                f"cannot write {self.folder.name}/{path.name}: {_reason(exc)}"
            ) from None

    def prepare(self) -> None:
        """Create the state folder now if possible (later writes report their own errors)."""
        with contextlib.suppress(StateError):
            self.ensure_folder()

    def ensure_folder(self) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            ignore = self.folder / ".gitignore"
            if not ignore.exists():
                ignore.write_text(
                    "# written by output-reset: local state, not for version control\n*\n"
                )
        except OSError as exc:
            raise StateError(f"cannot create {self.folder}: {_reason(exc)}") from None

    def _shown(self, path: Path | None = None) -> str:
        return f"{self.folder.name}/{(path or self.path).name}"

    def _warn(self, message: str) -> None:
        self.warn_once(message)

    def warn_once(self, message: str) -> None:
        if message not in self.warnings:
            log.warning(message)
            self.warnings.append(message)


@contextlib.contextmanager
def file_lock(path: Path, timeout_s: float, busy: str) -> Iterator[None]:
    """An exclusive advisory lock on `path` (created when missing), across processes. Not
    re-entrant: a second hold in the same process waits. StateError (`busy`) after
    `timeout_s`."""
    try:
        handle = path.open("a+")
    except OSError as exc:
        raise StateError(f"cannot open {path}: {_reason(exc)}") from None
    with handle:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise StateError(busy) from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc)
