"""What `watch` prints: exact lines for each kind of event, and the live view end to end."""

from __future__ import annotations

import io
import json
from typing import Literal

from rich.console import Console
from rich.table import Table

from runner import reports as d
from runner.compare import RESULT, OutputDiff
from runner.history import Activity
from runner.pins import Pin
from runner.plan import plan
from runner.reports import Outcome
from runner.usage import Savings, Totals
from runner.view import JsonView, LiveView, PlainView
from runner.wording import cases_line, decision_line, diff_lines, lines, savings_line
from tests.recordings import history_from
from tests.unit.test_plan import change

RUN = "01a2120c-2695-70a1-83f6-9d9ec4cacd75"
PIN = Pin(workflow_id="wf", run_id="new", fingerprint="f")


def test_no_reset_line() -> None:
    decision = plan([change("publish")], history_from("2-11"))
    assert decision_line("wf", decision, None) == (
        "wf: prompts/publish.prompt changed: no reset, the run has not reached "
        "publish yet (it is at polishDraft); it will run publish on the new code"
    )


def test_the_decision_line_leads_with_file_reset_point_and_new_run() -> None:
    decision = plan([change("polishDraft")], history_from("1-06"))
    outcome = Outcome(decision=decision, pin=PIN, new_run_id="new-1", reason="r")
    assert decision_line("wf", decision, outcome) == (
        "wf: prompts/polishDraft.prompt changed: reset after draftOutline; new run new-1"
    )
    # The reasoning is one line more, with -v.
    verbose = PlainView(verbose=True).render(d.Decided("wf", decision, outcome))
    assert verbose == [
        ("wf: prompts/polishDraft.prompt changed: reset after draftOutline; new run new-1", False),
        (
            "  why: draftOutline finished last before polishDraft first ran "
            "(rule: rerun polishDraft)",
            False,
        ),
    ]
    assert PlainView(verbose=False).render(d.Decided("wf", decision, outcome)) == verbose[:1]


def test_the_cases_line_leads_with_the_files_then_the_cases_that_share_a_decision() -> None:
    reset = plan([change("polishDraft")], history_from("1-06"))
    outcome = Outcome(decision=reset, pin=PIN, new_run_id="new-1", reason="r")
    event = d.CasesDecided(
        "blog",
        (
            d.CaseDecided("blog/basic", reset, outcome),
            d.CaseDecided("blog/long", reset, outcome),
            d.CaseDecided("blog/empty", None, None, error="still running"),
        ),
    )
    assert cases_line(event) == (
        "blog: prompts/polishDraft.prompt changed; basic and long: reset after draftOutline; "
        "empty: not reset: still running"
    )


def test_a_reset_to_a_workflow_task_says_the_event_once() -> None:
    # Temporal engine, a step with nothing before it: the reset goes to a workflow task.
    decision = plan([change("childStep")], history_from("4-04"), by_event=True)
    outcome = Outcome(decision=decision, pin=PIN, new_run_id="new-1", reason="r")
    assert decision_line("wf", decision, outcome) == (
        "wf: prompts/childStep.prompt changed: reset to event 4; new run new-1"
    )


def test_dry_run_and_fresh_run_lines() -> None:
    fresh = plan([change("sumValues")], history_from("5-02"))
    assert decision_line("nt", fresh, None) == (
        "nt: prompts/sumValues.prompt changed: fresh run with the same input (the first step, "
        "and tracing is disabled) [dry run: nothing done]"
    )
    # A dry run says why, like plan.
    shown = PlainView(verbose=False).render(d.Decided("nt", fresh, None))
    assert shown[1][0].startswith("  why: sumValues is the first step and the run has no trace")


def test_savings_and_summary_lines() -> None:
    savings = Savings(steps=("fetch", "extract"), seconds=41.25, tokens=18204, cost=0.0912)
    assert savings_line(savings) == (
        "replayed fetch, extract instead of re-running: saved 41.2s, 18,204 tokens, $0.0912"
    )
    assert savings_line(Savings(steps=(), seconds=0, tokens=None, cost=None)) is None
    view = PlainView(verbose=False)
    assert view.render(d.SessionSummary(Totals(resets=3, steps=5, seconds=12.5))) == [
        ("this session: 3 resets, 5 steps replayed instead of re-run, 12.5s saved", False)
    ]


def test_repeated_steps_are_counted_and_the_summary_counts_the_same() -> None:
    kept = ("fetchArticle", "extractClaims", *["checkClaim"] * 5)
    savings = Savings(steps=kept, seconds=7.0, tokens=None, cost=None)
    assert savings_line(savings) == (
        "replayed fetchArticle, extractClaims, checkClaim ×5 instead of re-running: saved 7.0s"
    )
    totals = Totals()
    totals.add(savings)
    assert PlainView(verbose=False).render(d.SessionSummary(totals)) == [
        ("this session: 1 reset, 7 steps replayed instead of re-run, 7.0s saved", False)
    ]


def test_a_change_passed_on_is_shown_once_naming_all_it_reached() -> None:
    same = ("@@ -1 +1 @@", "-Draft v1", "+Draft v2")
    report = d.RunCompared(
        "wf",
        "new",
        "old",
        (
            OutputDiff(step="draft_digest", changed=True, lines=same),
            OutputDiff(step="polish_digest", changed=True, lines=same),
            OutputDiff(step="publish", changed=True, lines=("@@ -1 +1 @@", "-a", "+b")),
            OutputDiff(step=RESULT, changed=True, lines=same),
        ),
        {"x": 1},
    )
    assert diff_lines(report) == [
        "  draft_digest, polish_digest and the workflow result changed the same way "
        "(- run old, + this run):",
        "    @@ -1 +1 @@",
        "    -Draft v1",
        "    +Draft v2",
        "  publish changed (- run old, + this run):",
        "    @@ -1 +1 @@",
        "    -a",
        "    +b",
    ]


def test_a_long_diff_is_cut_to_a_screenful_and_says_what_it_left_out() -> None:
    long = ("@@ -1,60 +1,60 @@", *(f"-{i}" for i in range(30)), *(f"+{i}" for i in range(30)))
    report = d.RunCompared(
        "wf",
        "new",
        "old",
        (
            OutputDiff(step="write", changed=True, lines=long),
            OutputDiff(step="review", changed=True, lines=("@@ -1 +1 @@", "-x", "+y")),
        ),
        None,
    )
    shown = diff_lines(report)
    assert len(shown) == 1 + 40 + 1 + 1 + 1
    assert shown[41] == "    ... 21 more lines (-v shows all)"
    assert shown[42:] == [
        "  review changed (- run old, + this run):",
        "    ... 3 more lines (-v shows all)",
    ]
    assert len(diff_lines(report, verbose=True)) == 2 + len(long) + 3


def test_unchanged_outputs_share_one_line() -> None:
    report = d.RunCompared(
        "wf",
        "new",
        "old",
        (
            OutputDiff(step="score", changed=True, lines=("@@ -1 +1 @@", "-4", "+7")),
            OutputDiff(step="summarize", changed=False, lines=()),
            OutputDiff(step=RESULT, changed=False, lines=()),
        ),
        {"x": 1},
    )
    assert diff_lines(report) == [
        "  score changed (- run old, + this run):",
        "    @@ -1 +1 @@",
        "    -4",
        "    +7",
        "  summarize and the workflow result are the same as in run old",
    ]


def test_a_case_of_a_fan_out_shows_what_changed_and_its_output_only_with_v() -> None:
    unchanged = d.RunCompared(
        "wf-case-basic",
        "new",
        "old",
        (OutputDiff(step="score", changed=False, lines=()),),
        {"x": 1},
        case="basic",
    )
    assert [text for text, _ in lines(unchanged)] == ["  basic: same output as run old"]
    changed = d.RunCompared(
        "wf-case-long",
        "new",
        "old",
        (OutputDiff(step="score", changed=True, lines=("@@ -1 +1 @@", "-4", "+7")),),
        {"x": 1},
        case="long",
    )
    assert [text for text, _ in lines(changed)] == [
        "  long:",
        "    score changed (- run old, + this run):",
        "      @@ -1 +1 @@",
        "      -4",
        "      +7",
    ]
    verbose = [text for text, _ in lines(unchanged, verbose=True)]
    assert verbose[:2] == ["  basic:", "    output:"]


def case_compared(case: str, *changes: tuple[str, tuple[str, ...]]) -> d.RunCompared:
    diffs = tuple(OutputDiff(step=step, changed=True, lines=diff) for step, diff in changes)
    return d.RunCompared(f"wf-case-{case}", f"new-{case}", f"old-{case}", diffs, {}, case=case)


def test_a_change_shown_for_one_case_is_named_for_the_others_of_the_same_save() -> None:
    view = PlainView(verbose=False)
    same = ("@@ -1 +1 @@", "-no jargon.", "+no jargon, reset.")
    other = ("@@ -1 +1 @@", "-4", "+7")
    view.render(d.CasesDecided("wf", ()))
    first = [t for t, _ in view.render(case_compared("basic", ("polish", same)))]
    second = [t for t, _ in view.render(case_compared("long", ("polish", same), ("score", other)))]
    assert first == [
        "  basic:",
        "    polish changed (- run old-basic, + this run):",
        "      @@ -1 +1 @@",
        "      -no jargon.",
        "      +no jargon, reset.",
    ]
    assert second == [
        "  long:",
        "    polish changed as in basic",
        "    score changed (- run old-long, + this run):",
        "      @@ -1 +1 @@",
        "      -4",
        "      +7",
    ]
    # The next save shows its changes again; -v always shows every case's in full.
    view.render(d.CasesDecided("wf", ()))
    again = [t for t, _ in view.render(case_compared("long", ("polish", same)))]
    assert again[1] == "    polish changed (- run old-long, + this run):"
    verbose = PlainView(verbose=True)
    verbose.render(case_compared("basic", ("polish", same)))
    full = verbose.render(case_compared("long", ("polish", same)))
    assert "polish changed as in" not in str(full)


def test_the_ready_line_counts_the_pinned_runs_when_more_than_the_workflows() -> None:
    one = lines(d.Ready(files=1, workflows=1, watches=2, runs=1))
    fanned = lines(d.Ready(files=1, workflows=1, watches=2, runs=3))
    assert one[0][0] == "watching 1 file for 1 workflow; edit one to reset (Ctrl-C to stop)"
    assert fanned[0][0] == (
        "watching 1 file for 1 workflow (3 pinned runs); edit one to reset (Ctrl-C to stop)"
    )


def test_json_view_writes_one_object_per_line() -> None:
    out = io.StringIO()
    view = JsonView(out)
    view.report(d.Ready(files=2, workflows=1, watches=3))
    view.report(d.Notice("careful"))
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith('{"event": "ready", "files": 2, "workflows": 1, "watches": 3,')


def test_live_view_runs_through_a_reset() -> None:
    decision = plan([change("polishDraft")], history_from("1-06"))
    history = history_from("2-02")
    polish = history.occurrences("polishDraft")[-1]
    view = LiveView(verbose=False)
    buffer = io.StringIO()
    view._console = Console(file=buffer, force_terminal=True, width=120)  # a terminal in memory
    outcome = Outcome(
        decision=decision,
        pin=Pin(workflow_id="wf", run_id="new", fingerprint="f"),
        new_run_id="new",
        reason="r",
    )
    view.report(d.Decided("wf", decision, outcome))
    view.report(d.StepDone("wf", "new", polish))
    view.report(d.RunFinished("wf", "new", "completed", 1.0))
    view.close()
    text = buffer.getvalue()
    assert "new run new" in text
    assert "✓ polishDraft" in text
    assert "run new completed after 1.0s" in text


def test_errors_and_warnings_have_their_own_colours_on_a_terminal() -> None:
    view = LiveView(verbose=False)
    buffer = io.StringIO()
    view._console = Console(file=buffer, force_terminal=True, color_system="standard", width=200)
    view.report(d.Notice("the API is down", level="error"))
    view.report(d.Notice("a warning"))
    error_line, warning_line = buffer.getvalue().splitlines()
    assert "\x1b[31m" in error_line  # red
    assert "\x1b[33m" in warning_line  # yellow


def regressed() -> d.Evaluated:
    from runner.evals import matrix, parse
    from tests.unit.test_evals import case

    before = parse({"cases": [case("a", ("e", "pass")), case("b", ("e", "partial"))]})
    now = parse({"cases": [case("a", ("e", "fail")), case("b", ("e", "pass"))]})
    return d.Evaluated("wf", "wf_eval", matrix(now, before), run_id="ev-1")


def test_a_regressed_case_says_so_in_words_and_stands_out_on_a_terminal() -> None:
    shown = [text for text, _ in lines(regressed())]
    assert shown == [
        "wf_eval: 1 pass, 1 fail (was 1 pass, 1 partial): mixed",
        "  case  e       verdict",
        "  a     fail ↓  FAIL (was PASS)     REGRESSED",
        "  b     pass ↑  PASS (was PARTIAL)  improved",
    ]
    view = LiveView(verbose=False)
    buffer = io.StringIO()
    view._console = Console(file=buffer, force_terminal=True, width=120)
    view.report(regressed())
    out = buffer.getvalue()
    assert "\x1b[1;31m" in out.split("REGRESSED")[0].splitlines()[-1]  # bold red
    assert "\x1b[32m" in out.split("improved")[0].splitlines()[-1]  # green


def test_watch_json_writes_the_whole_matrix_as_one_evaluated_event() -> None:
    out = io.StringIO()
    JsonView(out=out).report(regressed())
    (event,) = [json.loads(line) for line in out.getvalue().splitlines()]
    assert {
        k: event[k] for k in ("event", "workflow", "evalWorkflow", "evalRunId", "baseline")
    } == {
        "event": "evaluated",
        "workflow": "wf",
        "evalWorkflow": "wf_eval",
        "evalRunId": "ev-1",
        "baseline": False,
    }
    assert (event["line"], event["trend"], event["evaluators"]) == (
        "1 pass, 1 fail (was 1 pass, 1 partial): mixed",
        "mixed",
        ["e"],
    )
    assert [(c["case"], c["verdict"], c["before"], c["change"]) for c in event["cases"]] == [
        ("a", "fail", "pass", "regressed"),
        ("b", "pass", "partial", "improved"),
    ]
    assert event["cases"][0]["evaluators"]["e"]["change"] == "regressed"


def step_done(case: str, step: str, outcome: Literal["completed", "failed"]) -> d.StepDone:
    activity = Activity(
        scheduled_id=5,
        activity_type=f"probe_three#{step}",
        activity_id="2",
        scheduled_by=4,
        scheduled_at=None,
        outcome=outcome,
    )
    return d.StepDone(f"wf-case-{case}", f"new-{case}", activity, case=case)


def rendered(renderable: Table) -> str:
    buffer = io.StringIO()
    Console(file=buffer, force_terminal=True, no_color=True, width=120).print(renderable)
    return buffer.getvalue()


def test_live_view_of_a_fan_out_has_a_row_per_case_with_its_steps_done() -> None:
    reset = plan([change("draftOutline")], history_from("1-06"))
    assert reset.rerun == ("draftOutline", "polishDraft")
    view = LiveView(verbose=False)
    buffer = io.StringIO()
    view._console = Console(file=buffer, force_terminal=True, width=120)  # a terminal in memory

    def outcome(case: str) -> Outcome:
        return Outcome(decision=reset, pin=PIN, new_run_id=f"new-{case}", reason="r")

    view.report(
        d.CasesDecided(
            "wf",
            (
                d.CaseDecided("wf/basic", reset, outcome("basic")),
                d.CaseDecided("wf/long", reset, outcome("long")),
                d.CaseDecided("wf/empty", None, None, error="still running"),
            ),
        )
    )
    cases = view._cases
    assert cases is not None
    view.report(step_done("basic", "draftOutline", "completed"))
    view.report(step_done("long", "draftOutline", "completed"))
    view.report(step_done("basic", "polishDraft", "completed"))
    rows = rendered(cases.table()).splitlines()
    assert [row.split() for row in rows] == [
        ["basic", "2/2", "steps", "running"],
        ["long", "1/2", "steps", "running", "polishDraft"],
    ]
    view.report(d.RunFinished("wf-case-basic", "new-basic", "completed", 1.0, case="basic"))
    view.report(step_done("long", "polishDraft", "failed"))
    rows = rendered(cases.table()).splitlines()
    assert [row.split() for row in rows] == [
        ["basic", "2/2", "steps", "✓", "completed"],
        ["long", "1/2", "steps", "✗", "polishDraft", "failed"],
    ]
    assert view._live is not None  # still live: long has not ended
    view.report(d.RunFinished("wf-case-long", "new-long", "failed", 1.0, case="long"))
    assert view._live is None
    assert view._cases is None
    view.close()
    out = buffer.getvalue()
    summary = [line.split(" ", 1)[1] for line in out.splitlines() if ": " in line][-2:]
    assert summary == [
        "  basic: 2 steps run, completed",
        "  long: 1 step run, failed (polishDraft failed)",
    ]
    # Drawn on the terminal as the live view stopped: the rows as the last update left them.
    assert "  basic  2/2 steps  " in out
    assert "  long   1/2 steps  " in out
