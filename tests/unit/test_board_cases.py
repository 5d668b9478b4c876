"""A `datasets:` entry on the board: one tracker per case, one summary per burst, and the
entry's evals once every case's new run has ended (events in, actions out; no threads)."""

from __future__ import annotations

from pathlib import Path

from runner.actions import (
    Action,
    Announce,
    FollowRun,
    Iteration,
    IterationCase,
    PinResult,
    Record,
    ResetRun,
    RunEvals,
    Settings,
    StartRun,
    WaitWorker,
    slots_of,
)
from runner.board import Board
from runner.config import RuleRef, parse_config
from runner.errors import ApiError, NotStarted, OtherRunRunning
from runner.pins import Pin
from runner.reports import CasesDecided, Changed, Decided, Pinned, WaitingForWorker
from runner.wording import cases_line
from tests.unit.test_board import (
    EDIT_WALL,
    decision,
    notices,
    only,
    outcome,
    pin,
    result,
    said,
)

CONFIG = """\
workflows:
  - type: blog
    datasets: all
    rules:
      - files: src/prompts/score.prompt
        rerun: score
  - id: other-1
    rules:
      - files: src/other.prompt
        rerun: draft
"""
SCORE = "src/prompts/score.prompt"
OTHER = "src/other.prompt"
CASES = [("basic", '{"q":1}'), ("long", '{"q":2}'), ("empty", '{"q":3}')]


class Routes:
    def rules_for(self, rel: str) -> tuple[RuleRef, ...]:
        return {SCORE: (RuleRef(0, 0),), OTHER: (RuleRef(1, 0),)}.get(rel, ())

    def reloads(self, rel: str) -> bool:
        return True


def board(cases: list[tuple[str, str]] = CASES, **settings: object) -> Board:
    entries = parse_config(CONFIG, path=Path("/p/output-reset.yaml"), shown_as="c").workflows
    return Board(slots_of(entries, {0: cases}), Routes(), Settings(**settings))  # type: ignore[arg-type]


def pinned_all(b: Board) -> None:
    b.start()
    for t in b.trackers:
        wid = t.workflow.id or ""
        b.pinned(0.0, t.serial, result(pin(f"{wid}-r1", wid)))


def burst(b: Board) -> list[ResetRun]:
    """Save the prompt of the dataset entry and let the worker reload: one ResetRun per case."""
    edited = b.edits(1.0, EDIT_WALL, {SCORE: "h2"})
    waits = only(edited, WaitWorker)
    assert len(waits) == 1  # one wait for the whole entry, not one per case
    told = [r for r in said(edited) if isinstance(r, WaitingForWorker)]
    assert [w.label for w in told] == ["blog"]  # and said once for its cases
    return only(b.worker_seen(20.0, waits[0].ticket, "catalog-2", EDIT_WALL + 5), ResetRun)


def test_each_case_is_a_tracker_with_its_deterministic_workflow_id() -> None:
    b = board()
    assert [t.label for t in b.trackers] == ["blog/basic", "blog/long", "blog/empty", "other-1"]
    assert [t.workflow.id for t in b.trackers[:3]] == [
        "blog-case-basic",
        "blog-case-long",
        "blog-case-empty",
    ]


def test_cases_without_a_run_are_started_once_and_said_in_one_line() -> None:
    b = board()
    b.start()
    first, second, third, other = b.trackers
    b.pinned(0.0, first.serial, result(pin("r1", "blog-case-basic")))
    b.pin_failed(0.0, second.serial, NotStarted("no run of blog-case-long yet"))
    b.pin_failed(0.0, third.serial, NotStarted("no run of blog-case-empty yet"))
    actions = b.pinned(0.0, other.serial, result(pin("o1", "other-1")))
    assert only(actions, Announce)
    assert notices(actions) == ["starting 2 dataset runs of blog: a full run each, this once"]
    assert [s.serial for s in only(actions, StartRun)] == [second.serial, third.serial]
    # Pinned later (the started runs), they are not started again.
    again = b.pinned(1.0, second.serial, result(pin("s1", "blog-case-long"), source="started"))
    assert not only(again, StartRun)


def test_a_dry_run_starts_no_case() -> None:
    b = board(dry_run=True)
    b.start()
    for t in b.trackers[:3]:
        b.pin_failed(0.0, t.serial, NotStarted("none"))
    actions = b.pinned(0.0, b.trackers[3].serial, result(pin("o1", "other-1")))
    assert not only(actions, StartRun)
    assert notices(actions) == [
        "no run yet of blog/basic, blog/long, blog/empty; a dry run starts none"
    ]


def test_one_save_resets_every_case_and_says_one_summary_when_the_last_comes_back() -> None:
    b = board()
    pinned_all(b)
    resets = burst(b)
    assert [r.pin.workflow_id for r in resets] == [
        "blog-case-basic",
        "blog-case-long",
        "blog-case-empty",
    ]
    serials = [t.serial for t in b.trackers[:3]]
    first = b.reset_done(21.0, serials[0], outcome(resets[0], "n1"))
    second = b.reset_done(21.0, serials[1], outcome(resets[1], "n2"))
    assert not said(first)  # no per-case decision line
    assert not said(second)
    assert [f.run_id for f in only(first + second, FollowRun)] == ["n1", "n2"]
    last = b.reset_done(21.5, serials[2], outcome(resets[2], "n3"))
    summaries = [r for r in said(last) if isinstance(r, CasesDecided)]
    assert len(summaries) == 1
    assert summaries[0].label == "blog"
    assert [c.label for c in summaries[0].cases] == ["blog/basic", "blog/long", "blog/empty"]
    assert not only(last, RunEvals)  # the runs have not finished


def test_evals_are_due_once_every_new_run_has_ended_with_their_outputs() -> None:
    b = board()
    pinned_all(b)
    resets = burst(b)
    serials = [t.serial for t in b.trackers[:3]]
    for serial, reset, run in zip(serials, resets, ["n1", "n2", "n3"], strict=True):
        b.reset_done(21.0, serial, outcome(reset, run))
    assert not b.followed(serials[0], "n1", "completed", {"score": 7})
    assert not b.followed(serials[2], "n3", "completed", {"score": 2})
    due = only(b.followed(serials[1], "n2", "failed", None), RunEvals)
    assert len(due) == 1
    assert due[0].entry.type == "blog"
    assert [(c.case, c.run_id, c.output, c.output_known) for c in due[0].cases] == [
        ("basic", "n1", {"score": 7}, True),
        ("long", "n2", None, True),
        ("empty", "n3", {"score": 2}, True),
    ]
    # The same ends seen again (a follower's late word) do not run the evals twice.
    assert not b.followed(serials[1], "n2", "failed", None)


def test_a_case_that_could_not_be_reset_is_in_the_summary_and_the_others_go_on() -> None:
    b = board()
    pinned_all(b)
    resets = burst(b)
    serials = [t.serial for t in b.trackers[:3]]
    b.reset_done(21.0, serials[0], outcome(resets[0], "n1"))
    b.reset_failed(21.0, serials[1], OtherRunRunning("blog-case-long has a run still running"))
    last = b.reset_done(21.0, serials[2], outcome(resets[2], "n3"))
    (summary,) = [r for r in said(last) if isinstance(r, CasesDecided)]
    errors = {c.label: c.error for c in summary.cases}
    assert errors["blog/basic"] is None
    assert "still running" in str(errors["blog/long"])
    b.followed(serials[0], "n1", "completed", "a")
    due = only(b.followed(serials[2], "n3", "completed", "c"), RunEvals)
    # The case not reset is judged on its pinned run, whose output is read from its history.
    assert [(c.case, c.run_id, c.output_known) for c in due[0].cases] == [
        ("basic", "n1", True),
        ("long", "blog-case-long-r1", False),
        ("empty", "n3", True),
    ]


def test_a_follow_cut_off_before_the_end_runs_no_evals() -> None:
    b = board()
    pinned_all(b)
    resets = burst(b)
    serials = [t.serial for t in b.trackers[:3]]
    for serial, reset, run in zip(serials, resets, ["n1", "n2", "n3"], strict=True):
        b.reset_done(21.0, serial, outcome(reset, run))
    b.followed(serials[0], "n1", "completed", "a")
    b.followed(serials[1], "n2", None)  # replaced before it ended
    assert not only(b.followed(serials[2], "n3", "completed", "c"), RunEvals)


def test_the_api_down_for_every_case_is_said_once() -> None:
    b = board()
    pinned_all(b)
    resets = burst(b)
    down = ApiError("cannot reach http://localhost:3001", retryable=True)
    actions = []
    for t in b.trackers[:3]:
        actions += b.reset_failed(21.0, t.serial, down)
    (summary,) = [r for r in said(actions) if isinstance(r, CasesDecided)]
    assert notices(actions) == []  # said in the summary, once for the three
    assert cases_line(summary) == (
        "blog: basic, long and empty: not reset: cannot reach http://localhost:3001; "
        "will keep retrying"
    )
    # Retried later, together: a new round, with its own summary.
    retried = only(b.tick(b.deadline() or 0.0), ResetRun)
    assert [r.serial for r in retried] == [r.serial for r in resets]
    back = []
    for t, reset in zip(b.trackers[:3], retried, strict=True):
        back += b.reset_done(90.0, t.serial, outcome(reset, f"n-{t.serial}"))
    assert notices(back) == ["the API answers again"]
    assert len([r for r in said(back) if isinstance(r, CasesDecided)]) == 1


def test_an_entry_not_fanned_out_still_gets_its_own_decision_line() -> None:
    b = board()
    pinned_all(b)
    waits = only(b.edits(1.0, EDIT_WALL, {OTHER: "o2"}), WaitWorker)
    (reset,) = only(b.worker_seen(20.0, waits[0].ticket, "c2", EDIT_WALL + 5), ResetRun)
    assert reset.pin.workflow_id == "other-1"
    back = b.reset_done(21.0, b.trackers[3].serial, outcome(reset, "o2"))
    assert [type(r) for r in said(back)][:1] == [Decided]


def test_pinned_lines_name_the_case() -> None:
    b = board()
    b.start()
    t = b.trackers[1]
    actions = b.pinned(0.0, t.serial, result(pin("r", "blog-case-long")))
    (line,) = [r for r in said(actions) if isinstance(r, Pinned)]
    assert line.label == "blog/long"


def test_a_dry_run_says_once_that_it_starts_no_case() -> None:
    b = board(dry_run=True)
    b.start()
    for t in b.trackers[:3]:
        b.pin_failed(0.0, t.serial, NotStarted("none"))
    b.pinned(0.0, b.trackers[3].serial, result(pin("o1", "other-1")))
    # Looked up again (a reconfigure, a retry): not said again.
    again = b.pin_failed(1.0, b.trackers[0].serial, NotStarted("none"))
    assert notices(again) == []


# -- iterations: what a round is kept as ---------------------------------------------------------


def test_a_dataset_round_is_kept_with_its_files_runs_and_outputs_after_its_evals() -> None:
    b = board()
    pinned_all(b)
    resets = burst(b)
    serials = [t.serial for t in b.trackers[:3]]
    b.reset_done(21.0, serials[0], outcome(resets[0], "n1"))
    b.reset_failed(21.0, serials[1], OtherRunRunning("busy"))
    b.reset_done(21.0, serials[2], outcome(resets[2], "n3"))
    b.followed(serials[0], "n1", "completed", {"score": 7})
    (due,) = only(b.followed(serials[2], "n3", "failed", None), RunEvals)
    assert due.iteration == Iteration(
        "blog",
        {SCORE: "h2"},
        (
            IterationCase(
                "basic", "blog-case-basic", "blog-case-basic-r1", "n1", "completed", {"score": 7}
            ),
            IterationCase("long", "blog-case-long", "blog-case-long-r1", None),
            IterationCase("empty", "blog-case-empty", "blog-case-empty-r1", "n3", "failed"),
        ),
    )
    assert not only(b.followed(serials[2], "n3", "failed", None), Record)


def test_a_single_pin_is_kept_once_its_new_run_ended_and_not_in_a_dry_run() -> None:
    for dry_run in (False, True):
        b = board(dry_run=dry_run)
        pinned_all(b)
        edited = b.edits(1.0, EDIT_WALL, {OTHER: "o2"})
        waits = only(edited, WaitWorker)  # a dry run does not wait for the worker
        released = b.worker_seen(20.0, waits[0].ticket, "c2", EDIT_WALL + 5) if waits else edited
        (reset,) = only(released, ResetRun)
        serial = b.trackers[3].serial
        if dry_run:
            back = b.reset_done(21.0, serial, decision(reset.pin))
            assert not only(back, Record)
            continue
        back = b.reset_done(21.0, serial, outcome(reset, "o2"))
        assert not only(back, Record)  # the new run has not ended
        (kept,) = only(b.followed(serial, "o2", "completed", "text"), Record)
        assert kept.iteration == Iteration(
            "other-1",
            {OTHER: "o2"},
            (IterationCase("other-1", "other-1", "other-1-r1", "o2", "completed", "text"),),
        )


def test_a_burst_that_reset_nothing_is_not_an_iteration() -> None:
    b = board()
    pinned_all(b)
    waits = only(b.edits(1.0, EDIT_WALL, {OTHER: "o2"}), WaitWorker)
    (reset,) = only(b.worker_seen(20.0, waits[0].ticket, "c2", EDIT_WALL + 5), ResetRun)
    back = b.reset_done(21.0, b.trackers[3].serial, outcome(reset, None))
    assert not only(back, Record)
    assert not only(b.followed(b.trackers[3].serial, "other-1-r1", "completed", "x"), Record)


# -- the evals before any edit ---------------------------------------------------------------


def test_once_every_case_has_an_ended_run_the_evals_say_where_they_stand() -> None:
    b = board()
    actions = b.start()
    for t in b.trackers:
        wid = t.workflow.id or ""
        actions += b.pinned(0.0, t.serial, result(pin(f"{wid}-r1", wid)))
    (due,) = only(actions, RunEvals)
    assert due.baseline
    assert due.iteration is None  # nothing to keep: no save made these runs
    assert [(c.case, c.run_id, c.output_known) for c in due.cases] == [
        ("basic", "blog-case-basic-r1", False),  # read from each run's history
        ("long", "blog-case-long-r1", False),
        ("empty", "blog-case-empty-r1", False),
    ]
    # Judged once: a later end of the same runs does not ask again.
    assert not only(b.followed(b.trackers[0].serial, "blog-case-basic-r1", "completed"), RunEvals)


def test_the_evals_before_any_edit_wait_for_a_case_still_running() -> None:
    b = board()
    actions = b.start()
    first, second, third, _ = b.trackers
    actions += b.pinned(0.0, first.serial, result(pin("r1", "blog-case-basic")))
    actions += b.pinned(0.0, second.serial, result(pin("r2", "blog-case-long"), "running"))
    actions += b.pinned(0.0, third.serial, result(pin("r3", "blog-case-empty")))
    actions += b.pinned(0.0, b.trackers[3].serial, result(pin("o1", "other-1")))
    assert only(actions, Announce)
    assert not only(actions, RunEvals)
    (due,) = only(b.followed(second.serial, "r2", "completed", {"score": 4}), RunEvals)
    assert due.baseline
    assert [(c.case, c.output, c.output_known) for c in due.cases][1] == (
        "long",
        {"score": 4},
        True,
    )


def test_a_dry_run_runs_no_evals_before_an_edit() -> None:
    b = board(dry_run=True)
    actions = b.start()
    for t in b.trackers:
        wid = t.workflow.id or ""
        actions += b.pinned(0.0, t.serial, result(pin(f"{wid}-r1", wid)))
    assert only(actions, Announce)
    assert not only(actions, RunEvals)


def test_a_case_without_a_run_yet_is_started_before_the_evals_run() -> None:
    b = board()
    actions = b.start()
    first, second, third, other = b.trackers
    actions += b.pinned(0.0, first.serial, result(pin("r1", "blog-case-basic")))
    actions += b.pin_failed(0.0, second.serial, NotStarted("no run of blog-case-long yet"))
    actions += b.pinned(0.0, third.serial, result(pin("r3", "blog-case-empty")))
    actions += b.pinned(0.0, other.serial, result(pin("o1", "other-1")))
    assert only(actions, StartRun)
    assert not only(actions, RunEvals)
    started = b.pinned(
        1.0, second.serial, result(pin("s2", "blog-case-long"), "running", "started")
    )
    assert not only(started, RunEvals)
    (due,) = only(b.followed(second.serial, "s2", "completed", "out"), RunEvals)
    assert [c.run_id for c in due.cases] == ["r1", "s2", "r3"]


def test_an_edit_made_while_it_was_not_running_is_said_once_for_every_case() -> None:
    # Each case caught up on its own: twenty cases, twenty identical lines.
    b = board()
    b.start()
    actions = []
    for t in b.trackers:
        wid = t.workflow.id or ""
        saved = Pin(workflow_id=wid, run_id=f"{wid}-r1", fingerprint="f", hashes={SCORE: "old"})
        actions += b.pinned(0.0, t.serial, PinResult(saved, "state", "completed", {SCORE: "new"}))
    caught = [r for r in said(actions) if isinstance(r, Changed)]
    assert caught == [Changed(files=(SCORE,), catch_up=True)]
    assert len(only(actions, ResetRun)) == 3  # every case is still reset


def test_a_second_save_while_the_first_ones_resets_are_out_is_a_round_of_its_own() -> None:
    b = board()
    pinned_all(b)
    first = burst(b)
    serials = [t.serial for t in b.trackers[:3]]
    # Save 2 while save 1's resets are still out: it waits for the worker, then each case's
    # second reset goes as soon as its first comes back.
    for wait in only(b.edits(22.0, EDIT_WALL + 10, {SCORE: "h3"}), WaitWorker):
        b.worker_seen(23.0, wait.ticket, "catalog-3", EDIT_WALL + 15)
    back: list[Action] = []
    second: list[ResetRun] = []
    for serial, reset, run in zip(serials, first, ["n1", "n2", "n3"], strict=True):
        done = b.reset_done(25.0, serial, outcome(reset, run))
        back += done
        second += only(done, ResetRun)
    assert [type(r) for r in said(back)] == [CasesDecided]  # save 1: one summary, no stray line
    ends = []
    for serial, run in zip(serials, ["n1", "n2", "n3"], strict=True):
        ends += b.followed(serial, run, "completed", f"out-{run}")
    (judged,) = only(ends, RunEvals)  # save 1's evals, on save 1's runs
    assert [(c.case, c.run_id, c.output) for c in judged.cases] == [
        ("basic", "n1", "out-n1"),
        ("long", "n2", "out-n2"),
        ("empty", "n3", "out-n3"),
    ]
    assert judged.iteration is not None
    assert judged.iteration.files == {SCORE: "h2"}
    assert len(second) == 3
    back2: list[Action] = []
    for reset in second:
        back2 += b.reset_done(27.0, reset.serial, outcome(reset, f"m{reset.serial}"))
    assert [type(r) for r in said(back2)] == [CasesDecided]
    ends2 = []
    for reset in second:
        ends2 += b.followed(reset.serial, f"m{reset.serial}", "completed", "w")
    (judged2,) = only(ends2, RunEvals)
    assert judged2.iteration is not None
    assert [c.case for c in judged2.iteration.cases] == ["basic", "long", "empty"]
    assert judged2.iteration.files == {SCORE: "h3"}


def test_a_config_reload_that_moves_the_entry_keeps_its_evals_on_its_own_cases() -> None:
    b = board()
    pinned_all(b)  # the evals before any edit were asked for (entry 0)
    moved = "workflows:\n  - id: first-1\n    rules:\n      - files: src/first.prompt\n" + (
        "        rerun: draft\n" + CONFIG.removeprefix("workflows:\n")
    )
    entries = parse_config(moved, path=Path("/p/output-reset.yaml"), shown_as="c").workflows

    class Moved(Routes):
        def rules_for(self, rel: str) -> tuple[RuleRef, ...]:
            return {SCORE: (RuleRef(1, 0),)}.get(rel, ())

    actions = b.reconfigure(slots_of(entries, {1: CASES}), Moved(), 10.0)
    cases = [t for t in b.trackers if t.workflow.case is not None]
    assert [t.index for t in cases] == [1, 1, 1]  # the datasets entry is entry 1 now
    # Not judged again as if new, and a save is judged on the cases, not on `first-1`.
    assert not only(actions, RunEvals)
    first = next(t for t in b.trackers if t.workflow.id == "first-1")
    b.pinned(11.0, first.serial, result(pin("f1", "first-1")))
    resets = burst(b)
    for tracker, reset, run in zip(cases, resets, ["n1", "n2", "n3"], strict=True):
        b.reset_done(21.0, tracker.serial, outcome(reset, run))
    ends = []
    for tracker, run in zip(cases, ["n1", "n2", "n3"], strict=True):
        ends += b.followed(tracker.serial, run, "completed", run)
    (judged,) = only(ends, RunEvals)
    assert [c.case for c in judged.cases] == ["basic", "long", "empty"]
