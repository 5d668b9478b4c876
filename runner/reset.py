"""Carry out decisions: find the pin, read the run, reset exactly once, re-pin.

Shared by the daemon and the one-shot commands. The pin lives in the state file and every
reset happens under its lock, so `output-reset reset` in one terminal and `watch` in another
never reset the same run twice or lose each other's new run id.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from runner.config import Config, WorkflowConfig
from runner.engine import Engine
from runner.errors import ApiError, ResetOutcomeUnknown, RunnerError, StateError
from runner.history import RunHistory
from runner.pins import InFlight, Pin
from runner.plan import Change, Decision, plan
from runner.reports import Outcome
from runner.state import StateStore
from runner.usage import Savings, savings, usage_by_step

log = logging.getLogger(__name__)

MAX_CHILDREN = 20
CLOSED_HISTORIES = 16
RECOVERY_ATTEMPTS = 3


class OtherRunRunning(RunnerError):
    """A run other than the pin is running under the workflow id; a reset would kill it."""


class SideEffectsDeclined(RunnerError):
    """The reset would re-run a step marked `side_effects` and nobody said yes."""


Confirm = Callable[[list[str]], bool]


@dataclass(frozen=True, slots=True, kw_only=True)
class Resolved:
    pin: Pin
    source: str  # "state", "config" or "latest"


class Resetter:
    def __init__(
        self,
        config: Config,
        engine: Engine,
        store: StateStore,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self.engine = engine
        self.store = store
        self._sleep = sleep
        # Closed runs never change: their histories are kept, so a reset of a finished run
        # does not read the whole history again (the slow part of reacting to an edit).
        self._closed: OrderedDict[tuple[str, str], RunHistory] = OrderedDict()
        self._closed_lock = threading.Lock()

    # -- the pin ----------------------------------------------------------------------------

    def resolve(
        self, workflow: WorkflowConfig, hashes: Mapping[str, str | None], *, persist: bool = True
    ) -> Resolved:
        """The state file's pin if it still matches the config, else the config's run, else
        the latest run; a new pin is saved (unless `persist` is off) with `hashes` as its
        baseline, so the next start can tell what changed meanwhile."""
        saved = self.current_pin(workflow)
        if saved is not None:
            if saved.in_flight is not None and persist:
                with self.store.lock():
                    saved = self.current_pin(workflow) or saved
                    self._settle_in_flight(workflow, saved)
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
                if (raced := self.current_pin(workflow)) is not None:
                    return Resolved(pin=raced, source="state")
                self._save(workflow, pin)
        return Resolved(pin=pin, source=source)

    def current_pin(self, workflow: WorkflowConfig) -> Pin | None:
        saved = self.store.load().get(workflow.key)
        if saved is not None and saved.fingerprint == workflow.fingerprint():
            return saved
        return None

    def _lookup(self, workflow: WorkflowConfig) -> tuple[str, str, str]:
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
        if not runs:
            raise ApiError(
                f"no run of workflow type {workflow.type} exists yet; start one with "
                f"`npx output workflow run {workflow.type}`"
            )
        return runs[0].workflow_id, runs[0].run_id, "latest"

    # -- reading ----------------------------------------------------------------------------

    def history(self, workflow_id: str, run_id: str) -> RunHistory:
        """A run's history: kept from earlier if the run had closed, else read now."""
        with self._closed_lock:
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
        with self._closed_lock:
            self._closed[(history.workflow_id, history.run_id)] = history
            while len(self._closed) > CLOSED_HISTORIES:
                self._closed.popitem(last=False)

    def load(
        self, pin: Pin, changes: Sequence[Change] = ()
    ) -> tuple[RunHistory, dict[str, RunHistory]]:
        """The pinned run's history, plus its children's when a re-run step is not in it."""
        history = self.history(pin.workflow_id, pin.run_id)
        wanted = [c.rule.step for c in changes if c.rule.action == "rerun"]
        children: dict[str, RunHistory] = {}
        if any(not history.occurrences(step) for step in wanted):
            self._load_children(history, children, depth=0)
        return history, children

    def _load_children(
        self, history: RunHistory, into: dict[str, RunHistory], *, depth: int
    ) -> None:
        if depth > 3:
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

    # -- doing ------------------------------------------------------------------------------

    def apply(
        self,
        workflow: WorkflowConfig,
        changes: Sequence[Change],
        *,
        pin: Pin,
        hashes: Mapping[str, str | None],
        reason: str | None = None,
        decision: Decision | None = None,
        confirm: Confirm | None = None,
        before_send: Callable[[], None] | None = None,
    ) -> Outcome:
        """Plan against the pin and carry the decision out, under the state lock.

        The state file's pin wins over `pin` (another output-reset may have reset meanwhile).
        `hashes` are the contents the change is based on; they become the pin's baseline once
        the change is dealt with (reset done, or no reset needed). A reset that would re-run
        a step marked `side_effects` needs `confirm` to say yes. Every outcome is logged.
        """
        with self.store.lock():
            pin = self.current_pin(workflow) or pin
            self._settle_in_flight(workflow, pin)
            old_run = pin.run_id
            self._refuse_if_another_run(pin)
            if decision is None:
                decision = self.decide(pin, changes)
            if decision.kind == "none":
                self._settle(workflow, pin, hashes)
                outcome = Outcome(decision=decision, pin=pin, new_run_id=None, reason=None)
                self._log(workflow, outcome, old_run)
                return outcome
            try:
                notes = self._guard(workflow, decision, confirm)
            except SideEffectsDeclined as exc:
                self._settle(workflow, pin, hashes)  # deliberately not done, and said so
                self._log(workflow, None, old_run, decision=decision, error=str(exc))
                raise
            savings = self.savings(pin.workflow_id, decision)
            token = "or-" + secrets.token_hex(4)
            text = f"{reason or _default_reason(decision)} [{token}]"
            # Write-ahead: if we die before the answer, the next start finds the run by token.
            pin.in_flight = InFlight(token=token, base_run_id=pin.run_id, hashes=dict(hashes))
            # Not fsynced: it guards against this process dying, which the page cache survives;
            # the pin saved after the answer is.
            self._save(workflow, pin, durable=False)
            if before_send is not None:
                before_send()
            try:
                new_run, recovered = self._execute(pin, decision, text, token)
            except ResetOutcomeUnknown as exc:
                self._log(workflow, None, old_run, decision=decision, error=str(exc))
                raise  # the in-flight record stays: the next attempt looks for the run first
            except RunnerError as exc:
                pin.in_flight = None  # refused or never sent: nothing happened
                self._save(workflow, pin)
                self._log(workflow, None, old_run, decision=decision, error=str(exc))
                raise
            pin.run_id = new_run
            pin.in_flight = None
            self._settle(workflow, pin, hashes)
            outcome = Outcome(
                decision=decision,
                pin=pin,
                new_run_id=new_run,
                reason=text,
                recovered=recovered,
                savings=savings,
                notes=notes,
            )
            self._log(workflow, outcome, old_run)
            return outcome

    def _settle_in_flight(self, workflow: WorkflowConfig, pin: Pin) -> None:
        """A reset was sent but its answer never recorded (lost, or we were killed): find
        the run it created, by token, and pin it; if there is none, it did not happen."""
        flight = pin.in_flight
        if flight is None:
            return
        found = self._recover(pin, flight.token, base_run_id=flight.base_run_id)
        if found is not None:
            log.warning(
                "a reset sent earlier created run %s (found by %s); pinned it", found, flight.token
            )
            pin.run_id = found
            pin.hashes.update(flight.hashes)
        pin.in_flight = None
        self._save(workflow, pin)

    def _refuse_if_another_run(self, pin: Pin) -> None:
        latest = self.engine.status(pin.workflow_id)
        if latest.running and latest.run_id != pin.run_id:
            raise OtherRunRunning(
                f"{pin.workflow_id}: run {latest.run_id} is running (started outside "
                f"output-reset); not resetting the pinned run {pin.run_id}, which would "
                "terminate it. Stop it, or pin it with `output-reset reset`"
            )

    def _guard(
        self, workflow: WorkflowConfig, decision: Decision, confirm: Confirm | None
    ) -> tuple[str, ...]:
        risky = [s for s in decision.rerun if s in workflow.side_effects]
        if risky and (confirm is None or not confirm(risky)):
            names = ", ".join(risky)
            files = " ".join(f"--file {f}" for f in decision.files) or "--step ..."
            raise SideEffectsDeclined(
                f"skipped: this reset would run {names} again, which is marked "
                f"side_effects: true; to do it anyway: output-reset reset {files} --yes"
            )
        kept = dict.fromkeys(a.step for a in decision.kept if a.step in workflow.side_effects)
        return tuple(
            f"{step} is replayed from history, not run again: its side effects are not repeated"
            for step in kept
        )

    def _execute(self, pin: Pin, decision: Decision, text: str, token: str) -> tuple[str, bool]:
        if decision.kind == "fresh":
            return self._fresh_run(pin, text), False
        try:
            new_run = self.engine.reset(
                pin.workflow_id,
                pin.run_id,
                step=decision.anchor,
                event_id=decision.boundary,
                reason=text,
            )
        except ResetOutcomeUnknown as lost:
            found = self._recover(pin, token)
            if found is None:
                raise ResetOutcomeUnknown(
                    f"{lost}; no run created by it was found (looked for {token}), so "
                    "the change stays pending",
                    retryable=False,
                ) from None
            return found, True
        return new_run, False

    def _settle(self, workflow: WorkflowConfig, pin: Pin, hashes: Mapping[str, str | None]) -> None:
        pin.hashes.update(hashes)
        self._save(workflow, pin)

    def _save(self, workflow: WorkflowConfig, pin: Pin, *, durable: bool = True) -> None:
        """Persist the pin; if the state file cannot be written, go on with it in memory."""
        try:
            self.store.save(workflow.key, pin, durable=durable)
        except StateError as exc:
            self.store.warn_once(f"{exc}; keeping the pin in memory only")

    # -- what a replay saves ----------------------------------------------------------------

    def remember_usage(self, workflow_id: str, run_id: str) -> int:
        """Keep the LLM usage of the run's steps (best effort; returns how many were found)."""
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

    def savings(self, workflow_id: str, decision: Decision) -> Savings:
        return savings(decision.kept, self.store.load_usage(workflow_id))

    def _log(
        self,
        workflow: WorkflowConfig,
        outcome: Outcome | None,
        old_run: str,
        *,
        decision: Decision | None = None,
        error: str | None = None,
    ) -> None:
        chosen = outcome.decision if outcome is not None else decision
        assert chosen is not None
        entry: dict[str, Any] = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "workflow": workflow.label,
            "workflowId": chosen.workflow_id,
            "files": list(chosen.files),
            "rules": [o.change.rule.describe() for o in chosen.outcomes],
            "action": chosen.kind,
            "anchor": chosen.anchor,
            "why": chosen.why,
            "oldRunId": old_run,
            "newRunId": outcome.new_run_id if outcome else None,
        }
        if error is not None:
            entry["outcome"] = "skipped" if error.startswith("skipped:") else "failed"
            entry["error"] = error
        elif outcome is None or outcome.new_run_id is None:
            entry["outcome"] = "no reset"
        else:
            entry["outcome"] = "recovered" if outcome.recovered else "done"
            entry["reason"] = outcome.reason
            if outcome.savings is not None:
                entry["saved"] = outcome.savings.to_json()
        self.store.append_log(entry)

    def _fresh_run(self, pin: Pin, reason: str) -> str:
        history = self.engine.history(pin.workflow_id, pin.run_id)
        if history.workflow_type is None:
            raise RunnerError(f"cannot tell the workflow type of run {pin.run_id}")
        run_input = self.engine.run_input(pin.workflow_id, pin.run_id)
        if not history.closed:
            # Same effect as a reset, which terminates the running run too (CONTRACT §2.1).
            self.engine.terminate(pin.workflow_id, pin.run_id, reason)
        return self.engine.start(history.workflow_type, pin.workflow_id, run_input)

    def _recover(self, pin: Pin, token: str, *, base_run_id: str | None = None) -> str | None:
        """Find the run a reset with a lost answer created, by reading, never by re-sending."""
        base = base_run_id or pin.run_id
        for attempt in range(RECOVERY_ATTEMPTS):
            try:
                found = self.engine.find_reset(pin.workflow_id, base, token)
            except ApiError as exc:
                log.warning("looking for the reset run failed: %s", exc)
                found = None
            if found is not None:
                return found
            if attempt + 1 < RECOVERY_ATTEMPTS:
                self._sleep(0.5 * 2**attempt)  # the new run may take a moment to be listed
        return None


def _default_reason(decision: Decision) -> str:
    files = ", ".join(decision.files) or "files"
    if decision.chosen is None:
        return f"output-reset: {files} changed"
    return f"output-reset: {files} changed ({decision.chosen.rule.describe()})"
