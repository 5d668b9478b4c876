"""The daemon's decisions, driven directly: events and `now` in, actions out (no threads, no OS)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

import pytest

from runner.actions import (
    Action,
    Announce,
    EndWait,
    FollowRun,
    ObserveWorker,
    PinResult,
    PinRun,
    ResetRun,
    Say,
    Settings,
    Slot,
    StopFollowing,
    WaitWorker,
    Warm,
    slots_of,
)
from runner.board import FIRST_RUN_POLL_S, Board
from runner.config import RuleRef, WorkflowConfig, parse_config
from runner.errors import (
    ApiError,
    NoRunYet,
    OtherRunRunning,
    ResetInProgress,
    ResetOutcomeUnknown,
    SideEffectsDeclined,
)
from runner.gate import worker_ready
from runner.pins import Pin
from runner.plan import Decision
from runner.reports import (
    Changed,
    Decided,
    Notice,
    Outcome,
    Pinned,
    SessionSummary,
    WaitingForWorker,
)
from runner.usage import Savings

A = TypeVar("A")

CONFIG = """\
workflows:
  - id: blog-1
    rules:
      - files: src/prompts/score@v1.prompt
        rerun: score
      - files: src/steps.ts
        reset_after: fetch
      - files: docs/notes.txt
        rerun: summarize
  - id: digest-1
    rules:
      - files: src/digest/draft.prompt
        rerun: draft
      - files: src/prompts/score@v1.prompt
        rerun: polish
"""
SCORE = "src/prompts/score@v1.prompt"
STEPS = "src/steps.ts"
NOTES = "docs/notes.txt"
DRAFT = "src/digest/draft.prompt"
SKILL = "src/prompts/skills/tone.md"
EDIT_WALL = 1_000.0  # wall clock of the edits in these tests


TABLE: dict[str, tuple[RuleRef, ...]] = {
    SCORE: (RuleRef(0, 0), RuleRef(1, 1)),
    STEPS: (RuleRef(0, 1),),
    NOTES: (RuleRef(0, 2),),
    DRAFT: (RuleRef(1, 0),),
    SKILL: (RuleRef(0, 0),),
}


class Routes:
    """The rules of CONFIG by file, as the daemon's Matcher would answer."""

    def rules_for(self, rel: str) -> tuple[RuleRef, ...]:
        return TABLE.get(rel, ())

    def reloads(self, rel: str) -> bool:
        return rel.startswith("src/")


def slots(text: str = CONFIG, cases: dict[int, list[tuple[str, str]]] | None = None) -> list[Slot]:
    return slots_of(workflows(text), cases or {})


def workflows(text: str = CONFIG) -> tuple[WorkflowConfig, ...]:
    return parse_config(text, path=Path("/p/output-reset.yaml"), shown_as="c").workflows


def board(**settings: object) -> Board:
    return Board(slots(), Routes(), Settings(**settings))  # type: ignore[arg-type]


def only(actions: Sequence[Action], kind: type[A]) -> list[A]:
    return [a for a in actions if isinstance(a, kind)]


def said(actions: Sequence[Action]) -> list[object]:
    return [a.report for a in actions if isinstance(a, Say)]


def notices(actions: Sequence[Action]) -> list[str]:
    return [r.message for r in said(actions) if isinstance(r, Notice)]


def pin(run: str = "run-1", wid: str = "blog-1", **hashes: str | None) -> Pin:
    return Pin(workflow_id=wid, run_id=run, fingerprint="f", hashes=dict(hashes))


def result(p: Pin, status: str = "completed", source: str = "latest") -> PinResult:
    return PinResult(pin=p, source=source, status=status, hashes=dict(p.hashes))


def started(b: Board, *statuses: str) -> list[Action]:
    """Start, and pin every tracker (in order) to a run with the given status."""
    actions = b.start()
    for tracker, status in zip(b.trackers, statuses, strict=True):
        wid = tracker.workflow.id or ""
        actions += b.pinned(0.0, tracker.serial, result(pin(f"{wid}-run", wid), status))
    return actions


def decision(p: Pin, kind: str = "reset") -> Decision:
    return Decision(
        workflow_id=p.workflow_id,
        run_id=p.run_id,
        kind=kind,
        anchor="fetch",
        boundary=18,
        why="because",
        chosen=None,
        outcomes=(),
        rerun=("score",),
    )


def outcome(action: ResetRun, new_run: str | None = "run-2") -> Outcome:
    moved = Pin(
        workflow_id=action.pin.workflow_id,
        run_id=new_run or action.pin.run_id,
        fingerprint="f",
        hashes=dict(action.hashes),
    )
    return Outcome(
        decision=decision(action.pin, "reset" if new_run else "none"),
        pin=moved,
        new_run_id=new_run,
        reason="r",
        savings=Savings(steps=("fetch",), seconds=2.0, tokens=None, cost=None),
    )


# -- start-up -----------------------------------------------------------------------------


def test_start_pins_every_workflow_then_says_ready_and_reads_finished_runs_ahead() -> None:
    b = board()
    first = b.start()
    assert [type(a) for a in first] == [PinRun, PinRun, ObserveWorker]
    one = b.pinned(0.0, b.trackers[0].serial, result(pin("r1")))
    assert [type(r) for r in said(one)] == [Pinned]
    assert not only(one, Announce)  # digest-1 has not answered yet
    two = b.pinned(0.0, b.trackers[1].serial, result(pin("r2", "digest-1"), "running"))
    assert [type(a) for a in two] == [Say, Announce, Warm, FollowRun]
    assert only(two, FollowRun)[0].run_id == "r2"  # a running run is followed at once


def test_without_the_worker_wait_nothing_observes_the_worker() -> None:
    assert not only(board(wait_worker=False).start(), ObserveWorker)
    assert not only(board(dry_run=True).start(), ObserveWorker)


def test_edits_made_while_it_was_not_running_are_caught_up_after_ready() -> None:
    b = board()
    b.start()
    saved = Pin(
        workflow_id="blog-1", run_id="r1", fingerprint="f", hashes={SCORE: "old", STEPS: "same"}
    )
    now_hashes = {SCORE: "new", STEPS: "same"}
    b.pinned(0.0, b.trackers[1].serial, result(pin("r2", "digest-1")))
    actions = b.pinned(
        0.0, b.trackers[0].serial, PinResult(saved, "state", "completed", now_hashes)
    )
    reports = said(actions)
    assert isinstance(reports[0], Pinned)
    assert Changed(files=(SCORE,), catch_up=True) in reports
    resets = only(actions, ResetRun)
    assert [r.hashes for r in resets] == [{SCORE: "new"}]  # caught up without a worker wait


def test_workflows_that_never_ran_are_named_once_and_pinned_when_a_run_appears() -> None:
    text = CONFIG.replace("id: blog-1", "type: blog").replace("id: digest-1", "type: digest")
    b = Board(slots(text), Routes(), Settings())
    b.start()
    b.pin_failed(0.0, b.trackers[0].serial, NoRunYet("no run of workflow type blog exists yet"))
    actions = b.pin_failed(
        0.0, b.trackers[1].serial, NoRunYet("no run of workflow type digest exists yet")
    )
    assert only(actions, Announce)
    assert notices(actions) == [
        "no run yet of blog, digest: each is pinned when its first run appears "
        "(start one with `npx output workflow run <type>`)"
    ]
    assert b.deadline() == FIRST_RUN_POLL_S
    retry = b.tick(FIRST_RUN_POLL_S)
    assert [type(a) for a in retry] == [PinRun, PinRun]
    again = b.pin_failed(FIRST_RUN_POLL_S, b.trackers[0].serial, NoRunYet("still none"))
    assert notices(again) == []  # said once
    found = b.pinned(FIRST_RUN_POLL_S, b.trackers[1].serial, result(pin("first", "digest-x")))
    assert isinstance(said(found)[0], Pinned)
    assert only(found, Warm)


# -- edits and the worker wait ------------------------------------------------------------------


def test_two_workflows_in_one_burst_each_get_one_reset_after_one_worker_wait() -> None:
    b = board()
    started(b, "completed", "completed")
    actions = b.edits(1.0, EDIT_WALL, {SCORE: "h2", DRAFT: "d2"})
    waits = only(actions, WaitWorker)
    assert len(waits) == 1
    assert [r.label for r in said(actions) if isinstance(r, WaitingForWorker)] == [
        "blog-1",
        "digest-1",
    ]
    assert not only(actions, ResetRun)  # nothing before the worker has the new code
    released = b.worker_seen(20.0, waits[0].ticket, "catalog-2", EDIT_WALL + 15)
    resets = only(released, ResetRun)
    assert [(r.pin.workflow_id, [c.rule.step for c in r.changes]) for r in resets] == [
        ("blog-1", ["score"]),
        ("digest-1", ["draft", "polish"]),
    ]
    assert only(released, EndWait) == [EndWait(waits[0].ticket)]


def test_an_edit_while_the_api_is_down_waits_for_the_reload_after_it_comes_back() -> None:
    b = board()
    started(b, "completed", "completed")
    assert b.worker_seen(0.5, None, "catalog-1", EDIT_WALL - 300) == []  # seen at start
    ticket = only(b.edits(1.0, EDIT_WALL, {SCORE: "h2"}), WaitWorker)[0].ticket
    # The API is down: the probe sees nothing for a while, and nothing is reset.
    assert b.tick(10.0) == []
    # It answers again with the old worker: still not ready.
    assert b.worker_seen(12.0, ticket, "catalog-1", EDIT_WALL - 300) == []
    # The new worker's catalog run started after the edit: now.
    resets = only(b.worker_seen(25.0, ticket, "catalog-2", EDIT_WALL + 20), ResetRun)
    assert len(resets) == 2


def test_with_no_worker_seen_before_the_edit_an_old_worker_is_not_taken_for_new() -> None:
    b = board()
    started(b, "completed", "completed")
    ticket = only(b.edits(1.0, EDIT_WALL, {SCORE: "h2"}), WaitWorker)[0].ticket
    # The first answer after the API came back is a worker that started before the edit.
    assert b.worker_seen(5.0, ticket, "catalog-1", EDIT_WALL - 1) == []
    assert only(b.worker_seen(6.0, ticket, "catalog-2", EDIT_WALL + 3), ResetRun)


def test_the_readiness_rule() -> None:
    assert worker_ready("b", 101.0, 100.0, None)
    assert not worker_ready("b", 99.0, 100.0, "a")  # a new id, but it started before the edit
    assert not worker_ready("a", None, 100.0, None)  # no start time, nothing seen before
    assert worker_ready("b", None, 100.0, "a")
    assert not worker_ready("a", None, 100.0, "a")


def test_edits_during_a_wait_join_it_and_restart_it() -> None:
    b = board()
    started(b, "completed", "completed")
    first = only(b.edits(1.0, EDIT_WALL, {SCORE: "h2"}), WaitWorker)[0]
    joined = b.edits(3.0, EDIT_WALL + 2, {STEPS: "s2"})
    second = only(joined, WaitWorker)[0]
    assert EndWait(first.ticket) in joined
    assert not said(joined)  # "waiting for the worker" was said once per workflow
    # The old wait's observation no longer counts; a worker newer than the first edit but
    # older than the second is not enough either.
    assert b.worker_seen(10.0, first.ticket, "c2", EDIT_WALL + 1) == []
    assert b.worker_seen(10.0, second.ticket, "c2", EDIT_WALL + 1) == []
    resets = only(b.worker_seen(20.0, second.ticket, "c3", EDIT_WALL + 10), ResetRun)
    blog = next(r for r in resets if r.pin.workflow_id == "blog-1")
    assert [c.rule.step for c in blog.changes] == ["score", "fetch"]
    assert blog.hashes == {SCORE: "h2", STEPS: "s2"}


def test_an_edit_that_does_not_restart_the_worker_goes_at_once() -> None:
    b = board()
    started(b, "completed", "completed")
    actions = b.edits(1.0, EDIT_WALL, {NOTES: "n2"})
    assert not only(actions, WaitWorker)
    assert [r.hashes for r in only(actions, ResetRun)] == [{NOTES: "n2"}]


def test_md_only_edits_wait_for_the_worker_to_answer() -> None:
    b = board()
    started(b, "completed", "completed")
    wait = only(b.edits(1.0, EDIT_WALL, {SKILL: "t2"}), WaitWorker)[0]
    assert wait.md_only
    assert b.worker_seen(5.0, wait.ticket, "catalog-9", EDIT_WALL + 5) == []  # not its signal
    assert only(b.worker_answered(6.0, wait.ticket), ResetRun)


def test_a_worker_that_never_reloads_times_out_with_a_word_and_resets() -> None:
    b = board(worker_timeout_s=60.0)
    started(b, "completed", "completed")
    b.edits(1.0, EDIT_WALL, {DRAFT: "d2"})
    assert b.deadline() == 61.0
    assert b.tick(60.0) == []
    actions = b.tick(61.0)
    assert notices(actions) == [
        "digest-1: Output's worker did not report new code within 60 s; resetting anyway"
    ]
    assert len(only(actions, ResetRun)) == 1


def test_dry_run_plans_instead_of_resetting_and_never_waits() -> None:
    b = board(dry_run=True)
    started(b, "completed", "completed")
    actions = b.edits(1.0, EDIT_WALL, {DRAFT: "d2"})
    (run,) = only(actions, ResetRun)
    assert run.dry_run
    done = b.reset_done(2.0, b.trackers[1].serial, decision(run.pin, "reset"))
    assert [type(r) for r in said(done)] == [Decided]
    assert said(done)[0] == Decided("digest-1", decision(run.pin), None)


# -- what a reset came back with -------------------------------------------------------------


def test_a_reset_moves_the_pin_follows_the_new_run_and_counts_the_savings() -> None:
    b = board(wait_worker=False)
    started(b, "completed", "completed")
    (run,) = only(b.edits(1.0, EDIT_WALL, {DRAFT: "d2"}), ResetRun)
    done = b.reset_done(2.0, run.serial, outcome(run))
    assert isinstance(said(done)[0], Decided)
    assert only(done, FollowRun) == [
        FollowRun(run.serial, "digest-1", "run-2", "digest-1-run", ("score",))
    ]
    tracker = b.tracker(run.serial)
    assert tracker is not None
    assert tracker.pin is not None
    assert tracker.pin.run_id == "run-2"
    assert tracker.pending == {}
    (summary,) = said(b.stop())
    assert isinstance(summary, SessionSummary)
    assert (summary.totals.resets, summary.totals.steps, summary.totals.seconds) == (1, 1, 2.0)


def test_an_edit_during_a_reset_is_the_next_reset_not_lost_and_not_doubled() -> None:
    b = board(wait_worker=False)
    started(b, "completed", "completed")
    (first,) = only(b.edits(1.0, EDIT_WALL, {NOTES: "n2"}), ResetRun)
    assert only(b.edits(1.5, EDIT_WALL, {NOTES: "n3"}), ResetRun) == []  # one job at a time
    (second,) = only(b.reset_done(2.0, first.serial, outcome(first)), ResetRun)
    assert second.hashes == {NOTES: "n3"}
    assert second.pin.run_id == "run-2"


def test_a_failed_reset_stays_pending_and_goes_with_the_next_edit() -> None:
    b = board(wait_worker=False)
    started(b, "completed", "completed")
    (run,) = only(b.edits(1.0, EDIT_WALL, {NOTES: "n2"}), ResetRun)
    error = ApiError("StepNotCompletedError: not completed", status=409)
    failed = b.reset_failed(2.0, run.serial, error)
    assert notices(failed) == [
        "blog-1: reset not done: StepNotCompletedError: not completed; the change stays pending"
    ]
    assert b.deadline() is None  # a refusal is not retried by itself
    (again,) = only(b.edits(3.0, EDIT_WALL, {STEPS: "s2"}), ResetRun)
    assert again.hashes == {NOTES: "n2", STEPS: "s2"}


def test_an_edit_made_while_a_refused_reset_was_out_goes_at_once() -> None:
    b = board(wait_worker=False)
    started(b, "completed", "completed")
    (run,) = only(b.edits(1.0, EDIT_WALL, {NOTES: "n2"}), ResetRun)
    assert not only(b.edits(1.5, EDIT_WALL, {NOTES: "n3"}), ResetRun)  # one job at a time
    lost = ResetOutcomeUnknown("the answer was lost; no run made by it", retryable=False)
    failed = b.reset_failed(2.0, run.serial, lost)
    # The edit made meanwhile is the next change the failed one waited for: it goes now,
    # and the line says so (not "stays pending").
    assert notices(failed) == [
        "blog-1: the answer was lost; no run made by it; the edit made meanwhile goes now"
    ]
    (again,) = only(failed, ResetRun)
    assert again.hashes == {NOTES: "n3"}
    # A refusal with nothing newer still waits for the next edit.
    refused = b.reset_failed(3.0, again.serial, ApiError("conflict", status=409))
    assert not only(refused, ResetRun)


def test_an_unreachable_api_retries_with_backoff_and_says_so_once() -> None:
    b = board(wait_worker=False)
    started(b, "completed", "completed")
    (run,) = only(b.edits(1.0, EDIT_WALL, {NOTES: "n2"}), ResetRun)
    down = ApiError("cannot reach the Output API", retryable=True)
    assert notices(b.reset_failed(2.0, run.serial, down)) == [
        "blog-1: reset not done: cannot reach the Output API; will keep retrying"
    ]
    assert b.deadline() == 4.0
    (retry,) = only(b.tick(4.0), ResetRun)
    assert notices(b.reset_failed(4.1, retry.serial, down)) == []  # said once
    assert b.deadline() == pytest.approx(8.1)
    (last,) = only(b.tick(8.1), ResetRun)
    back = b.reset_done(8.2, last.serial, outcome(last))
    assert notices(back)[0] == "the API answers again"


def test_a_run_started_by_someone_else_is_not_terminated_and_the_edit_waits() -> None:
    b = board(wait_worker=False)
    started(b, "completed", "completed")
    (run,) = only(b.edits(1.0, EDIT_WALL, {NOTES: "n2"}), ResetRun)
    failed = b.reset_failed(2.0, run.serial, OtherRunRunning("blog-1: run x is running"))
    assert notices(failed) == ["blog-1: run x is running"]
    tracker = b.tracker(run.serial)
    assert tracker is not None
    assert tracker.files() == (NOTES,)


def test_another_output_reset_mid_reset_means_look_again_shortly() -> None:
    b = board(wait_worker=False)
    started(b, "completed", "completed")
    (run,) = only(b.edits(1.0, EDIT_WALL, {NOTES: "n2"}), ResetRun)
    b.reset_failed(2.0, run.serial, ResetInProgress("another output-reset (pid 7) ..."))
    assert b.deadline() == 4.0
    assert only(b.tick(4.0), ResetRun)


def test_a_declined_side_effect_reset_is_dropped_with_a_word() -> None:
    b = board(wait_worker=False)
    started(b, "completed", "completed")
    (run,) = only(b.edits(1.0, EDIT_WALL, {NOTES: "n2"}), ResetRun)
    failed = b.reset_failed(2.0, run.serial, SideEffectsDeclined("skipped: publish ..."))
    assert notices(failed) == ["blog-1: skipped: publish ..."]
    tracker = b.tracker(run.serial)
    assert tracker is not None
    assert tracker.pending == {}


def test_a_lost_answer_is_said_and_left_pending_without_a_second_send() -> None:
    b = board(wait_worker=False)
    started(b, "completed", "completed")
    (run,) = only(b.edits(1.0, EDIT_WALL, {NOTES: "n2"}), ResetRun)
    failed = b.reset_failed(2.0, run.serial, ResetOutcomeUnknown("no answer; it may ..."))
    assert notices(failed) == ["blog-1: no answer; it may ...; the change stays pending"]
    assert b.deadline() is None
    assert b.tick(100.0) == []


# -- no pin yet -------------------------------------------------------------------------------


def test_an_edit_before_any_run_is_pinned_is_acknowledged_and_goes_once_one_is() -> None:
    b = board(wait_worker=False)
    b.start()
    down = ApiError("cannot reach the Output API", retryable=True)
    for tracker in b.trackers:
        b.pin_failed(0.0, tracker.serial, down)
    actions = b.edits(1.0, EDIT_WALL, {NOTES: "n2"})
    assert notices(actions) == [
        "blog-1: docs/notes.txt changed; no run is pinned yet, so the change waits until one is"
    ]
    assert only(b.tick(2.0), PinRun)
    blog = b.trackers[0]
    done = b.pinned(2.5, blog.serial, result(pin("r1")))
    assert [r.hashes for r in only(done, ResetRun)] == [{NOTES: "n2"}]


def test_a_new_pin_leaves_pending_files_out_of_its_baseline() -> None:
    b = board(wait_worker=False)
    b.start()
    b.pin_failed(0.0, b.trackers[0].serial, ApiError("down", retryable=True))
    b.edits(1.0, EDIT_WALL, {NOTES: "n2"})
    (again,) = [a for a in b.tick(2.0) if isinstance(a, PinRun) and a.index == 0]
    assert again.pending == (NOTES,)


# -- a new config ---------------------------------------------------------------------------


def test_a_config_reload_that_pins_a_running_run_follows_it() -> None:
    b = board(wait_worker=False)
    started(b, "completed", "completed")
    text = CONFIG + "  - id: extra-1\n    rules:\n      - files: docs/extra.md\n        rerun: x\n"
    actions = b.reconfigure(slots(text), Routes(), 5.0)
    assert [a.workflow.label for a in only(actions, PinRun)] == ["extra-1"]
    extra = b.trackers[2]
    pinned = b.pinned(6.0, extra.serial, result(pin("x-run", "extra-1"), "running"))
    assert only(pinned, FollowRun) == [FollowRun(extra.serial, "extra-1", "x-run")]


def test_a_config_reload_keeps_unchanged_entries_and_their_pending_edits() -> None:
    b = board(wait_worker=False)
    started(b, "completed", "completed")
    blog = b.trackers[0]
    (run,) = only(b.edits(1.0, EDIT_WALL, {NOTES: "n2"}), ResetRun)
    b.edits(1.5, EDIT_WALL, {STEPS: "s2"})  # waits for the reset under way
    text = CONFIG.replace("id: digest-1", "id: digest-2")
    actions = b.reconfigure(slots(text), Routes(), 2.0)
    assert b.trackers[0] is blog  # same entry: same tracker, pin and job
    assert only(actions, PinRun)[0].workflow.label == "digest-2"
    assert StopFollowing(2) not in actions  # digest-1 was not being followed
    assert blog.files() == (NOTES, STEPS)
    (after,) = only(b.reset_done(3.0, run.serial, outcome(run)), ResetRun)
    assert after.hashes == {STEPS: "s2"}


def test_results_for_a_tracker_the_reload_dropped_are_ignored() -> None:
    b = board(wait_worker=False)
    started(b, "completed", "completed")
    (run,) = only(b.edits(1.0, EDIT_WALL, {DRAFT: "d2"}), ResetRun)
    b.reconfigure(slots(CONFIG.replace("id: digest-1", "id: digest-2")), Routes(), 2.0)
    assert b.reset_done(3.0, run.serial, outcome(run)) == []
