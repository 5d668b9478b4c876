"""What the board (board.py) asks the daemon to do, and what it is told back (pure data).

Each `Action` is carried out by `effects.py` on a thread of its own; its result comes back to
the board as the next event. `Routes` and `Settings` are what the board is given at the start.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from runner.config import RuleRef, WorkflowConfig
from runner.pins import Pin
from runner.plan import Change
from runner.reports import Report

WORKER_TIMEOUT_S = 60.0

Digest = str | None  # a file's content hash; None: the file is gone


# -- what the board asks the daemon to do ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Say:
    report: Report


@dataclass(frozen=True, slots=True)
class Announce:
    """Every pin was tried once: say the daemon is ready."""


@dataclass(frozen=True, slots=True)
class PinRun:
    """Find the run to pin. A new pin's baseline is the mapped files' content now, but for
    `pending` files: what the run ran on before those edits is not known."""

    serial: int
    workflow: WorkflowConfig
    index: int  # its position in the config: which rules map to it
    pending: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Warm:
    """Read a finished pinned run now (history, LLM usage), so the first edit need not; and
    check the entry's `steps:` names against it."""

    serial: int
    pin: Pin
    workflow: WorkflowConfig


@dataclass(frozen=True, slots=True)
class ResetRun:
    serial: int
    workflow: WorkflowConfig
    pin: Pin
    changes: tuple[Change, ...]
    hashes: Mapping[str, Digest]
    dry_run: bool


@dataclass(frozen=True, slots=True)
class FollowRun:
    serial: int
    workflow_id: str
    run_id: str
    previous: str | None = None  # the run it replaced, to compare outputs with
    rerun: tuple[str, ...] = ()
    case: str | None = None  # which case (or id) of a fanned-out entry the run is


@dataclass(frozen=True, slots=True)
class StopFollowing:
    serial: int


@dataclass(frozen=True, slots=True)
class WaitWorker:
    """Watch Output's worker until it runs code newer than the edits, and say so."""

    ticket: int
    md_only: bool


@dataclass(frozen=True, slots=True)
class EndWait:
    ticket: int


@dataclass(frozen=True, slots=True)
class ObserveWorker:
    """Read which worker (catalog run) is up now, before any edit."""


@dataclass(frozen=True, slots=True)
class StartRun:
    """A dataset case has no run with its input yet: start one (a full run, this once)."""

    serial: int
    workflow: WorkflowConfig  # the case's slot: its workflow id, type and input
    index: int
    pending: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CaseRun:
    """One case of a dataset entry, as its evals see it: its pinned run and that run's output
    (`output_known` False: read it from the run's history)."""

    case: str
    workflow_id: str
    run_id: str
    output: Any = None
    output_known: bool = False


@dataclass(frozen=True, slots=True)
class IterationCase:
    """One pinned run in an iteration: the run it was, the run a reset made of it (None: not
    reset), and how that one ended (`status` None: not followed to its end)."""

    case: str  # the dataset case, or the workflow id of a pin
    workflow_id: str
    old_run_id: str
    new_run_id: str | None
    status: str | None = None
    output: Any = None


@dataclass(frozen=True, slots=True)
class Iteration:
    """A burst that reset something, once every new run has ended: what it is recorded as."""

    workflow: str  # the entry's workflow type, or the pin's label
    files: Mapping[str, Digest]  # the changed files it was built on, by content hash
    cases: tuple[IterationCase, ...]


@dataclass(frozen=True, slots=True)
class RunEvals:
    """Every case's run of an iteration has finished: run the entry's eval workflow (then
    record the iteration with its verdicts)."""

    entry: WorkflowConfig  # the config entry (type: with datasets:)
    cases: tuple[CaseRun, ...]
    iteration: Iteration | None = None
    baseline: bool = False  # before any save: where the cases stand (unless an eval is kept)


@dataclass(frozen=True, slots=True)
class Record:
    """Record an iteration that has no evals to wait for."""

    iteration: Iteration


Action = (
    Say
    | Announce
    | PinRun
    | Warm
    | ResetRun
    | FollowRun
    | StopFollowing
    | WaitWorker
    | EndWait
    | ObserveWorker
    | StartRun
    | RunEvals
    | Record
)


# -- what the board is told -----------------------------------------------------------------


class Routes(Protocol):
    """Which rules map a file, and whether editing it restarts Output's worker."""

    def rules_for(self, rel: str) -> tuple[RuleRef, ...]: ...

    def reloads(self, rel: str) -> bool: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    dry_run: bool = False
    catch_up: bool = True
    wait_worker: bool = True  # edits restart Output's worker and we wait for it to reload
    worker_timeout_s: float = WORKER_TIMEOUT_S


@dataclass(frozen=True, slots=True)
class Slot:
    """One pinned run of the config: entry `index` (`entry`), as `workflow` (one of its
    slots(): the entry itself, one id of its list, or one of its dataset cases)."""

    index: int
    workflow: WorkflowConfig
    entry: WorkflowConfig

    @property
    def fanned(self) -> bool:
        return self.entry.fans_out


def slots_of(
    entries: Sequence[WorkflowConfig], cases: Mapping[int, Sequence[tuple[str, str]]]
) -> list[Slot]:
    """Every pinned run of the config: `cases` gives the dataset cases (name, input JSON) of
    the entries with `datasets:`, by entry index."""
    return [
        Slot(index, workflow, entry)
        for index, entry in enumerate(entries)
        for workflow in entry.slots(cases.get(index, ()))
    ]


@dataclass(frozen=True, slots=True)
class PinResult:
    pin: Pin
    source: str  # "state", "config", "latest" or "started"
    status: str
    hashes: Mapping[str, Digest]  # the mapped files' content now
