"""Ctrl-C and SIGTERM as a plain call, made from a thread of our own, at once.

Python runs signal handlers on the main thread between bytecodes, possibly while that thread
holds a lock the handler would need (a queue's, an Event's), and not at all while the main
thread waits in C. So the handler itself does nothing: the interpreter's C-level wakeup fd
writes the signal's number to a pipe the moment it arrives, and a listener thread blocked on
that pipe calls `on_stop`. A second Ctrl-C or SIGTERM exits at once (code 130).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable
from types import FrameType, TracebackType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _ignore(signum: int, frame: FrameType | None) -> None:
    """The Python-level handler: the listener does the work."""


class StopOnSignals:
    """While active, SIGINT and SIGTERM call `on_stop` (once) from a listener thread."""

    def __init__(self, on_stop: Callable[[], None]) -> None:
        self._on_stop = on_stop
        self._read, self._write = os.pipe()
        os.set_blocking(self._write, False)
        self._previous: dict[int, object] = {}
        self._previous_fd = -1
        self._listener = threading.Thread(
            target=self._listen, name="output-reset-signals", daemon=True
        )

    def __enter__(self) -> StopOnSignals:
        self._previous_fd = signal.set_wakeup_fd(self._write, warn_on_full_buffer=False)
        for signum in STOP_SIGNALS:
            self._previous[signum] = signal.signal(signum, _ignore)
        self._listener.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]
        signal.set_wakeup_fd(self._previous_fd)
        os.close(self._write)  # the listener reads EOF and ends
        self._listener.join(1.0)
        with contextlib.suppress(OSError):
            os.close(self._read)

    def _listen(self) -> None:
        stops = 0
        while True:
            try:
                data = os.read(self._read, 64)
            except OSError:
                return
            if not data:
                return
            for signum in data:
                if signum not in STOP_SIGNALS:
                    continue
                stops += 1
                if stops > 1:
                    os._exit(130)  # the user really wants out now
                self._on_stop()
