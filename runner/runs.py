"""Reading runs through the engine: which run to pin, its history (kept once the run closed),
its children's, the plan for a change, and the LLM usage a trace records.

Shared by the daemon and the one-shot commands; thread-safe. Nothing here writes to the engine;
the only file writes are the state file's (a new pin, usage), under its lock and with no
network call made while the lock is held.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from runner.config import WorkflowConfig
from runner.engine import Engine
from runner.errors import ApiError, NoRunYet, NotStarted, RunnerError, StateError
from runner.history import RunHistory
from runner.pins import Pin, is_child_id
from runner.plan import Change, Decision, plan
from runner.state import StateStore
from runner.usage import usage_by_step

log = logging.getLogger(__name__)

MAX_CHILDREN = 64  # child histories read to find a re-run step that is not the parent's
CHILD_DEPTH = 6
CLOSED_HISTORIES = 16  # at least; a watch keeps two per pinned run (the pin and its previous)


@dataclass(frozen=True, slots=True, kw_only=True)
class Resolved:
    pin: Pin
    source: str  # "state", "config" or "latest"


class Runs:
    def __init__(self, engine: Engine, store: StateStore) -> None:
        self.engine = engine
        self.store = store
        # Closed runs never change: their histories are kept, so a reset of a finished run
        # does not read the whole history again (the slow part of reacting to an edit).
        self._closed: OrderedDict[tuple[str, str], RunHistory] = OrderedDict()
        self.keep = CLOSED_HISTORIES
        self._lock = threading.Lock()

    # -- the pin ----------------------------------------------------------------------------

    def current_pin(self, workflow: WorkflowConfig) -> Pin | None:
        """The state file's pin for this entry, if it still pins what the config says."""
        saved = self.store.load().get(workflow.key)
        if saved is not None and saved.fingerprint == workflow.fingerprint():
            return saved
        return None

    def resolve(
        self, workflow: WorkflowConfig, hashes: Mapping[str, str | None], *, persist: bool = True
    ) -> Resolved:
        """The state file's pin if it still matches the config, else the config's run, else
        the latest run; a new pin is saved (unless `persist` is off) with `hashes` as its
        baseline, so the next start can tell what changed meanwhile."""
        saved = self.current_pin(workflow)
        if saved is not None:
            return Resolved(pin=saved, source="state")
        workflow_id, run_id, source = self._lookup(workflow)
        pin = Pin(
            workflow_id=workflow_id,
            run_id=run_id,
            fingerprint=workflow.fingerprint(),
            hashes=dict(hashes),
        )
        if persist:
            with self.store.lock():
                raced = self.current_pin(workflow)
                if raced is not None:
                    return Resolved(pin=raced, source="state")
                self.save(workflow, pin)
        return Resolved(pin=pin, source=source)

    def save(self, workflow: WorkflowConfig, pin: Pin, *, durable: bool = True) -> None:
        """Persist the pin (callers hold the lock); if the state file cannot be written, go
        on with the pin in memory."""
        try:
            self.store.save(workflow.key, pin, durable=durable)
        except StateError as exc:
            self.store.warn_once(f"{exc}; keeping the pin in memory only")

    def _lookup(self, workflow: WorkflowConfig) -> tuple[str, str, str]:
        if workflow.case is not None:
            return self._case_run(workflow)
        if workflow.id is not None:
            if workflow.run is not None:
                return workflow.id, workflow.run, "config"
            latest = self.engine.status(workflow.id)
            return workflow.id, latest.run_id, "latest"
        assert workflow.type is not None
        runs = self.engine.runs_of_type(workflow.type)
        if workflow.run is not None:
            # The runs list cannot be filtered by run id; find the run among the type's runs.
            for row in runs:
                if row.run_id == workflow.run:
                    return row.workflow_id, row.run_id, "config"
            raise ApiError(f"run {workflow.run} is not a run of workflow type {workflow.type}")
        # A child execution's run is not a pin: a reset through it leaves the parent unchanged.
        roots = [row for row in runs if not is_child_id(row.workflow_id)]
        if runs and not roots:
            raise RunnerError(
                f"workflow type {workflow.type} has only run as a child of another workflow; "
                "pin the workflow that starts it instead (its files go in that entry's rules)"
            )
        if not roots:
            raise NoRunYet(
                f"no run of workflow type {workflow.type} exists yet; start one with "
                f"`npx output workflow run {workflow.type}`"
            )
        return roots[0].workflow_id, roots[0].run_id, "latest"

    def _case_run(self, workflow: WorkflowConfig) -> tuple[str, str, str]:
        """A dataset case's run: the latest under its workflow id, if it ran the case's input
        (an edited dataset file changes the input: the case then needs a new run)."""
        case_id, given = workflow.id, workflow.case_input
        if case_id is None or given is None:
            raise RunnerError(f"{workflow.label} is not a dataset case")
        try:
            latest = self.engine.status(case_id)
        except ApiError as exc:
            if exc.status != 404 and exc.error != "NOT_FOUND":
                raise
            raise NotStarted(f"no run of this case under {case_id} yet") from None
        if self.engine.run_input(case_id, latest.run_id) != json.loads(given):
            raise NotStarted(f"its input changed since run {latest.run_id}")
        return case_id, latest.run_id, "latest"

    # -- histories --------------------------------------------------------------------------

    def history(self, workflow_id: str, run_id: str) -> RunHistory:
        """A run's history: kept from earlier if the run had closed, else read now."""
        with self._lock:
            kept = self._closed.get((workflow_id, run_id))
            if kept is not None:
                self._closed.move_to_end((workflow_id, run_id))
                return kept
        history = self.engine.history(workflow_id, run_id)
        self.remember(history)
        return history

    def remember(self, history: RunHistory) -> None:
        """Keep a closed run's history (a follower hands over the run it followed)."""
        if not history.closed:
            return
        with self._lock:
            self._closed[(history.workflow_id, history.run_id)] = history
            while len(self._closed) > self.keep:
                self._closed.popitem(last=False)

    def load(
        self, pin: Pin, changes: Sequence[Change] = (), *, children: bool = False
    ) -> tuple[RunHistory, dict[str, RunHistory]]:
        """The pinned run's history, plus its children's when a re-run step is not in it (or
        when `children` asks for them)."""
        history = self.history(pin.workflow_id, pin.run_id)
        wanted = [c.rule.step for c in changes if c.rule.action == "rerun"]
        found: dict[str, RunHistory] = {}
        if children or any(not history.occurrences(step) for step in wanted):
            self._load_children(history, found, depth=0)
        return history, found

    def _load_children(
        self, history: RunHistory, into: dict[str, RunHistory], *, depth: int
    ) -> None:
        if depth > CHILD_DEPTH:
            return
        for child in history.children:
            if len(into) >= MAX_CHILDREN or child.run_id is None or child.workflow_id in into:
                continue
            sub = self.history(child.workflow_id, child.run_id)
            into[child.workflow_id] = sub
            self._load_children(sub, into, depth=depth + 1)

    def decide(self, pin: Pin, changes: Sequence[Change]) -> Decision:
        history, children = self.load(pin, changes)
        return plan(changes, history, children, by_event=self.engine.resets_by_event)

    # -- LLM usage, read while the trace is whole ---------------------------------------------

    def remember_usage(self, workflow_id: str, run_id: str) -> int:
        """Keep the LLM usage of the run's steps (best effort; returns how many were found).

        Traces carry usage, and a reset overwrites them (docs/output-api.md): read them when a
        run is pinned or finishes, before the next reset."""
        try:
            tree = self.engine.trace(workflow_id, run_id)
        except ApiError as exc:
            log.info("no trace for run %s: %s", run_id, exc)
            return 0
        found = usage_by_step(tree) if tree is not None else {}
        if found:
            with self.store.lock():
                self.store.merge_usage(workflow_id, {k: u.to_json() for k, u in found.items()})
        return len(found)
