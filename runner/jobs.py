"""Work that may block (network calls, recovery waits) runs here, never on the daemon's loop.

Each job runs on a daemon thread of its own, at most `limit` at once; its result (or expected
failure) is handed back through `post`, to be applied on the loop thread; anything else is a
bug and goes to `crash`. Daemon threads, because a job stuck on a slow API must not hold up
the process's exit: whatever a job had under way is recorded in the state file first.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any, TypeVar

from runner.errors import RunnerError

log = logging.getLogger(__name__)
T = TypeVar("T")

Apply = Callable[[float], Any]  # applied on the loop thread, with `now`
Turn = Callable[[], AbstractContextManager[None]]


class Jobs:
    def __init__(
        self,
        post: Callable[[Apply], None],
        crash: Callable[[BaseException], None],
        limit: int,
    ) -> None:
        self._post = post
        self._crash = crash
        self._slots = threading.BoundedSemaphore(limit)

    def submit(
        self,
        work: Callable[[], T],
        ok: Callable[[float, T], Any] | None = None,
        failed: Callable[[float, RunnerError], Any] | None = None,
        *,
        turn: Turn | None = None,
    ) -> None:
        """`turn`: a place in a line (Turns.take), waited for before the job takes a slot,
        so that the jobs ahead of it in the line are never kept waiting for one."""

        def body() -> None:
            with turn() if turn is not None else contextlib.nullcontext(), self._slots:
                try:
                    result = work()
                except RunnerError as exc:
                    self._failed(failed, exc)
                except BaseException as exc:
                    self._crash(exc)
                else:
                    if ok is not None:
                        self._post(lambda now: ok(now, result))

        threading.Thread(target=body, name="output-reset-job", daemon=True).start()

    def _failed(
        self, failed: Callable[[float, RunnerError], Any] | None, error: RunnerError
    ) -> None:
        if failed is None:
            log.info("%s", error)
        else:
            self._post(lambda now: failed(now, error))


class Turns:
    """Jobs that must run one at a time, in the order they were asked for, per key: an
    entry's evals and the iterations they record (numbered in the order of the saves, not
    in the order their job threads happen to get there)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._taken: dict[str, int] = {}
        self._served: dict[str, int] = {}

    def take(self, key: str) -> Turn:
        """A place in the line of `key`, taken now (on the loop thread, as the job is asked
        for); the job waits for it with the context manager it gets."""
        with self._cond:
            ticket = self._taken.get(key, 0)
            self._taken[key] = ticket + 1

        @contextlib.contextmanager
        def turn() -> Iterator[None]:
            with self._cond:
                self._cond.wait_for(lambda: self._served.get(key, 0) == ticket)
            try:
                yield
            finally:
                with self._cond:
                    self._served[key] = ticket + 1
                    self._cond.notify_all()

        return turn
