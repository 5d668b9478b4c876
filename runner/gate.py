"""The wait for Output's worker to load new code, as a pure state machine.

An edit under `src/` restarts Output's dev worker, and a reset sent before the new worker is
up may run the edited step on the old code (docs/output-api.md §6.5). The gate is opened by
such an edit, restarted by the next one (the worker restarts again), and says "ready" once the
worker is seen running code newer than the last edit, or "timed out" at its deadline.
"""

from __future__ import annotations

from dataclasses import dataclass


def worker_ready(run_id: str, started_at: float | None, since: float, known: str | None) -> bool:
    """Output's worker runs code at least as new as an edit made at `since` (wall clock).

    A new worker replaces the catalog run, and its start time says whether it started after
    the edit; this needs no observation from before the edit, so an API that was down at the
    edit cannot fool it. Without a start time, a run id other than the one seen before counts.
    """
    if started_at is not None:
        return started_at > since
    return known is not None and run_id != known


@dataclass(slots=True)
class _Wait:
    ticket: int
    since: float  # wall clock of the last edit the worker must have loaded
    md_only: bool  # .md edits restart the worker without a new catalog run
    known: str | None  # the worker (catalog run id) seen before the edits
    deadline: float


class WorkerGate:
    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._wait: _Wait | None = None
        self._tickets = 0
        self._known: str | None = None

    @property
    def ticket(self) -> int | None:
        return self._wait.ticket if self._wait is not None else None

    @property
    def deadline(self) -> float | None:
        return self._wait.deadline if self._wait is not None else None

    @property
    def md_only(self) -> bool:
        return self._wait is not None and self._wait.md_only

    def begin(self, now: float, wall: float, *, md_only: bool) -> tuple[int | None, int]:
        """Wait for edits made up to `wall`; returns the wait this one replaces (or None)
        and the new wait's ticket. Edits joining a wait keep it in `.md` mode only if all are."""
        ended = self._wait
        if ended is not None:
            md_only = md_only and ended.md_only
        self._tickets += 1
        self._wait = _Wait(self._tickets, wall, md_only, self._known, now + self.timeout_s)
        return (ended.ticket if ended is not None else None), self._tickets

    def seen(self, ticket: int | None, run_id: str, started_at: float | None) -> bool:
        """An observation of the worker; True when it opens the wait `ticket`."""
        wait = self._wait
        self._known = run_id
        return (
            wait is not None
            and wait.ticket == ticket
            and not wait.md_only
            and worker_ready(run_id, started_at, wait.since, wait.known)
        )

    def answered(self, ticket: int) -> bool:
        """After `.md`-only edits: the worker answered a query sent after it restarted."""
        wait = self._wait
        return wait is not None and wait.ticket == ticket and wait.md_only

    def due(self, now: float) -> bool:
        return self._wait is not None and now >= self._wait.deadline

    def end(self) -> int | None:
        ended, self._wait = self._wait, None
        return ended.ticket if ended is not None else None
