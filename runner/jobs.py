"""Work that may block (network calls, recovery waits) runs here, never on the daemon's loop.

Each job runs on a daemon thread of its own, at most `limit` at once; its result (or expected
failure) is handed back through `post`, to be applied on the loop thread; anything else is a
bug and goes to `crash`. Daemon threads, because a job stuck on a slow API must not hold up
the process's exit: whatever a job had under way is recorded in the state file first.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from runner.errors import RunnerError

log = logging.getLogger(__name__)
T = TypeVar("T")

Apply = Callable[[float], Any]  # applied on the loop thread, with `now`


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
    ) -> None:
        def body() -> None:
            with self._slots:
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
