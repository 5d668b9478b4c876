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
from runner.evals import verdict_line
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


def diff_lines(
    report: d.RunCompared,
    *,
    verbose: bool = False,
    shown: dict[tuple[str, ...], str] | None = None,
) -> list[str]:
    """Each distinct change once, naming every output that changed the same way; the unchanged
    ones together on one line. At most a screenful of diff lines unless `verbose`. `shown`:
    the changes shown for other cases of the same save (diff lines -> case), named, not
    repeated (and this case's added)."""
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
        if shown is not None and change in shown:
            lines.append(f"  {joined(names)} changed as in {shown[change]}")
            continue
        if shown is not None and report.case:
            shown[change] = report.case
        lines.append(f"  {joined(names)} {how} (- run {report.previous_run_id}, + this run):")
        cut = change if budget is None else change[:budget]
        lines.extend(f"    {line}" for line in cut)
        if len(cut) < len(change):
            lines.append(f"    ... {len(change) - len(cut)} more lines (-v shows all)")
        if budget is not None:
            budget -= len(cut)
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


def cases_line(event: d.CasesDecided) -> str:
    """One line for a burst of a fanned-out entry, the files first, then the cases that share a
    decision together: "blog: p.prompt changed; 3 cases: reset after extract; long_post: no
    reset, it never reached score"."""
    files = dict.fromkeys(f for c in event.cases if c.decision for f in c.decision.files)
    head = f"{event.label}: {file_list(list(files))} changed; " if files else f"{event.label}: "
    groups: dict[str, list[str]] = {}
    for case in event.cases:
        groups.setdefault(_case_action(case), []).append(_case_name(event.label, case.label))
    parts = [
        f"{_cases(names)}: {action}" if len(names) > 1 or len(event.cases) > 1 else action
        for action, names in sorted(groups.items(), key=lambda g: -len(g[1]))
    ]
    return head + "; ".join(parts)


def _cases(names: list[str]) -> str:
    return f"{len(names)} cases" if len(names) > 3 else joined(names)


def _case_action(case: d.CaseDecided) -> str:
    if case.decision is None:
        return f"not reset: {case.error}"
    line = decision_line("", case.decision, case.outcome)
    action = line.split(" changed: ", 1)[1]
    return action.split("; new run ", 1)[0]  # each case's new run is in -v and in the view


def _case_name(entry: str, label: str) -> str:
    return label.removeprefix(f"{entry}/")


def matrix_lines(event: d.Evaluated) -> list[str]:
    """The verdict matrix: a row per case, a column per evaluator, each cell with its change
    since the last iteration (↑ improved, ↓ regressed); a regression says so in words."""
    table = event.matrix
    before = ", before any edit" if event.baseline else ""
    head = [f"{event.eval_workflow}{before}: {verdict_line(table)}"]
    names = [
        n + ("" if all(r.cells[i].required for r in table.rows) else " (info)")
        for i, n in enumerate(table.evaluators)
    ]
    rows = [["case", *names, "verdict", ""]]
    for row in table.rows:
        cells = [_cell(c.verdict, c.change) for c in row.cells]
        verdict = row.verdict.upper()
        if row.before is not None and row.change != "same":
            verdict += f" (was {row.before.upper()})"
        word = {"regressed": "REGRESSED", "improved": "improved"}.get(row.change, "")
        rows.append([_case_name(event.label, row.case), *cells, verdict, word])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    shown = [
        "  " + "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip()
        for r in rows
    ]
    errors = [f"  {r.case}: the evaluators failed: {r.error}" for r in table.rows if r.error]
    unjudged = [
        f"  {case}: not judged: the eval workflow's output has no verdict for it"
        for case in event.unjudged
    ]
    return head + shown + errors + unjudged


def _cell(verdict: str | None, change: str) -> str:
    mark = {"improved": " ↑", "regressed": " ↓"}.get(change, "")
    return (verdict or "-") + mark


def lines(event: d.Report, *, verbose: bool = False) -> list[Line]:
    """The lines (and whether each goes to stderr) for one report."""
    if isinstance(event, d.Changed) and not event.catch_up and not verbose:
        return []
    shape = _SHAPES.get(type(event))
    return shape(event, verbose) if shape is not None else []


def _ready(event: d.Ready, verbose: bool = False) -> list[Line]:
    runs = f" ({count(event.runs, 'pinned run')})" if event.runs > event.workflows else ""
    return [
        (
            f"watching {count(event.files, 'file')} for {count(event.workflows, 'workflow')}"
            f"{runs}; edit one to reset (Ctrl-C to stop)",
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


def _cases_decided(event: d.CasesDecided, verbose: bool) -> list[str]:
    shown = [cases_line(event)]
    outcomes = [c.outcome for c in event.cases if c.outcome is not None]
    saved = [o.savings for o in outcomes if o.savings is not None and o.savings.steps]
    if saved:
        seconds = sum(s.seconds for s in saved)
        tokens = [s.tokens for s in saved if s.tokens is not None]
        usage = usage_text(sum(tokens) if tokens else None, None)
        shown.append(
            f"  replayed {counted(saved[0].steps)} in {count(len(saved), 'case')} instead of "
            f"re-running: saved {seconds:.1f}s{usage}"
        )
    if verbose or not outcomes:
        for case in event.cases:
            if case.decision is not None:
                shown.append(f"  {decision_line(case.label, case.decision, case.outcome)}")
                shown.append(f"  {why_line(case.decision)}")
    return shown


def step_line(event: d.StepDone) -> str:
    activity = event.activity
    took = f" {activity.duration_s:.1f}s" if activity.duration_s is not None else ""
    case = f"{event.case}: " if event.case else ""
    if activity.outcome == "completed":
        return f"  {case}✓ {activity.step}{took}"
    return f"  {case}✗ {activity.step}{took} {activity.outcome.replace('_', ' ')}"


def _finished(event: d.RunFinished, verbose: bool = False) -> list[Line]:
    took = f" after {event.seconds:.1f}s" if event.seconds is not None else ""
    case = f"{event.case}: " if event.case else ""
    return [(f"  {case}run {event.run_id} {event.status}{took}", False)]


def _compared(event: d.RunCompared, verbose: bool) -> list[Line]:
    return compared_lines(event, verbose=verbose)


def compared_lines(
    event: d.RunCompared, *, verbose: bool, shown: dict[tuple[str, ...], str] | None = None
) -> list[Line]:
    """A run's output and what changed. For a case of a fan-out, `shown` holds the changes
    shown for the other cases of the same save: a change already shown is named, not
    repeated (a prompt edit often changes every case's output the same way)."""
    if not event.case:
        said = result_lines(event.result) + diff_lines(event, verbose=verbose)
        return [(x, False) for x in said]
    # A case of a fan-out: what changed, in a line when nothing did; its whole output with -v
    # (and in `output-reset compare`), since twenty outputs in full would bury the diffs.
    if not verbose and not any(diff.changed for diff in event.diffs):
        return [(f"  {event.case}: same output as run {event.previous_run_id}", False)]
    diffs = diff_lines(event, verbose=verbose, shown=None if verbose else shown)
    said = (result_lines(event.result) if verbose else []) + diffs
    return [(x, False) for x in [f"  {event.case}:", *(f"  {line}" for line in said)]]


def recorded_line(event: d.Recorded) -> str:
    if not event.hint:
        return f"  iteration {event.n} kept"
    return (
        f"  iteration {event.n} kept: `output-reset log` lists them, "
        f"`output-reset restore {event.n}` brings its files back"
    )


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
    d.RunCompared: _compared,
    d.Notice: _notice,
    d.ConfigReloaded: lambda e, v: [(f"reloaded {e.path}", False)],
    d.CasesDecided: lambda e, v: [(x, False) for x in _cases_decided(e, v)],
    d.Evaluated: lambda e, v: [(x, False) for x in matrix_lines(e)],
    d.SessionSummary: lambda e, v: [(summary_line(e), False)],
    d.Recorded: lambda e, v: [(recorded_line(e), False)],
}


def first_runs_line(types: list[str]) -> str:
    """Workflows with no run yet, said once at start (five named, then a count)."""
    shown = ", ".join(types[:5]) + (f" and {len(types) - 5} more" if len(types) > 5 else "")
    return (
        f"no run yet of {shown}: each is pinned when its first run appears "
        "(start one with `npx output workflow run <type>`)"
    )
