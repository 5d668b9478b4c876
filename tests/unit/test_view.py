"""What `watch` prints: exact lines for each kind of event, and the live view end to end."""

from __future__ import annotations

import io

from rich.console import Console

from runner import reports as d
from runner.compare import RESULT, OutputDiff
from runner.plan import plan
from runner.usage import Savings, Totals
from runner.view import JsonView, LiveView, PlainView
from runner.wording import decision_line, diff_lines, savings_line
from tests.recordings import history_from
from tests.unit.test_plan import change

RUN = "01a2120c-2695-70a1-83f6-9d9ec4cacd75"


def test_no_reset_line() -> None:
    decision = plan([change("publish")], history_from("2-11"))
    assert decision_line("wf", decision, None) == (
        "wf: prompts/publish.prompt changed (rerun publish): no reset, the run has not reached "
        "publish yet (it is at polishDraft); it will run publish on the new code"
    )


def test_dry_run_and_fresh_run_lines() -> None:
    fresh = plan([change("sumValues")], history_from("5-02"))
    assert decision_line("nt", fresh, None).endswith("[dry run: nothing done]")
    assert "(rerun sumValues): fresh run, sumValues is the first step" in decision_line(
        "nt", fresh, None
    )


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
        "  summarize, the workflow result are the same as in run old",
    ]


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
    from runner.pins import Pin
    from runner.reports import Outcome

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
