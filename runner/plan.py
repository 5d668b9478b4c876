"""Decide the reset for one burst of changes against one pinned run (pure core).

Input: the rules whose files really changed, and the pinned run's history summary (plus the
histories of the children it started). Output: one `Decision` with a reason a person can read.

Two kinds of engine are planned for:
- by step name (the Output API): a name resolves to its LAST scheduled occurrence, the named
  step is kept and everything after it re-runs (docs/output-api.md §5.2-5.9); so "re-run S"
  anchors on the activity that finished last before S first ran.
- by event (Temporal's ResetWorkflowExecution): the reset point is any workflow task, so
  "re-run S" resets to the task that first scheduled S, keeping everything completed before it,
  and "reset after P" can pick any occurrence of P and keeps every sibling that had finished.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from runner.config import Rule
from runner.history import TRACE_ANCHOR, Activity, ChildRun, RunHistory

# Output's workflow definition files: their code is replayed on reset (docs/output-api.md §5.10).
WORKFLOW_CODE = frozenset({"workflow.ts", "workflow.js", "workflow.mts", "workflow.mjs"})


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
    anchor: str | None  # the step kept last (the API's stepName)
    boundary: int | None  # the workflow task event to reset to (event engines)
    position: int  # order of the reset point in the run; fresh runs sort first
    why: str
    brief: str = ""  # a fresh run's reason in a few words
    again: tuple[str, ...] = ()  # steps not finished at the reset point: dispatched again


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """One reset (or none) per burst per workflow."""

    workflow_id: str
    run_id: str
    kind: str  # "reset", "fresh" or "none"
    anchor: str | None
    boundary: int | None
    why: str
    chosen: Change | None
    outcomes: tuple[RuleOutcome, ...]
    kept: tuple[Activity, ...] = ()  # user step runs replayed from history, not re-executed
    rerun: tuple[str, ...] = ()  # user steps of the run that execute again
    brief: str = ""  # a fresh run's reason in a few words
    again: tuple[str, ...] = ()  # steps not finished at the reset point: dispatched again

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
    *,
    by_event: bool = False,
) -> Decision:
    """Pick the earliest reset point asked for by any changed rule."""
    planner = _Planner(run, children or {}, by_event=by_event)
    outcomes = tuple(planner.outcome(change) for change in changes)
    acting = [o for o in outcomes if o.kind != "none"]
    if not acting:
        why = "; ".join(dict.fromkeys(o.why for o in outcomes)) or "no rule matched"
        return no_reset(run.workflow_id, run.run_id, why, outcomes)
    best = min(acting, key=lambda o: o.position)
    boundary = best.boundary if best.kind == "anchor" else None
    steps = [a for a in run.activities if not a.internal]
    kept = tuple(a for a in steps if boundary and a.completed_id and a.completed_id < boundary)
    return Decision(
        workflow_id=run.workflow_id,
        run_id=run.run_id,
        kind="fresh" if best.kind == "fresh" else "reset",
        anchor=best.anchor,
        boundary=best.boundary,
        why=best.why,
        chosen=best.change,
        outcomes=outcomes,
        kept=kept,
        rerun=tuple(dict.fromkeys(a.step for a in steps if a not in kept)),
        brief=best.brief,
        again=best.again,
    )


class _Planner:
    def __init__(
        self, run: RunHistory, children: Mapping[str, RunHistory], *, by_event: bool
    ) -> None:
        self.run = run
        self.children = children
        self.by_event = by_event

    def outcome(self, change: Change) -> RuleOutcome:
        code = [f for f in change.files if f.rpartition("/")[2] in WORKFLOW_CODE]
        if code and not change.rule.allow_replay:
            name = code[0].rpartition("/")[2]
            return _fresh(
                change,
                "workflow code changed",
                f"{name} is workflow code, which a reset replays and a change can make "
                "non-deterministic: start a fresh run with the same input "
                "(allow_replay: true on the rule resets instead)",
            )
        if change.rule.action == "reset_after":
            return self._reset_after(change)
        return self._rerun(change)

    # -- reset_after: P ---------------------------------------------------------------------

    def _reset_after(self, change: Change) -> RuleOutcome:
        run, rule = self.run, change.rule
        step = rule.step
        occurrences = run.occurrences(step)
        if not occurrences:
            return no_reset_for(change, self._never_ran(step))
        which = rule.occurrence or -1
        if which != -1 and not self.by_event:
            return no_reset_for(
                change,
                f"the Output API can only reset after the last occurrence of {step}; "
                "use the temporal engine to pick another one",
            )
        if abs(which) > len(occurrences):
            return no_reset_for(
                change, f"{step} ran {len(occurrences)} times; there is no occurrence {which}"
            )
        target = occurrences[which - 1 if which > 0 else which]
        nth = "" if len(occurrences) == 1 else f" (occurrence {occurrences.index(target) + 1})"
        done = target.completed_id
        if done is None:
            if target.outcome == "scheduled" and not run.closed:
                return no_reset_for(
                    change,
                    f"{step} is still running; the steps after it will run on the new code",
                )
            return no_reset_for(
                change,
                f"{step} did not complete in this run ({self._state(target)}), so there is "
                f'nothing to keep after it; use "rerun: {step}" to re-run it',
            )
        boundary = self._boundary_after(done)
        if boundary is None:
            if run.closed:
                why = f"nothing ran after {step}{nth}; there is nothing to re-run"
                return no_reset_for(change, why)
            return no_reset_for(
                change, f"the run has just finished {step}; what follows will run on the new code"
            )
        # Siblings scheduled before the reset point but not finished by it are dispatched
        # again (docs/output-api.md §5.8): say so, it is the surprising part.
        again = [
            a.step
            for a in run.activities
            if a is not target
            and not a.internal
            and a.scheduled_id < boundary
            and (a.completed_id is None or a.completed_id > boundary)
        ]
        also = f" ({counted(again)} had not finished: it runs again)" if again else ""
        return RuleOutcome(
            change=change,
            kind="anchor",
            anchor=target.step,
            boundary=boundary,
            position=boundary if self.by_event else done,
            why=f"keep {step}{nth} and re-run what follows{also}",
            again=tuple(again),
        )

    def _boundary_after(self, completed: int) -> int | None:
        """The workflow task to reset to so that what completed by `completed` is kept.

        By name the API takes the first task completed after it. By event we take the task
        that scheduled the next step, which also keeps every sibling that finished meanwhile.
        """
        if self.by_event:
            later = [a.scheduled_by for a in self.run.activities if a.scheduled_id > completed]
            later += [c.scheduled_by for c in self.run.children if c.initiated_id > completed]
            if later and min(later) > 0:
                return min(later)
        return self.run.first_task_completed_after(completed)

    # -- rerun: S ---------------------------------------------------------------------------

    def _rerun(self, change: Change) -> RuleOutcome:
        run, step = self.run, change.rule.step
        occurrences = run.occurrences(step)
        child: ChildRun | None = None
        if occurrences:
            first_at, first_by = occurrences[0].scheduled_id, occurrences[0].scheduled_by
        else:
            child = run.child_containing(self.children, step)
            if child is None:
                if not run.closed:
                    reached = run.last_user_step()
                    at = f" (it is at {reached.step})" if reached else ""
                    return no_reset_for(
                        change,
                        f"the run has not reached {step} yet{at}; it will run {step} on the new "
                        "code",
                    )
                return no_reset_for(change, self._never_ran(step))
            first_at, first_by = child.initiated_id, child.scheduled_by
        where = f" in child workflow {child.workflow_type}" if child else ""
        anchor = _latest_completed_before(run, first_at, exclude=step)
        if self.by_event and first_by > 0:
            kept = anchor.step if anchor is not None else "the workflow input"
            return RuleOutcome(
                change=change,
                kind="anchor",
                anchor=anchor.step if anchor is not None else None,
                boundary=first_by,
                position=first_by,
                why=f"the reset point is event {first_by}, the workflow task that first "
                f"scheduled {step}{where}: {kept} and everything else that finished before it "
                "is kept",
            )
        if anchor is None and run.parent_id is not None:
            # A child run never runs getTraceDestinations; its reset would run it alone.
            return _fresh(
                change,
                f"the first step of a child run of {run.parent_id}",
                f"{step} is the first step of this child run of {run.parent_id}, which has "
                f"no trace activity to reset after: start a fresh run with the same input, "
                f"alone ({run.parent_id} keeps its result; map these files under the entry of "
                f"{run.parent_id} to re-run the child inside it)",
            )
        if anchor is None:
            return _fresh(
                change,
                "the first step, and tracing is disabled",
                f"{step}{where} is the first step and the run has no trace activity to "
                "reset after (tracing disabled): start a fresh run with the same input",
            )
        assert anchor.completed_id is not None
        if anchor.internal:
            why = f"{step}{where} is the first step; {anchor.step} keeps the workflow input"
        else:
            siblings = _also_kept(run, anchor, first_at)
            kept = f" (keeps {counted(siblings)} too)" if siblings else ""
            why = f"{anchor.step} finished last before {step}{where} first ran{kept}"
        return RuleOutcome(
            change=change,
            kind="anchor",
            anchor=anchor.step,
            boundary=run.first_task_completed_after(anchor.completed_id),
            position=anchor.completed_id,
            why=why,
        )

    # -- wording ----------------------------------------------------------------------------

    def _never_ran(self, step: str) -> str:
        run = self.run
        reached = run.last_user_step()
        if reached is None:
            return f"{step} never ran in run {run.run_id}, which ran no step"
        return (
            f"{step} never ran in run {run.run_id}; the last step it reached is {reached.step} "
            f"({self._state(reached)})"
        )

    def _state(self, activity: Activity) -> str:
        if activity.outcome == "scheduled":
            return "running" if not self.run.closed else f"not finished, run {self.run.status}"
        return activity.outcome.replace("_", " ")


def _latest_completed_before(run: RunHistory, point: int, *, exclude: str) -> Activity | None:
    """The anchor for "re-run whatever was first scheduled at `point`", by step name.

    The activity (other than the re-run step) whose completion is the latest one before
    `point`, considering only names whose LAST scheduling is also before `point`: the API
    resolves a name to its last occurrence (docs/output-api.md §5.7), so a name that runs again
    later would move the reset point past the step we want re-run. Internal activities are not
    steps, but getTraceDestinations keeps the workflow input (docs/output-api.md §5.6).
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
    done = anchor.completed_id or 0
    return [
        a.step
        for a in run.activities
        if a.scheduled_by == anchor.scheduled_by
        and a is not anchor
        and not a.internal
        and a.completed_id is not None
        and a.completed_id < done
        and a.scheduled_id < point
    ]


def counted(names: Sequence[str]) -> str:
    """Names in order of first appearance, a repeated one with its count: "a, b, c ×5"."""
    counts = Counter(names)
    return ", ".join(f"{n} ×{counts[n]}" if counts[n] > 1 else n for n in dict.fromkeys(names))


def no_reset(
    workflow_id: str, run_id: str, why: str, outcomes: tuple[RuleOutcome, ...]
) -> Decision:
    return Decision(
        workflow_id=workflow_id,
        run_id=run_id,
        kind="none",
        anchor=None,
        boundary=None,
        why=why,
        chosen=None,
        outcomes=outcomes,
    )


def _fresh(change: Change, brief: str, why: str) -> RuleOutcome:
    """A fresh run with the same input; it sorts before every reset point."""
    return RuleOutcome(
        change=change,
        kind="fresh",
        anchor=None,
        boundary=None,
        position=-1,
        brief=brief,
        why=why,
    )


def no_reset_for(change: Change, why: str) -> RuleOutcome:
    return RuleOutcome(change=change, kind="none", anchor=None, boundary=None, position=0, why=why)
