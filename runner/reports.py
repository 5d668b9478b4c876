"""What the daemon reports as it works, and what carrying out a decision did (pure data).

The daemon and its helpers produce these; the views (`view.py`, the demo) render them. Nothing
here does anything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from runner.compare import OutputDiff
from runner.evals import Matrix
from runner.history import Activity
from runner.pins import Pin
from runner.plan import Decision
from runner.usage import Savings, Totals


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """What applying a decision did."""

    decision: Decision
    pin: Pin
    new_run_id: str | None
    reason: str | None
    recovered: bool = False
    savings: Savings | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Ready:
    files: int
    workflows: int
    watches: int
    runs: int = 0  # pinned runs (more than workflows with `datasets:` or an `id:` list)


@dataclass(frozen=True, slots=True)
class Pinned:
    label: str
    workflow_id: str
    run_id: str
    source: str
    status: str | None


@dataclass(frozen=True, slots=True)
class Changed:
    files: tuple[str, ...]
    catch_up: bool = False


@dataclass(frozen=True, slots=True)
class WaitingForWorker:
    label: str
    files: tuple[str, ...]
    md_only: bool
    timeout_s: float


@dataclass(frozen=True, slots=True)
class Decided:
    """One line per decision: files, rule, anchor and why, and the new run when there is one."""

    label: str
    decision: Decision
    outcome: Outcome | None  # None in a dry run


@dataclass(frozen=True, slots=True)
class CaseDecided:
    """What one case of a fanned-out entry got in a burst: a decision carried out (or a dry
    run's), or the reason none was."""

    label: str  # the case's slot label, e.g. "blog_evaluator/basic"
    decision: Decision | None
    outcome: Outcome | None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class CasesDecided:
    """One summary for a burst of a fanned-out entry (dataset cases, or a list of ids)."""

    label: str  # the entry, e.g. "blog_evaluator"
    cases: tuple[CaseDecided, ...]


@dataclass(frozen=True, slots=True)
class Evaluated:
    """The entry's eval workflow judged the iteration's outputs."""

    label: str
    eval_workflow: str
    matrix: Matrix
    run_id: str | None = None
    output: Any = None  # the EvalOutput as it came, kept with the iteration
    baseline: bool = False  # the runs as they were before any save
    unjudged: tuple[str, ...] = ()  # cases asked for that the EvalOutput has no verdict for


@dataclass(frozen=True, slots=True)
class Recorded:
    """An iteration was kept in .output-reset/iterations.jsonl as number `n`."""

    n: int
    workflow: str
    hint: bool = False  # the first of the session: say what the number is for


@dataclass(frozen=True, slots=True)
class StepDone:
    workflow_id: str
    run_id: str
    activity: Activity
    case: str | None = None  # the case (or id) of a fanned-out entry the run belongs to


@dataclass(frozen=True, slots=True)
class RunFinished:
    workflow_id: str
    run_id: str
    status: str
    seconds: float | None
    case: str | None = None


@dataclass(frozen=True, slots=True)
class RunCompared:
    """After a reset run finished: its outputs against the run it replaced."""

    workflow_id: str
    run_id: str
    previous_run_id: str
    diffs: tuple[OutputDiff, ...]
    result: Any
    case: str | None = None


@dataclass(frozen=True, slots=True)
class SessionSummary:
    """On exit: what this session's resets saved."""

    totals: Totals


@dataclass(frozen=True, slots=True)
class Notice:
    """Something went wrong or needs attention; the daemon keeps going."""

    message: str
    level: str = "warning"  # "warning" or "error"


@dataclass(frozen=True, slots=True)
class ConfigReloaded:
    path: str


Report = (
    Ready
    | Pinned
    | Changed
    | WaitingForWorker
    | Decided
    | StepDone
    | RunFinished
    | RunCompared
    | Notice
    | ConfigReloaded
    | SessionSummary
    | CasesDecided
    | Evaluated
    | Recorded
)
Reporter = Callable[[Report], None]
