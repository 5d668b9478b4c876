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
from runner.plan import Decision, counted
from runner.reports import Outcome
from runner.usage import Savings, Totals

Line = tuple[str, bool]  # the text, and whether it goes to stderr

MAX_DIFF_LINES = 40
MAX_RESULT_LINES = 20


def count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def decision_line(label: str, decision: Decision, outcome: Outcome | None) -> str:
    """The line a user scans for: which files, where the reset goes, the new run. A "no reset"
    says why (that is the news); the reasoning behind a reset is in `why_line` (-v, plan)."""
    head = f"{label}: {file_list(decision.files)} changed"
    if decision.kind == "none":
        return f"{head}: no reset, {decision.why}"
    if decision.kind == "fresh":
        action = f"fresh run with the same input ({decision.brief})"
    elif decision.anchor is None:
        action = f"reset to event {decision.boundary}"
    else:
        action = f"reset after {decision.anchor}"
    line = f"{head}: {action}"
    if outcome is None:
        return f"{line} [dry run: nothing done]"
    if outcome.new_run_id:
        found = " (recovered after a lost answer)" if outcome.recovered else ""
        return f"{line}; new run {outcome.new_run_id}{found}"
    return line


def why_line(decision: Decision) -> str:
    """Why that reset point, and which rules asked for it."""
    rules = ", ".join(dict.fromkeys(o.change.rule.describe() for o in decision.outcomes))
    return f"  why: {decision.why} (rule: {rules})" if rules else f"  why: {decision.why}"


def usage_text(tokens: int | None, cost: float | None) -> str:
    """ ", 18,204 tokens, $0.0912": the LLM usage part of a savings line, where it is known."""
    text = f", {tokens:,} tokens" if tokens is not None else ""
    return text + (f", ${cost:.4f}" if cost is not None else "")


def savings_line(savings: Savings) -> str | None:
    if not savings.steps:
        return None
    steps = counted(savings.steps)
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


def diff_lines(report: d.RunCompared, *, verbose: bool = False) -> list[str]:
    """Each distinct change once, naming every output that changed the same way; the unchanged
    ones together on one line. At most a screenful of diff lines unless `verbose`."""
    groups: dict[tuple[str, ...], list[str]] = {}
    same: list[str] = []
    for diff in report.diffs:
        name = "the workflow result" if diff.step == RESULT else diff.step
        if diff.changed:
            groups.setdefault(diff.lines, []).append(name)
        else:
            same.append(name)
    lines: list[str] = []
    budget = None if verbose else MAX_DIFF_LINES
    for change, names in groups.items():
        how = "changed" if len(names) == 1 else "changed the same way"
        lines.append(f"  {joined(names)} {how} (- run {report.previous_run_id}, + this run):")
        shown = change if budget is None else change[:budget]
        lines.extend(f"    {line}" for line in shown)
        if len(shown) < len(change):
            lines.append(f"    ... {len(change) - len(shown)} more lines (-v shows all)")
        if budget is not None:
            budget -= len(shown)
    if same:
        every = len(same) == len(report.diffs)
        subject = "every output" if every else joined(same)
        verb = "is" if every or len(same) == 1 else "are"
        lines.append(f"  {subject} {verb} the same as in run {report.previous_run_id}")
    return lines


def joined(names: list[str]) -> str:
    """ "a", "a and b", "a, b and c"."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


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
    return shape(event, verbose) if shape is not None else []


def _ready(event: d.Ready, verbose: bool = False) -> list[Line]:
    return [
        (
            f"watching {count(event.files, 'file')} for {count(event.workflows, 'workflow')}; "
            "edit one to reset (Ctrl-C to stop)",
            False,
        )
    ]


def _pinned(event: d.Pinned, verbose: bool = False) -> list[Line]:
    how = {"state": "pinned", "config": "from config", "latest": "latest run"}
    source = how.get(event.source, event.source)
    return [(f"{event.label}: run {event.run_id} ({source}, {event.status})", False)]


def _changed(event: d.Changed, verbose: bool = False) -> list[Line]:
    files = file_list(event.files)
    if event.catch_up:
        return [(f"changed while output-reset was not running: {files}", False)]
    return [(f"changed: {files}", False)]


def _waiting(event: d.WaitingForWorker, verbose: bool = False) -> list[Line]:
    what = "restart" if event.md_only else "load the new code"
    return [
        (
            f"{event.label}: {file_list(event.files)} changed; waiting for Output's worker to "
            f"{what} (up to {event.timeout_s:.0f} s; --no-wait-worker skips this)",
            False,
        )
    ]


def _decided(event: d.Decided, verbose: bool = False) -> list[Line]:
    outcome = event.outcome
    shown = [(decision_line(event.label, event.decision, outcome), False)]
    if verbose or outcome is None:  # a dry run shows its reasoning, like plan
        shown.append((why_line(event.decision), False))
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


def _finished(event: d.RunFinished, verbose: bool = False) -> list[Line]:
    took = f" after {event.seconds:.1f}s" if event.seconds is not None else ""
    return [(f"  run {event.run_id} {event.status}{took}", False)]


def _notice(event: d.Notice, verbose: bool = False) -> list[Line]:
    prefix = "" if event.level == "info" else f"{event.level}: "
    return [(prefix + event.message, event.level != "info")]


_SHAPES: dict[type, Callable[[Any, bool], list[Line]]] = {
    d.Ready: _ready,
    d.Pinned: _pinned,
    d.Changed: _changed,
    d.WaitingForWorker: _waiting,
    d.Decided: _decided,
    d.StepDone: lambda e, v: [(step_line(e), False)],
    d.RunFinished: _finished,
    d.RunCompared: lambda e, v: [
        (x, False) for x in result_lines(e.result) + diff_lines(e, verbose=v)
    ],
    d.Notice: _notice,
    d.ConfigReloaded: lambda e, v: [(f"reloaded {e.path}", False)],
    d.SessionSummary: lambda e, v: [(summary_line(e), False)],
}
