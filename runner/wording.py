"""How each report reads as text, one line or a few (pure: no terminal, no clock).

The plain and live views print these lines with a timestamp; the CLI and the demo reuse the
pieces (`count`, the decision line, savings and diffs). `Line` pairs a text with whether it
belongs on stderr (warnings and errors).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from runner import reports as d
from runner.compare import RESULT, render
from runner.pathnames import file_list
from runner.plan import Decision
from runner.reports import Outcome
from runner.usage import Savings, Totals

Line = tuple[str, bool]  # the text, and whether it goes to stderr

MAX_DIFF_LINES = 40
MAX_RESULT_LINES = 20


def count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def decision_line(label: str, decision: Decision, outcome: Outcome | None) -> str:
    """The one line that explains a decision: files, rules, reset point and why, new run."""
    files = file_list(decision.files)
    rules = ", ".join(dict.fromkeys(o.change.rule.describe() for o in decision.outcomes))
    head = f"{label}: {files} changed ({rules})"
    if decision.kind == "none":
        return f"{head}: no reset, {decision.why}"
    action = f"reset after {decision.anchor}" if decision.kind == "reset" else "fresh run"
    if decision.kind == "reset" and decision.anchor is None:
        action = f"reset to event {decision.boundary}"
    line = f"{head}: {action}, {decision.why}"
    if outcome is None:
        return f"{line} [dry run: nothing done]"
    if outcome.new_run_id:
        found = " (recovered after a lost answer)" if outcome.recovered else ""
        return f"{line}; new run {outcome.new_run_id}{found}"
    return line


def usage_text(tokens: int | None, cost: float | None) -> str:
    """ ", 18,204 tokens, $0.0912": the LLM usage part of a savings line, where it is known."""
    text = f", {tokens:,} tokens" if tokens is not None else ""
    return text + (f", ${cost:.4f}" if cost is not None else "")


def savings_line(savings: Savings) -> str | None:
    if not savings.steps:
        return None
    steps = ", ".join(dict.fromkeys(savings.steps))
    extra = usage_text(savings.tokens, savings.cost if savings.tokens is not None else None)
    return f"replayed {steps} instead of re-running: saved {savings.seconds:.1f}s{extra}"


def summary_line(summary: d.SessionSummary) -> str:
    totals = summary.totals
    return (
        f"this session: {count(totals.resets, 'reset')}, "
        f"{count(totals.steps, 'step')} replayed instead of re-run, "
        f"{totals.seconds:.1f}s saved{usage_text(totals.tokens, totals.cost)}"
    )


def totals_line(totals: Totals) -> str:
    """What every logged reset saved (`status`)."""
    return (
        f"saved so far: {count(totals.resets, 'reset')}, "
        f"{count(totals.steps, 'step')} replayed instead of re-run, "
        f"{totals.seconds:.1f}s{usage_text(totals.tokens, totals.cost)}"
    )


def diff_lines(report: d.RunCompared) -> list[str]:
    """Each changed output as a diff; the unchanged ones named together on one line."""
    lines: list[str] = []
    same: list[str] = []
    for diff in report.diffs:
        name = "the workflow result" if diff.step == RESULT else diff.step
        if not diff.changed:
            same.append(name)
            continue
        lines.append(f"  {name} changed (- run {report.previous_run_id}, + this run):")
        shown = diff.lines[:MAX_DIFF_LINES]
        lines.extend(f"    {line}" for line in shown)
        if len(diff.lines) > len(shown):
            lines.append(f"    ... {len(diff.lines) - len(shown)} more lines")
    if same:
        every = len(same) == len(report.diffs)
        subject = "every output" if every else ", ".join(same)
        verb = "is" if every or len(same) == 1 else "are"
        lines.append(f"  {subject} {verb} the same as in run {report.previous_run_id}")
    return lines


def result_lines(result: Any) -> list[str]:
    text = render(result).splitlines()
    shown = [f"    {line}" for line in text[:MAX_RESULT_LINES]]
    if len(text) > MAX_RESULT_LINES:
        shown.append(f"    ... {len(text) - MAX_RESULT_LINES} more lines")
    return ["  output:", *shown] if shown else []


def lines(event: d.Report, *, verbose: bool = False) -> list[Line]:
    """The lines (and whether each goes to stderr) for one report."""
    if isinstance(event, d.Changed) and not event.catch_up and not verbose:
        return []
    shape = _SHAPES.get(type(event))
    return shape(event) if shape is not None else []


def _ready(event: d.Ready) -> list[Line]:
    return [
        (
            f"watching {count(event.files, 'file')} for {count(event.workflows, 'workflow')}; "
            "edit one to reset (Ctrl-C to stop)",
            False,
        )
    ]


def _pinned(event: d.Pinned) -> list[Line]:
    how = {"state": "pinned", "config": "from config", "latest": "latest run"}
    source = how.get(event.source, event.source)
    return [(f"{event.label}: run {event.run_id} ({source}, {event.status})", False)]


def _changed(event: d.Changed) -> list[Line]:
    files = file_list(event.files)
    if event.catch_up:
        return [(f"changed while output-reset was not running: {files}", False)]
    return [(f"changed: {files}", False)]


def _waiting(event: d.WaitingForWorker) -> list[Line]:
    what = "restart" if event.md_only else "load the new code"
    return [
        (
            f"{event.label}: {file_list(event.files)} changed; waiting for Output's worker to "
            f"{what} (up to {event.timeout_s:.0f} s; --no-wait-worker skips this)",
            False,
        )
    ]


def _decided(event: d.Decided) -> list[Line]:
    outcome = event.outcome
    shown = [(decision_line(event.label, event.decision, outcome), False)]
    saved = savings_line(outcome.savings) if outcome and outcome.savings else None
    if saved:
        shown.append((f"  {saved}", False))
    return shown


def step_line(event: d.StepDone) -> str:
    activity = event.activity
    took = f" {activity.duration_s:.1f}s" if activity.duration_s is not None else ""
    if activity.outcome == "completed":
        return f"  ✓ {activity.step}{took}"
    return f"  ✗ {activity.step}{took} {activity.outcome.replace('_', ' ')}"


def _finished(event: d.RunFinished) -> list[Line]:
    took = f" after {event.seconds:.1f}s" if event.seconds is not None else ""
    return [(f"  run {event.run_id} {event.status}{took}", False)]


def _notice(event: d.Notice) -> list[Line]:
    prefix = "" if event.level == "info" else f"{event.level}: "
    return [(prefix + event.message, event.level != "info")]


_SHAPES: dict[type, Callable[[Any], list[Line]]] = {
    d.Ready: _ready,
    d.Pinned: _pinned,
    d.Changed: _changed,
    d.WaitingForWorker: _waiting,
    d.Decided: _decided,
    d.StepDone: lambda e: [(step_line(e), False)],
    d.RunFinished: _finished,
    d.RunCompared: lambda e: [(x, False) for x in result_lines(e.result) + diff_lines(e)],
    d.Notice: _notice,
    d.ConfigReloaded: lambda e: [(f"reloaded {e.path}", False)],
    d.SessionSummary: lambda e: [(summary_line(e), False)],
}
