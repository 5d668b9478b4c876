"""Group file events into bursts (pure core: the caller passes `now`).

Two knobs, as in watchfiles: a burst ends once no event arrived for `quiet_s`, or at the latest
`max_hold_s` after its first event, so a file that is rewritten forever cannot stall a reset.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True, kw_only=True)
class Burst:
    paths: frozenset[str]
    first_at: float
    last_at: float
    events: int
    overflowed: bool


@dataclass(slots=True)
class Debouncer:
    quiet_s: float
    max_hold_s: float = 5.0
    _paths: set[str] = field(default_factory=set)
    _first_at: float | None = None
    _last_at: float = 0.0
    _events: int = 0
    _overflowed: bool = False

    def add(self, path: str, now: float) -> bool:
        """Record an event; True when it opened a new burst."""
        opened = self._first_at is None
        if opened:
            self._first_at = now
        self._last_at = now
        self._events += 1
        self._paths.add(path)
        return opened

    def overflow(self, now: float) -> bool:
        """Events were lost: the burst must re-check every mapped file."""
        opened = self._first_at is None
        if opened:
            self._first_at = now
        self._last_at = now
        self._overflowed = True
        return opened

    @property
    def pending(self) -> bool:
        return self._first_at is not None

    def deadline(self) -> float | None:
        """When the current burst is due, or None when there is none."""
        if self._first_at is None:
            return None
        return min(self._last_at + self.quiet_s, self._first_at + self.max_hold_s)

    def take(self, now: float) -> Burst | None:
        """The burst, if it is due at `now`; the debouncer is then empty again."""
        due = self.deadline()
        if due is None or now < due or self._first_at is None:
            return None
        burst = Burst(
            paths=frozenset(self._paths),
            first_at=self._first_at,
            last_at=self._last_at,
            events=self._events,
            overflowed=self._overflowed,
        )
        self._paths = set()
        self._first_at = None
        self._events = 0
        self._overflowed = False
        return burst
