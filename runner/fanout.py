"""The runs of a fanned-out entry (pure core): the dataset cases with no run yet, started
together and said once; the cases' runs as the evals see them; when the evals before any edit
are due; and what a finished round keeps as an iteration.

The board holds the trackers and calls these; nothing here keeps state of its own (starting
cases marks the trackers started).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from runner.actions import Action, CaseRun, Iteration, IterationCase, Say
from runner.errors import ApiError, NotReset, RunnerError
from runner.reports import Notice
from runner.rounds import Round
from runner.tracker import Tracker

STAYS_PENDING = "the change stays pending"  # until the next edit
NEWER_GOES = "the edit made meanwhile goes now"  # a failed reset's "next edit" came already


def start_cases(trackers: Sequence[Tracker], *, dry_run: bool) -> list[Action]:
    """Dataset cases with no run with their input: one run each, said once per entry (a dry
    run starts none, and says so)."""
    if not trackers:
        return []
    for tracker in trackers:
        tracker.to_start = False
        tracker.no_run_yet = True
    if dry_run:
        names = ", ".join(t.label for t in trackers)
        return [Say(Notice(f"no run yet of {names}; a dry run starts none", level="info"))]
    by_entry: dict[str, int] = {}
    for tracker in trackers:
        name = tracker.workflow.case_of or tracker.label
        by_entry[name] = by_entry.get(name, 0) + 1
    said: list[Action] = [
        Say(Notice(f"starting {_runs(n)} of {name}: a full run each, this once", level="info"))
        for name, n in by_entry.items()
    ]
    return [*said, *(t.start_job() for t in trackers)]


def case_runs(trackers: Sequence[Tracker], done: Round | None = None) -> tuple[CaseRun, ...]:
    """The cases' runs, as the evals see them: for a case the round `done` reset, the run that
    save made and the output it ended with (a later save may have moved the pin on since);
    for the others, the pinned run (its output as the follower saw it, else read)."""
    runs = []
    for tracker in trackers:
        case = tracker.workflow.case
        if tracker.pin is None or case is None:
            continue
        workflow_id = tracker.pin.workflow_id
        made = done.ended.get(tracker.serial) if done is not None else None
        if made is not None:
            runs.append(CaseRun(case, workflow_id, made[0], made[2], True))
            continue
        known = tracker.ended is not None and tracker.ended[0] == tracker.pin.run_id
        output = tracker.ended[2] if tracker.ended is not None and known else None
        runs.append(CaseRun(case, workflow_id, tracker.pin.run_id, output, known))
    return tuple(runs)


def settled(cases: Sequence[Tracker]) -> bool:
    """Every case has a pinned run that has ended, and nothing is under way or pending: the
    moment the evals before any edit show where the cases stand."""
    return bool(cases) and not any(
        t.pin is None or t.busy or t.pending or not t.closed for t in cases
    )


def iteration(done: Round, tracker_of: Callable[[int], Tracker | None]) -> Iteration:
    """A finished round as an iteration: per member, its old and new run and how it ended."""
    results: list[IterationCase] = []
    for serial in done.members:
        decided, tracker = done.decided[serial], tracker_of(serial)
        decision = decided.decision
        if decision is not None:
            workflow_id, old_run = decision.workflow_id, decision.run_id
        elif tracker is not None and tracker.pin is not None:
            workflow_id, old_run = tracker.pin.workflow_id, tracker.pin.run_id
        else:
            continue  # dropped by a new config before it was ever pinned
        name = tracker.workflow.case if tracker is not None else None
        new_run, status, output = done.ended.get(serial, (None, None, None))
        results.append(
            IterationCase(name or workflow_id, workflow_id, old_run, new_run, status, output)
        )
    return Iteration(done.label, dict(done.files), tuple(results))


def _runs(n: int) -> str:
    return "1 dataset run" if n == 1 else f"{n} dataset runs"


def case_error(error: RunnerError, after: str = STAYS_PENDING) -> str:
    """How a case that was not reset reads in its entry's summary."""
    if isinstance(error, ApiError) and error.retryable:
        return f"{error}; will keep retrying"
    if isinstance(error, NotReset):
        return str(error)  # stays pending until the next change, as said
    return f"{error}; {after}"
