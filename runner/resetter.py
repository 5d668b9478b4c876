"""Carry a decision out: reset exactly once (or start a fresh run), re-pin, log it.

Resets are not idempotent (docs/output-api.md §5.4): a request is never repeated. Before it goes
out, a record naming it by a token is written to the pin (under the state lock, which only
guards file writes: no network call is made while it is held). If the answer is lost, or this
process dies, the run the reset created is found by that token, never by sending again. The
record also tells another output-reset that a reset of this run is on its way.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

from runner.auditlog import AuditLog, entry
from runner.config import WorkflowConfig
from runner.engine import Engine
from runner.errors import (
    ApiError,
    OtherRunRunning,
    ResetInProgress,
    ResetOutcomeUnknown,
    RunnerError,
    SideEffectsDeclined,
)
from runner.pathnames import NAMED, file_list, shown
from runner.pins import InFlight, Pin
from runner.plan import Change, Decision, no_reset, no_reset_for
from runner.reports import Outcome
from runner.runs import Resolved, Runs
from runner.usage import savings

log = logging.getLogger(__name__)

RECOVERY_ATTEMPTS = 3
MAX_REASON = 300  # characters of a reset's reason, its token included
IN_FLIGHT_S = 120.0  # an in-flight record younger than this, of a live process, is under way

Confirm = Callable[[list[str]], bool]


class Resetter:
    def __init__(
        self,
        engine: Engine,
        runs: Runs,
        audit: AuditLog,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.engine = engine
        self.runs = runs
        self.store = runs.store
        self.audit = audit
        self._sleep = sleep

    def resolve(
        self, workflow: WorkflowConfig, hashes: Mapping[str, str | None], *, persist: bool = True
    ) -> Resolved:
        """The pin (see `Runs.resolve`), with a reset left in flight by a previous process
        settled first: the run it created is found by its token and pinned."""
        resolved = self.runs.resolve(workflow, hashes, persist=persist)
        if resolved.pin.in_flight is None or not persist:
            return resolved
        return Resolved(pin=self.settle(workflow, resolved.pin), source=resolved.source)

    def start_case(self, workflow: WorkflowConfig, hashes: Mapping[str, str | None]) -> Resolved:
        """A dataset case's first run (or first with a changed input): start it with the
        case's input under its workflow id, and pin it (source "started")."""
        case_id, case_of, given = workflow.id, workflow.case_of, workflow.case_input
        if case_id is None or case_of is None or given is None:
            raise RunnerError(f"{workflow.label} is not a dataset case")
        run_id = self.engine.start(case_of, case_id, json.loads(given))
        pin = Pin(
            workflow_id=case_id,
            run_id=run_id,
            fingerprint=workflow.fingerprint(),
            hashes=dict(hashes),
        )
        with self.store.lock():
            self.runs.save(workflow, pin)
        return Resolved(pin=pin, source="started")

    def settle(self, workflow: WorkflowConfig, pin: Pin) -> Pin:
        """A reset was sent but its answer never recorded (lost, or we were killed): find
        the run it created by token and pin it; if there is none, it did not happen."""
        flight = pin.in_flight
        if flight is None:
            return pin
        if _under_way(flight):
            raise ResetInProgress(
                f"another output-reset (pid {flight.pid}) is resetting run {flight.base_run_id} "
                "right now; looking again in a moment"
            )
        found = self._recover(pin.workflow_id, flight.base_run_id, flight.token)
        with self.store.lock():
            current = self.runs.current_pin(workflow) or pin
            if current.in_flight is None or current.in_flight.token != flight.token:
                return current  # settled by someone else meanwhile
            if found is not None:
                log.warning(
                    "a reset sent earlier created run %s (found by %s); pinned it",
                    found,
                    flight.token,
                )
                current.run_id = found
                current.hashes.update(flight.hashes)
            current.in_flight = None
            self.runs.save(workflow, current)
            return current

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
        """Plan against the pin and carry the decision out.

        The state file's pin wins over `pin` (another output-reset may have reset meanwhile).
        `hashes` are the contents the change is based on; they become the pin's baseline once
        the change is dealt with (reset done, or no reset needed). A reset that would re-run
        a step marked `side_effects` needs `confirm` to say yes. Every outcome is logged.
        """
        current = self.runs.current_pin(workflow) or pin
        flight = current.in_flight
        pin = self.settle(workflow, current)
        if flight is not None and pin.run_id != flight.base_run_id and flight.hashes == hashes:
            return self._recovered(workflow, changes, flight, pin)
        if hashes and all(f in pin.hashes and pin.hashes[f] == h for f, h in hashes.items()):
            decision = _already_built(pin, changes)
        else:
            self._refuse_if_another_run(pin)
            decision = decision or self.runs.decide(pin, changes)
        if decision.kind == "none":
            self._record_hashes(workflow, pin, hashes)
            outcome = Outcome(decision=decision, pin=pin, new_run_id=None, reason=None)
            self.audit.append(entry(workflow, decision, pin.run_id, outcome=outcome))
            return outcome
        try:
            notes = self._guard(workflow, decision, confirm)
        except SideEffectsDeclined as exc:
            self._record_hashes(workflow, pin, hashes)  # deliberately not done, and said so
            self.audit.append(entry(workflow, decision, pin.run_id, error=str(exc)))
            raise
        return self._send(workflow, pin, decision, hashes, reason, notes, before_send)

    def _recovered(
        self, workflow: WorkflowConfig, changes: Sequence[Change], flight: InFlight, pin: Pin
    ) -> Outcome:
        """The reset of this very change was sent earlier and its answer lost; the run it
        made was found and pinned (settle): that run is the outcome, as if answered now."""
        base = replace(pin, run_id=flight.base_run_id, hashes={}, in_flight=None)
        decision = self.runs.decide(base, changes)
        outcome = Outcome(
            decision=decision,
            pin=pin,
            new_run_id=pin.run_id,
            reason=None,
            recovered=True,
            savings=savings(decision.kept, self.store.load_usage(pin.workflow_id)),
        )
        self.audit.append(entry(workflow, decision, flight.base_run_id, outcome=outcome))
        return outcome

    def _send(
        self,
        workflow: WorkflowConfig,
        pin: Pin,
        decision: Decision,
        hashes: Mapping[str, str | None],
        reason: str | None,
        notes: tuple[str, ...],
        before_send: Callable[[], None] | None,
    ) -> Outcome:
        old_run = pin.run_id
        saved = savings(decision.kept, self.store.load_usage(pin.workflow_id))
        token = "or-" + secrets.token_hex(4)
        text = _with_token(reason or default_reason(decision), token)
        self._claim(workflow, pin, InFlight(token=token, base_run_id=old_run, hashes=dict(hashes)))
        if before_send is not None:
            before_send()
        try:
            new_run, recovered = self._execute(pin, decision, text, token)
        except ResetOutcomeUnknown as exc:
            self.audit.append(entry(workflow, decision, old_run, error=str(exc)))
            raise  # the in-flight record stays: the next attempt looks for the run first
        except RunnerError as exc:
            with self.store.lock():
                pin.in_flight = None  # refused or never sent: nothing happened
                self.runs.save(workflow, pin)
            self.audit.append(entry(workflow, decision, old_run, error=str(exc)))
            raise
        with self.store.lock():
            pin.run_id = new_run
            pin.in_flight = None
            pin.hashes.update(hashes)
            self.runs.save(workflow, pin)
        outcome = Outcome(
            decision=decision,
            pin=pin,
            new_run_id=new_run,
            reason=text,
            recovered=recovered,
            savings=saved,
            notes=notes,
        )
        self.audit.append(entry(workflow, decision, old_run, outcome=outcome))
        return outcome

    def _claim(self, workflow: WorkflowConfig, pin: Pin, flight: InFlight) -> None:
        """Write-ahead: record the reset before it is sent, if the pin is still ours to move.

        Not fsynced: it guards against this process dying, which the page cache survives;
        the pin saved after the answer is."""
        with self.store.lock():
            current = self.runs.current_pin(workflow)
            if current is not None and current.in_flight is not None:
                raise ResetInProgress(
                    f"another output-reset (pid {current.in_flight.pid}) is resetting run "
                    f"{current.run_id} right now; looking again in a moment"
                )
            if current is not None and current.run_id != pin.run_id:
                raise ResetInProgress(
                    f"the pin moved from run {pin.run_id} to {current.run_id} meanwhile "
                    "(another output-reset reset it); looking again"
                )
            flight.pid, flight.since = os.getpid(), time.time()
            pin.in_flight = flight
            self.runs.save(workflow, pin, durable=False)

    def _record_hashes(
        self, workflow: WorkflowConfig, pin: Pin, hashes: Mapping[str, str | None]
    ) -> None:
        if not hashes:
            return
        with self.store.lock():
            pin.hashes.update(hashes)
            self.runs.save(workflow, pin)

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
            raise SideEffectsDeclined(
                f"skipped: this reset would run {names} again, which is marked "
                f"side_effects: true; to do it anyway: output-reset reset {_by_hand(decision)} "
                "--yes"
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
            try:
                found = self._recover(pin.workflow_id, pin.run_id, token)
            except ApiError:
                # Not "it did not happen": the in-flight record stays, and the next attempt
                # looks for the run before anything is sent again.
                raise ResetOutcomeUnknown(
                    f"{lost}; the API stopped answering before the run it made could be "
                    f"looked for: will look for it (by {token}) once the API answers",
                    retryable=True,
                ) from None
            if found is None:
                raise ResetOutcomeUnknown(
                    f"{lost}; no run created by it was found (looked for {token}): if it "
                    "shows up later, the next start pins it",
                    retryable=False,
                ) from None
            return found, True
        return new_run, False

    def _fresh_run(self, pin: Pin, reason: str) -> str:
        history = self.runs.history(pin.workflow_id, pin.run_id)
        if history.workflow_type is None:
            raise RunnerError(f"cannot tell the workflow type of run {pin.run_id}")
        run_input = self.engine.run_input(pin.workflow_id, pin.run_id)
        if not history.closed:
            # Same effect as a reset, which terminates the running run too.
            self.engine.terminate(pin.workflow_id, pin.run_id, reason)
        return self.engine.start(history.workflow_type, pin.workflow_id, run_input)

    def _recover(self, workflow_id: str, base_run_id: str, token: str) -> str | None:
        """Find the run a reset with a lost answer created, by reading, never by re-sending.
        None: the API answered, and there is none. The API's last error when it never
        answered: nobody can tell yet whether the reset happened."""
        failure: ApiError | None = None
        for attempt in range(RECOVERY_ATTEMPTS):
            try:
                found = self.engine.find_reset(workflow_id, base_run_id, token)
            except ApiError as exc:
                log.info("looking for the reset run failed: %s", exc)
                failure, found = failure or exc, None
            else:
                failure = None
                if found is not None:
                    return found
            if attempt + 1 < RECOVERY_ATTEMPTS:
                self._sleep(0.5 * 2**attempt)  # the new run may take a moment to be listed
        if failure is not None:
            raise failure
        return None


def _under_way(flight: InFlight) -> bool:
    """The record belongs to another live process that sent it moments ago."""
    if flight.pid in (0, os.getpid()) or time.time() - flight.since > IN_FLIGHT_S:
        return False
    try:
        os.kill(flight.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _already_built(pin: Pin, changes: Sequence[Change]) -> Decision:
    """No reset: the pinned run already ran on exactly this content."""
    why = (
        f"run {pin.run_id} already ran on this content (it was reset for it, or the edit "
        "was undone)"
    )
    outcomes = tuple(no_reset_for(c, why) for c in changes)
    return no_reset(pin.workflow_id, pin.run_id, why, outcomes)


def default_reason(decision: Decision) -> str:
    files = file_list(decision.files) or "files"
    if decision.chosen is None:
        return f"output-reset: {files} changed"
    return f"output-reset: {files} changed ({decision.chosen.rule.describe()})"


def _with_token(reason: str, token: str) -> str:
    """The reason as sent: at most MAX_REASON characters, and never without its token (the
    run a lost reset created is found by it)."""
    room = MAX_REASON - len(token) - len(" []")
    if len(reason) > room:
        reason = reason[: room - 1] + "…"
    return f"{reason} [{token}]"


def _by_hand(decision: Decision) -> str:
    """The `output-reset reset` arguments that do this reset by hand."""
    if decision.files and len(decision.files) <= NAMED:
        return " ".join(f"--file {shown(f)}" for f in decision.files)
    return f"--step {decision.anchor or '...'}"  # thousands of --file would not do
