"""Debouncing is pure: the tests drive the clock."""

from __future__ import annotations

from runner.debounce import Debouncer


def test_a_single_event_is_due_after_the_quiet_period() -> None:
    d = Debouncer(quiet_s=0.3)
    assert d.add("a", now=10.0) is True
    assert d.deadline() == 10.3
    assert d.take(now=10.29) is None
    burst = d.take(now=10.3)
    assert burst is not None
    assert (burst.paths, burst.events, burst.first_at, burst.last_at) == (
        frozenset({"a"}),
        1,
        10.0,
        10.0,
    )
    assert not d.pending
    assert d.deadline() is None


def test_events_inside_the_quiet_period_extend_the_burst() -> None:
    d = Debouncer(quiet_s=0.3)
    d.add("a", now=0.0)
    assert d.add("b", now=0.2) is False
    assert d.add("a", now=0.4) is False
    assert d.take(now=0.6) is None
    burst = d.take(now=0.7)
    assert burst is not None
    assert burst.paths == frozenset({"a", "b"})
    assert burst.events == 3


def test_a_continuous_stream_is_cut_at_the_maximum_hold() -> None:
    d = Debouncer(quiet_s=0.3, max_hold_s=1.0)
    t = 0.0
    while t < 0.95:
        d.add("busy.log", now=t)
        t += 0.1
    assert d.deadline() == 1.0
    assert d.take(now=1.0) is not None


def test_the_next_event_after_a_burst_opens_a_new_one() -> None:
    d = Debouncer(quiet_s=0.1)
    d.add("a", now=0.0)
    assert d.take(now=0.1) is not None
    assert d.add("b", now=5.0) is True
    burst = d.take(now=5.1)
    assert burst is not None
    assert burst.paths == frozenset({"b"})


def test_an_overflow_marks_the_burst() -> None:
    d = Debouncer(quiet_s=0.1)
    d.add("a", now=0.0)
    d.overflow(now=0.05)
    burst = d.take(now=0.2)
    assert burst is not None
    assert burst.overflowed
    d.add("b", now=1.0)
    again = d.take(now=1.1)
    assert again is not None
    assert not again.overflowed


def test_zero_quiet_period_is_due_at_once() -> None:
    d = Debouncer(quiet_s=0.0)
    d.add("a", now=3.0)
    assert d.take(now=3.0) is not None
