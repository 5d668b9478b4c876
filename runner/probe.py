"""Watching Output's worker on a thread while the board waits for it to load new code.

The probe only observes and tells; whether what it saw means "ready" is the board's decision
(`tracker.worker_ready`). Catalog mode polls the catalog workflow's run (its id and start
time); `.md`-only edits restart the worker without a new catalog run, so that mode waits a
moment, then until a catalog query answers again (it blocks while the worker restarts).
An unreachable API is never taken for a ready worker: the probe keeps trying until cancelled.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from runner.engine import Engine
from runner.errors import ApiError

log = logging.getLogger(__name__)

POLL_S = 0.5
MD_DELAY_S = 1.0


class WorkerProbe(threading.Thread):
    def __init__(
        self,
        engine: Engine,
        *,
        md_only: bool,
        seen: Callable[[str, float | None], None],
        answered: Callable[[], None],
    ) -> None:
        super().__init__(name="output-reset-worker-probe", daemon=True)
        self._engine = engine
        self._md_only = md_only
        self._seen = seen
        self._answered = answered
        self._cancel = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()

    def run(self) -> None:
        if self._md_only:
            self._until_it_answers()
        else:
            self._poll_catalog()

    def _poll_catalog(self) -> None:
        while not self._cancel.is_set():
            try:
                status = self._engine.worker_status()
            except ApiError as exc:
                log.debug("catalog poll failed: %s", exc)
            else:
                if status is None:
                    return
                self._seen(status.run_id, status.started_at)
            self._cancel.wait(POLL_S)

    def _until_it_answers(self) -> None:
        if self._cancel.wait(MD_DELAY_S):
            return
        while not self._cancel.is_set():
            try:
                self._engine.wait_worker_answers()
            except ApiError as exc:
                log.debug("catalog query failed: %s", exc)
                self._cancel.wait(POLL_S)
                continue
            if not self._cancel.is_set():
                self._answered()
            return
