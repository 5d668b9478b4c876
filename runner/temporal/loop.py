"""The asyncio side of the Temporal engine: one event loop on a private thread.

The `Engine` Protocol is synchronous and temporalio is asyncio, so every call is a coroutine
submitted to this loop from whichever thread asks; `close()` stops the loop and joins the thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import signal
import threading
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

from temporalio.runtime import Runtime

from runner.errors import ApiError

T = TypeVar("T")

STOP_CHECK_S = 0.1  # how often a waiting call looks at its stop event
_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM})


class LoopThread:
    """One asyncio event loop on a private daemon thread; any thread may submit to it."""

    def __init__(self, name: str) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        # Signals are the main thread's business: block them here and in the SDK's runtime
        # threads, which inherit this mask when `start_runtime` creates them from this thread.
        # A SIGINT delivered to a thread that never runs Python code is otherwise lost while
        # the main thread sleeps (observed: `watch` then ignores its first Ctrl-C).
        signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_forever()
        finally:
            leftover = asyncio.all_tasks(self._loop)
            for task in leftover:
                task.cancel()
            self._loop.run_until_complete(asyncio.gather(*leftover, return_exceptions=True))
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.close()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        try:
            return asyncio.run_coroutine_threadsafe(coro, self._loop)
        except RuntimeError:  # the loop is closed
            coro.close()
            raise ApiError("the Temporal engine is closed") from None

    def run(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        future = self.submit(coro)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise
        except concurrent.futures.CancelledError:  # close() ended the loop under the call
            raise ApiError("the Temporal engine is closed") from None

    def close(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)


async def start_runtime() -> None:
    """Create the SDK's shared runtime (and its threads) on the loop thread, if not yet."""
    Runtime.default()


def result_unless_stopped(
    future: concurrent.futures.Future[T], stop: threading.Event, timeout: float
) -> T | None:
    """The call's result, or None as soon as `stop` is set (the call is then cancelled)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return future.result(STOP_CHECK_S)
        except TimeoutError:
            if stop.is_set():
                future.cancel()
                return None
            if time.monotonic() >= deadline:
                future.cancel()
                raise
