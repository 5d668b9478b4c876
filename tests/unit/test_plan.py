"""The planner against real recorded histories (docs/output-api.md §5) and small synthetic ones."""

from __future__ import annotations

from typing import Any

import pytest

from runner.config import Action, Rule
from runner.history import RunHistory
from runner.plan import Change, Decision, plan
from tests.recordings import history_from


def change(step: str, action: Action = "rerun", *files: str) -> Change:
    rule = Rule(files=files or (f"prompts/{step}.prompt",), action=action, step=step, line=1)
    return Change(rule=rule, files=rule.files)


def decide(history: RunHistory, *changes: Change, **kw: Any) -> Decision:
    return plan(changes, history, **kw)


# -- linear run (recording 1-06: getTraceDestinations, extractTopics, draftOutline, polishDraft)


@pytest.mark.parametrize(
    ("step", "anchor"),
    [
        ("polishDraft", "draftOutline"),
        ("draftOutline", "extractTopics"),
        ("extractTopics", "getTraceDestinations"),
    ],
)
def test_rerun_anchors_on_the_step_before(step: str, anchor: str) -> None:
    decision = decide(history_from("1-06"), change(step))
    assert (decision.kind, decision.anchor) == ("reset", anchor)
    assert decision.run_id == "01a2120c-2695-70a1-83f6-9d9ec4cacd75"


def test_first_step_reason_mentions_the_kept_input() -> None:
    decision = decide(history_from("1-06"), change("extractTopics"))
    assert decision.why == (
        "extractTopics is the first step; getTraceDestinations keeps the workflow input"
    )


def test_rerun_reason_names_both_steps() -> None:
    decision = decide(history_from("1-06"), change("polishDraft"))
    assert decision.why == "draftOutline finished last before polishDraft first ran"


def test_reset_after_keeps_the_named_step() -> None:
    decision = decide(history_from("1-06"), change("draftOutline", "reset_after"))
    assert (decision.kind, decision.anchor) == ("reset", "draftOutline")


def test_paged_history_plans_like_the_single_page() -> None:
    paged = history_from("1-07", "1-08")
    assert paged.last_event_id == 22
    assert decide(paged, change("draftOutline")).anchor == "extractTopics"


def test_unknown_step_in_a_closed_run_says_where_the_run_got_to() -> None:
    decision = decide(history_from("1-06"), change("noSuchStep"))
    assert decision.kind == "none"
    assert decision.why == (
        "noSuchStep never ran in run 01a2120c-2695-70a1-83f6-9d9ec4cacd75; "
        "the last step it reached is polishDraft (completed)"
    )


def test_several_rules_in_one_burst_pick_the_earliest_anchor() -> None:
    decision = decide(history_from("1-06"), change("polishDraft"), change("draftOutline"))
    assert decision.anchor == "extractTopics"
    assert decision.chosen is not None
    assert decision.chosen.rule.step == "draftOutline"
    assert len(decision.outcomes) == 2


def test_a_no_reset_rule_does_not_block_another_rule() -> None:
    decision = decide(history_from("1-06"), change("noSuchStep"), change("polishDraft"))
    assert (decision.kind, decision.anchor) == ("reset", "draftOutline")


# -- a reset run (recording 2-02: copied prefix, WORKFLOW_TASK_FAILED cause 20, polishDraft again)


def test_reset_run_history_plans_on_the_copied_prefix() -> None:
    history = history_from("2-02")
    assert decide(history, change("polishDraft")).anchor == "draftOutline"
    marker = history.reset_marker_to("01a2120c-2695-70a1-83f6-9d9ec4cacd75")
    assert marker is not None
    assert marker.new_run_id == history.run_id


# -- a running run (recording 2-11: polishDraft scheduled, in flight, no STARTED event yet)


def test_in_flight_step_is_rerun_from_its_predecessor() -> None:
    history = history_from("2-11")
    assert not history.closed
    decision = decide(history, change("polishDraft"))
    assert (decision.kind, decision.anchor) == ("reset", "draftOutline")


def test_reset_after_an_in_flight_step_waits_for_it() -> None:
    decision = decide(history_from("2-11"), change("polishDraft", "reset_after"))
    assert decision.kind == "none"
    assert (
        decision.why == "polishDraft is still running; the steps after it will run on the new code"
    )


def test_a_step_the_running_run_has_not_reached_needs_no_reset() -> None:
    decision = decide(history_from("2-11"), change("publish"))
    assert decision.kind == "none"
    assert decision.why == (
        "the run has not reached publish yet (it is at polishDraft); "
        "it will run publish on the new code"
    )


# -- parallel siblings and a loop (recording 3-02: fetchSlow || fetchFast, loopStep x3, combine)


def test_parallel_siblings_anchor_on_the_one_that_finished_last() -> None:
    decision = decide(history_from("3-02"), change("loopStep"))
    assert decision.anchor == "fetchSlow"
    assert decision.why == "fetchSlow finished last before loopStep first ran (keeps fetchFast too)"


def test_a_sibling_that_finished_after_the_step_was_scheduled_is_no_anchor() -> None:
    # fetchSlow was scheduled before fetchFast but completed after it: resetting after
    # fetchSlow would keep fetchFast's result, so only getTraceDestinations is safe.
    assert decide(history_from("3-02"), change("fetchFast")).anchor == "getTraceDestinations"


def test_step_after_a_loop_anchors_on_the_last_loop_iteration() -> None:
    assert decide(history_from("3-02"), change("combine")).anchor == "loopStep"


def test_reset_run_with_a_redispatched_sibling() -> None:
    # 3-06: fetchSlow's SCHEDULED (13) was copied, its new COMPLETED (24) comes after the reset.
    decision = decide(history_from("3-06"), change("loopStep"))
    assert decision.anchor == "fetchSlow"


# -- child workflows (recordings 4-02 parent, 4-04 child)


def test_child_step_anchors_before_the_child_started() -> None:
    parent, child = history_from("4-02"), history_from("4-04")
    decision = decide(parent, change("childStep"), children={child.workflow_id: child})
    assert decision.anchor == "parentStep"
    assert decision.why == (
        "parentStep finished last before childStep in child workflow probe_child first ran"
    )


def test_child_step_without_the_child_history_is_unknown() -> None:
    decision = decide(history_from("4-02"), change("childStep"))
    assert decision.kind == "none"


def test_evaluator_after_a_child_anchors_before_the_child() -> None:
    # The child is no activity, so nothing between parentStep and judgeIt can be kept.
    assert decide(history_from("4-02"), change("judgeIt")).anchor == "parentStep"


# -- trace disabled (recording 5-02: no getTraceDestinations)


def test_first_step_without_trace_starts_a_fresh_run() -> None:
    decision = decide(history_from("5-02"), change("sumValues"))
    assert (decision.kind, decision.anchor) == ("fresh", None)
    assert "fresh run with the same input" in decision.why


def test_a_fresh_run_wins_over_any_anchor() -> None:
    history = history_from("5-02")
    decision = decide(history, change("sumValues", "reset_after"), change("sumValues"))
    assert decision.kind == "fresh"


# -- synthetic histories for shapes the recordings do not cover


class Events:
    """Builds serialized events with the API's shapes, numbering them as it goes."""

    def __init__(self, workflow: str = "wf") -> None:
        self.workflow = workflow
        self.events: list[dict[str, Any]] = []
        self.task = 0
        self.emit("WORKFLOW_EXECUTION_STARTED", {"workflowType": {"name": workflow}})
        self.task_completed()

    def emit(self, name: str, attrs: dict[str, Any]) -> int:
        event_id = len(self.events) + 1
        key = "".join(w.capitalize() for w in name.lower().split("_"))
        key = key[0].lower() + key[1:] + "EventAttributes"
        self.events.append({"eventId": str(event_id), "eventTypeName": name, key: attrs})
        return event_id

    def task_completed(self) -> None:
        self.task = self.emit("WORKFLOW_TASK_COMPLETED", {})

    def schedule(self, step: str) -> int:
        name = step if "#" in step else f"{self.workflow}#{step}"
        return self.emit(
            "ACTIVITY_TASK_SCHEDULED",
            {
                "activityType": {"name": name},
                "workflowTaskCompletedEventId": {"low": self.task, "high": 0, "unsigned": False},
            },
        )

    def close(self, scheduled: int, how: str = "COMPLETED") -> None:
        self.emit(f"ACTIVITY_TASK_{how}", {"scheduledEventId": str(scheduled)})

    def run(self, *steps: str) -> None:
        for step in steps:
            self.close(self.schedule(step))
            self.task_completed()

    def history(self) -> RunHistory:
        history = RunHistory(workflow_id="wf-1", run_id="00000000-0000-4000-8000-000000000001")
        history.feed(self.events)
        return history


def test_step_inside_a_loop_with_its_anchor_anchors_before_the_loop() -> None:
    events = Events()
    events.run(
        "__internal#getTraceDestinations", "prepare", "draft", "critique", "draft", "critique"
    )
    decision = decide(events.history(), change("critique"))
    # "draft" runs again after critique's first run, so anchoring on it would keep critique #1.
    assert decision.anchor == "prepare"


def test_failed_last_step_is_rerun_after_its_predecessor() -> None:
    events = Events()
    events.run("__internal#getTraceDestinations", "fetch", "score")
    events.close(events.schedule("summarize"), "FAILED")
    events.emit("WORKFLOW_EXECUTION_FAILED", {})
    history = events.history()
    assert history.status == "failed"
    assert decide(history, change("summarize")).anchor == "score"


def test_reset_after_a_failed_step_explains_why_not() -> None:
    events = Events()
    events.run("__internal#getTraceDestinations", "fetch")
    events.close(events.schedule("score"), "FAILED")
    events.emit("WORKFLOW_EXECUTION_FAILED", {})
    decision = decide(events.history(), change("score", "reset_after"))
    assert decision.kind == "none"
    assert decision.why == (
        "score did not complete in this run (failed), so there is nothing to keep after it; "
        'use "rerun: score" to re-run it'
    )


def test_reset_after_a_step_the_running_run_just_finished() -> None:
    events = Events()
    events.run("__internal#getTraceDestinations", "fetch")
    events.close(events.schedule("score"))  # no workflow task completed after it yet
    decision = decide(events.history(), change("score", "reset_after"))
    assert decision.kind == "none"
    assert "just finished score" in decision.why


def test_user_step_named_like_the_internal_activity_follows_the_api() -> None:
    # The API matches "#getTraceDestinations" by suffix and takes the LAST occurrence.
    events = Events()
    events.run("__internal#getTraceDestinations", "fetch", "getTraceDestinations", "score")
    assert decide(events.history(), change("fetch")).kind == "fresh"


def test_full_activity_type_names_match_exactly() -> None:
    events = Events()
    events.run("__internal#getTraceDestinations", "fetch", "score")
    assert decide(events.history(), change("wf#score")).anchor == "fetch"
    assert decide(events.history(), change("other#score")).kind == "none"


# -- planning for engines that reset to any workflow task (Temporal)


def test_by_event_rerun_resets_to_the_task_that_scheduled_the_step() -> None:
    decision = plan([change("polishDraft")], history_from("1-06"), by_event=True)
    assert (decision.kind, decision.boundary, decision.anchor) == ("reset", 24, "draftOutline")


def test_both_modes_agree_on_the_reset_event_for_a_linear_run() -> None:
    history = history_from("1-06")
    for step in ("extractTopics", "draftOutline", "polishDraft"):
        by_name = plan([change(step)], history)
        by_event = plan([change(step)], history, by_event=True)
        assert by_name.boundary == by_event.boundary


def test_by_event_reset_after_a_first_finished_sibling_keeps_the_other() -> None:
    history = history_from("3-02")
    by_name = plan([change("fetchFast", "reset_after")], history)
    by_event = plan([change("fetchFast", "reset_after")], history, by_event=True)
    # The API resets to the task right after fetchFast (19): fetchSlow is re-dispatched.
    assert by_name.boundary == 19
    # By event: the task that scheduled the next step (24), after fetchSlow completed (21).
    assert by_event.boundary == 24


def test_by_event_rerun_inside_a_loop_keeps_the_earlier_iterations_of_other_steps() -> None:
    events = Events()
    events.run(
        "__internal#getTraceDestinations", "prepare", "draft", "critique", "draft", "critique"
    )
    history = events.history()
    first_critique = history.occurrences("critique")[0]
    decision = plan([change("critique")], history, by_event=True)
    assert decision.boundary == first_critique.scheduled_by
    assert decision.anchor == "prepare"  # what the API could do: drafts re-run too
    assert decision.why == (
        f"the reset point is event {first_critique.scheduled_by}, the workflow task that first "
        "scheduled critique: prepare and everything else that finished before it is kept"
    )


def test_by_event_reset_after_a_chosen_occurrence() -> None:
    events = Events()
    events.run("__internal#getTraceDestinations", "draft", "critique", "draft", "critique")
    history = events.history()
    rule = Rule(files=("x",), action="reset_after", step="draft", line=1, occurrence=1)
    decision = plan([Change(rule=rule, files=("x",))], history, by_event=True)
    assert decision.boundary == history.occurrences("critique")[0].scheduled_by
    assert decision.why == "keep draft (occurrence 1) and re-run what follows"


def test_by_name_cannot_pick_an_earlier_occurrence() -> None:
    events = Events()
    events.run("__internal#getTraceDestinations", "draft", "critique", "draft", "critique")
    rule = Rule(files=("x",), action="reset_after", step="draft", line=1, occurrence=1)
    decision = plan([Change(rule=rule, files=("x",))], events.history())
    assert decision.kind == "none"
    assert decision.why.startswith("the Output API can only reset after the last occurrence")


def test_an_occurrence_that_does_not_exist() -> None:
    events = Events()
    events.run("__internal#getTraceDestinations", "draft")
    rule = Rule(files=("x",), action="reset_after", step="draft", line=1, occurrence=3)
    decision = plan([Change(rule=rule, files=("x",))], events.history(), by_event=True)
    assert decision.why == "draft ran 1 times; there is no occurrence 3"


def test_by_event_first_step_without_trace_needs_no_fresh_run() -> None:
    decision = plan([change("sumValues")], history_from("5-02"), by_event=True)
    assert (decision.kind, decision.boundary) == ("reset", 4)


def test_by_event_child_step_resets_to_the_task_that_started_the_child() -> None:
    parent, child = history_from("4-02"), history_from("4-04")
    decision = plan([change("childStep")], parent, {child.workflow_id: child}, by_event=True)
    assert decision.boundary == 18


# -- what a decision keeps and re-runs; workflow code


def test_a_reset_lists_what_it_keeps_and_what_re_runs() -> None:
    decision = decide(history_from("1-06"), change("draftOutline"))
    assert [a.step for a in decision.kept] == ["extractTopics"]
    assert decision.rerun == ("draftOutline", "polishDraft")


def test_a_redispatched_sibling_is_not_kept() -> None:
    # By name, "reset after fetchFast" resets before fetchSlow completed: it runs again.
    decision = decide(history_from("3-02"), change("fetchFast", "reset_after"))
    assert decision.why == (
        "keep fetchFast and re-run what follows (fetchSlow had not finished: it runs again)"
    )
    assert [a.step for a in decision.kept] == ["fetchFast"]
    assert decision.rerun == ("fetchSlow", "loopStep", "combine")


def test_a_fresh_run_keeps_nothing() -> None:
    decision = decide(history_from("5-02"), change("sumValues"))
    assert decision.kept == ()
    assert decision.rerun == ("sumValues",)


def test_a_workflow_code_edit_starts_a_fresh_run() -> None:
    code = change("draftOutline", "rerun", "src/workflows/probe_three/workflow.ts")
    decision = decide(history_from("1-06"), code, change("polishDraft"))
    assert decision.kind == "fresh"
    assert decision.why.startswith("workflow.ts is workflow code, which a reset replays")


def test_allow_replay_resets_for_workflow_code() -> None:
    rule = Rule(
        files=("src/workflows/probe_three/workflow.ts",),
        action="rerun",
        step="draftOutline",
        line=1,
        allow_replay=True,
    )
    decision = decide(history_from("1-06"), Change(rule=rule, files=rule.files))
    assert (decision.kind, decision.anchor) == ("reset", "extractTopics")


def test_a_child_run_pinned_by_itself_is_said_to_run_alone_not_to_lack_tracing() -> None:
    child = history_from("4-04")  # probe_child, started by rec-parent-1
    assert child.parent_id == "rec-parent-1"
    decision = plan([change("childStep")], child)
    assert decision.kind == "fresh"
    assert decision.brief == "the first step of a child run of rec-parent-1"
    assert "tracing" not in decision.why
    assert "map these files under the entry of rec-parent-1" in decision.why
    assert history_from("1-06").parent_id is None
