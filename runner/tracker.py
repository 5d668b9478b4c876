"""One pinned run's state machine (pure core: no threads, no clock, no I/O).

A `Tracker` follows its edits that are not dealt with yet (by rule, with the content hash each
file had), its pin, the one job it may have out (a pin lookup or a reset), its retry time and
the run being followed. Its methods are transitions on plain data that return `Action`s; the
`Board` (board.py) routes events to trackers and holds what they share.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from runner.actions import (
    Action,
    Digest,
    FollowRun,
    PinResult,
    PinRun,
    ResetRun,
    Routes,
    Say,
    StartRun,
    Warm,
)
from runner.config import WorkflowConfig
from runner.pathnames import file_list
from runner.pins import Pin
from runner.plan import Change
from runner.reports import Changed, Notice, Pinned

MAX_RETRY_S = 30.0  # backoff ceiling while the API is unreachable


@dataclass(slots=True)
class Tracker:
    """One pinned run: what changed and is not dealt with yet, and what is under way."""

    serial: int  # unique for the daemon's life: job results find their tracker by it
    workflow: WorkflowConfig
    index: int  # the workflow's position in the config (rules map to it)
    entry: WorkflowConfig | None = None  # the config entry, when it fans out into several runs
    catch_up: bool = True  # on the first pin, look for edits made while we were not running
    pin: Pin | None = None
    running: bool = False  # the pinned run was running when it was pinned
    pending: dict[int, dict[str, Digest]] = field(default_factory=dict)  # rule -> file -> hash
    sent: dict[str, Digest] = field(default_factory=dict)  # what the job under way carries
    busy: bool = False  # a pin or reset job is out
    held: bool = False  # waits for Output's worker
    retry_at: float | None = None
    failures: int = 0
    no_run_yet: bool = False
    to_start: bool = False  # a dataset case with no run with its input: start one
    following: str | None = None
    caught_up: tuple[str, ...] = ()
    told_waiting: bool = False
    told_unpinned: bool = False
    ended: tuple[str, str | None, Any] | None = None  # the last followed run, status, output

    @property
    def closed(self) -> bool:
        """The pinned run has ended: it was closed when pinned, or its follower saw the end."""
        if self.pin is None:
            return False
        if self.ended is not None and self.ended[0] == self.pin.run_id:
            return self.ended[1] is not None
        return not self.running

    @property
    def label(self) -> str:
        return self.workflow.label

    def files(self) -> tuple[str, ...]:
        return tuple(sorted({f for files in self.pending.values() for f in files}))

    def changes(self) -> tuple[Change, ...]:
        rules = self.workflow.rules
        return tuple(
            Change(rule=rules[i], files=tuple(sorted(files)))
            for i, files in sorted(self.pending.items())
        )

    def rules_for(self, routes: Routes, rel: str) -> list[int]:
        return [r.rule for r in routes.rules_for(rel) if r.workflow == self.index]

    def add(self, rule: int, rel: str, digest: Digest) -> None:
        self.pending.setdefault(rule, {})[rel] = digest

    # -- pinning --------------------------------------------------------------------------

    def pin_job(self) -> PinRun:
        self.busy = True
        return PinRun(self.serial, self.workflow, self.index, self.files())

    def start_job(self) -> StartRun:
        """A dataset case with no run with its input: start one."""
        self.busy = True
        return StartRun(self.serial, self.workflow, self.index, self.files())

    def pinned(self, result: PinResult, routes: Routes) -> Say:
        self.busy = False
        self.failures = 0
        self.retry_at = None
        self.no_run_yet = False
        self.told_unpinned = False
        pin = self.pin = result.pin
        self.running = result.status == "running"
        if self.catch_up and result.source == "state":
            self._catch_up(pin, result.hashes, routes)
        self.catch_up = False
        return Say(Pinned(self.label, pin.workflow_id, pin.run_id, result.source, result.status))

    def _catch_up(self, pin: Pin, hashes: Mapping[str, Digest], routes: Routes) -> None:
        """Edits made while output-reset was not running: files whose content differs from
        the hashes recorded when the pin last moved (a file that is gone counts too)."""
        stale = {f: h for f, h in hashes.items() if pin.hashes.get(f, h) != h}
        stale |= {f: None for f, h in pin.hashes.items() if h is not None and f not in hashes}
        mine: list[str] = []
        for rel, digest in sorted(stale.items()):
            for rule in self.rules_for(routes, rel):
                self.add(rule, rel, digest)
                mine.append(rel)
        self.caught_up = tuple(dict.fromkeys(mine))

    def begin(self, now: float, *, dry_run: bool) -> list[Action]:
        """The run was just pinned and the daemon is ready: catch up on edits, or follow the
        run, or read it ahead so that the first edit need not."""
        assert self.pin is not None
        actions: list[Action] = []
        if self.caught_up:
            actions.append(Say(Changed(files=self.caught_up, catch_up=True)))
            self.caught_up = ()
        if self.pending:
            actions += self.process(now, dry_run=dry_run)
        elif self.running:
            actions.append(self.follow(self.pin.workflow_id, self.pin.run_id))
        else:
            actions.append(Warm(self.serial, self.pin, self.workflow))
        return actions

    # -- resetting ------------------------------------------------------------------------

    def process(self, now: float, *, dry_run: bool) -> list[Action]:
        """Send the pending edits off to be reset (or planned), unless something is under
        way, the worker is being waited for, or there is no pin yet (then look for one)."""
        if not self.pending or self.busy or self.held:
            return []
        if self.pin is None:
            if self.retry_at is None:
                self.retry_at = now
            if self.told_unpinned:
                return []
            self.told_unpinned = True
            files = file_list(self.files())
            return [
                Say(
                    Notice(
                        f"{self.label}: {files} changed; no run is pinned yet, so the change "
                        "waits until one is",
                        level="info",
                    )
                )
            ]
        self.busy = True
        self.sent = {f: h for files in self.pending.values() for f, h in files.items()}
        return [
            ResetRun(self.serial, self.workflow, self.pin, self.changes(), dict(self.sent), dry_run)
        ]

    def job_back(self, *, dealt_with: bool) -> bool:
        """The job is back. What it carried is no longer pending if it was dealt with,
        unless the file changed again meanwhile: then its newer content still waits. True
        when something changed while the job was out (an edit the job did not carry)."""
        newer = any(
            rel not in self.sent or self.sent[rel] != digest
            for files in self.pending.values()
            for rel, digest in files.items()
        )
        self.busy = False
        if dealt_with:
            for rule in list(self.pending):
                files = self.pending[rule]
                for rel, digest in self.sent.items():
                    if rel in files and files[rel] == digest:
                        del files[rel]
                if not files:
                    del self.pending[rule]
        self.sent = {}
        return newer

    def back_off(self, now: float) -> None:
        """The API could not be reached: try again later, waiting longer each time."""
        self.failures += 1
        self.retry_at = now + min(MAX_RETRY_S, 2.0**self.failures)

    # -- following ------------------------------------------------------------------------

    def follow(
        self,
        workflow_id: str,
        run_id: str,
        *,
        previous: str | None = None,
        rerun: tuple[str, ...] = (),
    ) -> FollowRun:
        self.following = run_id
        case = (self.workflow.case or self.workflow.id) if self.entry is not None else None
        return FollowRun(self.serial, workflow_id, run_id, previous, rerun, case)
