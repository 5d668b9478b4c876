"""Decide the reset for one burst of changes against one pinned run (pure core).

Input: the rules whose files really changed, and the pinned run's history summary (plus the
histories of the children it started). Output: one `Decision` with a reason a person can read.
The rules follow the Output API's own resolution (CONTRACT §3.2-3.5): a step name resolves to
its LAST scheduled occurrence, the named step is kept, and everything after it re-runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from runner.config import Rule
from runner.history import TRACE_ANCHOR, Activity, RunHistory


@dataclass(frozen=True, slots=True, kw_only=True)
class Change:
    """A rule whose files changed in this burst."""

    rule: Rule
    files: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleOutcome:
    """What one rule alone asks for."""

    change: Change
    kind: str  # "anchor", "fresh" or "none"
    anchor: str | None
    position: int  # eventId order of the reset point; fresh runs sort first
    why: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """One reset (or none) per burst per workflow."""

    workflow_id: str
    run_id: str
    kind: str  # "reset", "fresh" or "none"
    anchor: str | None
    why: str
    chosen: Change | None
    outcomes: tuple[RuleOutcome, ...]

    @property
    def changes(self) -> tuple[Change, ...]:
        return tuple(o.change for o in self.outcomes)

    @property
    def files(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for change in self.changes:
            for path in change.files:
                seen.setdefault(path, None)
        return tuple(seen)


def plan(
    changes: Sequence[Change],
    run: RunHistory,
    children: Mapping[str, RunHistory] | None = None,
) -> Decision:
    """Pick the earliest reset point asked for by any changed rule."""
    kids = children or {}
    outcomes = tuple(_outcome(change, run, kids) for change in changes)
    acting = [o for o in outcomes if o.kind != "none"]
    if not acting:
        why = "; ".join(dict.fromkeys(o.why for o in outcomes)) or "no rule matched"
        return Decision(
            workflow_id=run.workflow_id,
            run_id=run.run_id,
            kind="none",
            anchor=None,
            why=why,
            chosen=None,
            outcomes=outcomes,
        )
    best = min(acting, key=lambda o: o.position)
    return Decision(
        workflow_id=run.workflow_id,
        run_id=run.run_id,
        kind="fresh" if best.kind == "fresh" else "reset",
        anchor=best.anchor,
        why=best.why,
        chosen=best.change,
        outcomes=outcomes,
    )


def _outcome(change: Change, run: RunHistory, children: Mapping[str, RunHistory]) -> RuleOutcome:
    rule = change.rule
    if rule.action == "reset_after":
        return _reset_after(change, run)
    return _rerun(change, run, children)


def _reset_after(change: Change, run: RunHistory) -> RuleOutcome:
    step = change.rule.step
    occurrences = run.occurrences(step)
    if not occurrences:
        return _none(change, _never_ran(step, run))
    last = occurrences[-1]
    if last.completed_id is None:
        if last.outcome == "scheduled" and not run.closed:
            return _none(
                change,
                f"{step} is still running; the steps after it will run on the new code",
            )
        return _none(
            change,
            f"{step} did not complete in this run ({_state(last, run)}), so there is nothing "
            f'to keep after it; use "rerun: {step}" to re-run it',
        )
    if not run.closed and run.first_task_completed_after(last.completed_id) is None:
        return _none(
            change, f"the run has just finished {step}; what follows will run on the new code"
        )
    return RuleOutcome(
        change=change,
        kind="anchor",
        anchor=last.step,
        position=last.completed_id,
        why=f"keep {step} and re-run what follows (reset_after)",
    )


def _rerun(change: Change, run: RunHistory, children: Mapping[str, RunHistory]) -> RuleOutcome:
    step = change.rule.step
    occurrences = run.occurrences(step)
    where = ""
    if occurrences:
        first_at = occurrences[0].scheduled_id
    else:
        child = run.child_containing(children, step)
        if child is None:
            if not run.closed:
                reached = run.last_user_step()
                at = f" (it is at {reached.step})" if reached else ""
                return _none(
                    change,
                    f"the run has not reached {step} yet{at}; it will run {step} on the new code",
                )
            return _none(change, _never_ran(step, run))
        first_at = child.initiated_id
        where = f" in child workflow {child.workflow_type}"

    anchor = _latest_completed_before(run, first_at, exclude=step)
    if anchor is not None:
        siblings = _also_kept(run, anchor, first_at)
        kept = f" (keeps {', '.join(siblings)} too)" if siblings else ""
        if anchor.internal:
            why = f"{step}{where} is the first step; {anchor.step} keeps the workflow input"
        else:
            why = f"{anchor.step} finished last before {step}{where} first ran{kept}"
        return RuleOutcome(
            change=change,
            kind="anchor",
            anchor=anchor.step,
            position=anchor.completed_id or 0,
            why=why,
        )
    return RuleOutcome(
        change=change,
        kind="fresh",
        anchor=None,
        position=-1,
        why=f"{step}{where} is the first step and the run has no trace activity to reset "
        "after (tracing disabled): start a fresh run with the same input",
    )


def _latest_completed_before(run: RunHistory, point: int, *, exclude: str) -> Activity | None:
    """The anchor for "re-run whatever was first scheduled at `point`".

    The activity (other than the re-run step) whose completion is the latest one before
    `point`, considering only names whose LAST scheduling is also before `point`: the API
    resolves a name to its last occurrence (CONTRACT §3.4), so a name that runs again later
    would move the reset point past the step we want re-run.
    """
    last_by_step: dict[str, Activity] = {}
    for activity in run.activities:
        if activity.internal and activity.step != TRACE_ANCHOR:
            continue
        last_by_step[activity.step] = activity
    best: Activity | None = None
    for name, last in last_by_step.items():
        if name == exclude or last.scheduled_id >= point:
            continue
        done = last.completed_id
        if done is None or done >= point:
            continue
        if best is None or done > (best.completed_id or 0):
            best = last
    return best


def _also_kept(run: RunHistory, anchor: Activity, point: int) -> list[str]:
    """Parallel siblings of the anchor that completed before it (so the reset keeps them)."""
    assert anchor.completed_id is not None
    return [
        a.step
        for a in run.activities
        if a.scheduled_by == anchor.scheduled_by
        and a is not anchor
        and not a.internal
        and a.completed_id is not None
        and a.completed_id < anchor.completed_id
        and a.scheduled_id < point
    ]


def _never_ran(step: str, run: RunHistory) -> str:
    reached = run.last_user_step()
    if reached is None:
        return f"{step} never ran in run {run.run_id}, which ran no step"
    return (
        f"{step} never ran in run {run.run_id}; the last step it reached is {reached.step} "
        f"({_state(reached, run)})"
    )


def _state(activity: Activity, run: RunHistory) -> str:
    if activity.outcome == "scheduled":
        return "running" if not run.closed else f"not finished, run {run.status}"
    return activity.outcome.replace("_", " ")


def _none(change: Change, why: str) -> RuleOutcome:
    return RuleOutcome(change=change, kind="none", anchor=None, position=0, why=why)
