"""How `watch` shows what the daemon reports: plain lines, a live terminal view, or JSON lines.

Plain lines are for logs and pipes, one line per event with a timestamp. The live view (rich)
shows the re-executed steps of the run being followed as they complete. `--json` writes one
JSON object per event for editor integrations. Only the CLI uses this module.
"""

from __future__ import annotations

import json
import sys
import threading
from datetime import datetime
from typing import IO, Any

from rich.console import Console, Group
from rich.live import Live
from rich.padding import Padding
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from runner import reports as d
from runner.compare import RESULT, render
from runner.plan import Decision
from runner.reports import Outcome
from runner.usage import Savings, Totals

MAX_DIFF_LINES = 40
MAX_RESULT_LINES = 20


def count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def decision_line(label: str, decision: Decision, outcome: Outcome | None) -> str:
    """The one line that explains a decision: files, rules, reset point and why, new run."""
    files = ", ".join(decision.files)
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


class PlainView:
    """One timestamped line per event."""

    def __init__(self, *, verbose: bool, out: IO[str] | None = None) -> None:
        self.verbose = verbose
        self._out = out or sys.stdout
        self._lock = threading.Lock()

    def line(self, text: str, *, err: bool = False) -> None:
        stamp = datetime.now().strftime("%H:%M:%S")
        stream = sys.stderr if err else self._out
        with self._lock:
            stream.write(f"{stamp} {text}\n")
            stream.flush()

    def report(self, event: d.Report) -> None:
        for text, err in self.render(event):
            self.line(text, err=err)

    def close(self) -> None:
        pass

    def render(self, event: d.Report) -> list[tuple[str, bool]]:
        """The lines (and whether they go to stderr) for one event."""
        match event:
            case d.Ready(files=files, workflows=workflows):
                return [
                    (
                        f"watching {count(files, 'file')} for {count(workflows, 'workflow')}; "
                        "edit one to reset (Ctrl-C to stop)",
                        False,
                    )
                ]
            case d.Pinned(label=label, run_id=run_id, source=source, status=state):
                how = {"state": "pinned", "config": "from config", "latest": "latest run"}
                return [(f"{label}: run {run_id} ({how.get(source, source)}, {state})", False)]
            case d.Changed(files=files, catch_up=True):
                return [(f"changed while output-reset was not running: {', '.join(files)}", False)]
            case d.Changed(files=files) if self.verbose:
                return [(f"changed: {', '.join(files)}", False)]
            case d.WaitingForWorker(label=label, files=files, md_only=md_only, timeout_s=limit):
                what = "restart" if md_only else "load the new code"
                return [
                    (
                        f"{label}: {', '.join(files)} changed; waiting for Output's worker to "
                        f"{what} (up to {limit:.0f} s; --no-wait-worker skips this)",
                        False,
                    )
                ]
            case d.Decided(label=label, decision=decision, outcome=outcome):
                lines = [(decision_line(label, decision, outcome), False)]
                saved = savings_line(outcome.savings) if outcome and outcome.savings else None
                if saved:
                    lines.append((f"  {saved}", False))
                return lines
            case d.StepDone(activity=activity):
                took = f" {activity.duration_s:.1f}s" if activity.duration_s is not None else ""
                if activity.outcome == "completed":
                    return [(f"  ✓ {activity.step}{took}", False)]
                return [(f"  ✗ {activity.step}{took} {activity.outcome.replace('_', ' ')}", False)]
            case d.RunFinished(run_id=run_id, status=state, seconds=seconds):
                took = f" after {seconds:.1f}s" if seconds is not None else ""
                return [(f"  run {run_id} {state}{took}", False)]
            case d.RunCompared():
                return [(line, False) for line in result_lines(event.result) + diff_lines(event)]
            case d.Notice(message=message, level=level):
                prefix = "" if level == "info" else f"{level}: "
                return [(prefix + message, level != "info")]
            case d.ConfigReloaded(path=path):
                return [(f"reloaded {path}", False)]
            case d.SessionSummary():
                return [(summary_line(event), False)]
            case _:
                return []


class LiveView(PlainView):
    """Plain lines, plus a live table of the followed run's steps while it runs."""

    def __init__(self, *, verbose: bool) -> None:
        super().__init__(verbose=verbose)
        self._console = Console(highlight=False)
        self._live: Live | None = None
        self._rows: dict[str, str] = {}
        self._run_id = ""

    def line(self, text: str, *, err: bool = False) -> None:
        stamp = datetime.now().strftime("%H:%M:%S")
        with self._lock:
            style = "yellow" if err else ""
            self._console.print(Text(f"{stamp} {text}", style=style), soft_wrap=True)

    def report(self, event: d.Report) -> None:
        if isinstance(event, d.Decided) and event.outcome and event.outcome.new_run_id:
            super().report(event)
            self._start(event.outcome.new_run_id, event.decision.rerun)
            return
        if isinstance(event, d.StepDone) and self._live is not None:
            took = f"{event.activity.duration_s:.1f}s" if event.activity.duration_s else ""
            mark = "✓" if event.activity.outcome == "completed" else "✗"
            self._rows[event.activity.step] = f"{mark} {took}"
            self._refresh()
            return
        if isinstance(event, d.RunFinished) and self._live is not None:
            self._stop()
            for step, state in self._rows.items():
                self.line(f"  {state[0]} {step} {state[2:]}".rstrip())
        super().report(event)

    def close(self) -> None:
        self._stop()

    def _start(self, run_id: str, steps: tuple[str, ...]) -> None:
        self._stop()
        self._run_id = run_id
        self._rows = dict.fromkeys(steps, "")
        self._live = Live(
            self._table(), console=self._console, refresh_per_second=8, transient=True
        )
        self._live.start()

    def _stop(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def _refresh(self) -> None:
        if self._live is not None:
            self._live.update(self._table())

    def _table(self) -> Group:
        table = Table.grid(padding=(0, 2))
        table.add_column(width=3)
        running_shown = False
        for step, state in self._rows.items():
            if state:
                mark = Text(state[0], style="green" if state[0] == "✓" else "red")
                table.add_row(mark, step, state[2:])
            elif not running_shown:
                running_shown = True  # steps run one after the other: the next one is running
                table.add_row(Spinner("dots", style="cyan"), step, Text("running", style="cyan"))
            else:
                table.add_row(
                    Text("·", style="dim"), Text(step, style="dim"), Text("to run", style="dim")
                )
        return Group(Text(f"  run {self._run_id}", style="dim"), Padding(table, (0, 0, 0, 2)))


class JsonView:
    """One JSON object per event, for editors and scripts (`watch --json`)."""

    def __init__(self, out: IO[str] | None = None) -> None:
        self._out = out or sys.stdout
        self._lock = threading.Lock()

    def report(self, event: d.Report) -> None:
        payload = event_json(event)
        if payload is None:
            return
        payload["time"] = datetime.now().astimezone().isoformat(timespec="milliseconds")
        with self._lock:
            self._out.write(json.dumps(payload, ensure_ascii=False, default=str) + "\n")
            self._out.flush()

    def close(self) -> None:
        pass


def decision_json(label: str, decision: Decision) -> dict[str, Any]:
    return {
        "workflow": label,
        "workflowId": decision.workflow_id,
        "runId": decision.run_id,
        "action": decision.kind,
        "anchor": decision.anchor,
        "resetEventId": decision.boundary,
        "why": decision.why,
        "files": list(decision.files),
        "kept": list(dict.fromkeys(a.step for a in decision.kept)),
        "rerun": list(decision.rerun),
        "rules": [
            {
                "rule": o.change.rule.describe(),
                "files": list(o.change.files),
                "action": o.kind,
                "anchor": o.anchor,
                "why": o.why,
            }
            for o in decision.outcomes
        ],
    }


def event_json(event: d.Report) -> dict[str, Any] | None:
    match event:
        case d.Ready(files=files, workflows=workflows, watches=watches):
            return {"event": "ready", "files": files, "workflows": workflows, "watches": watches}
        case d.Pinned():
            return {
                "event": "pinned",
                "workflow": event.label,
                "workflowId": event.workflow_id,
                "runId": event.run_id,
                "source": event.source,
                "status": event.status,
            }
        case d.Changed(files=files, catch_up=catch_up):
            return {"event": "change", "files": list(files), "catchUp": catch_up}
        case d.WaitingForWorker(label=label, files=files, md_only=md_only):
            return {"event": "waiting", "workflow": label, "files": list(files), "mdOnly": md_only}
        case d.Decided(label=label, decision=decision, outcome=outcome):
            payload = {
                "event": "decision",
                **decision_json(label, decision),
                "dryRun": outcome is None,
            }
            if outcome is not None and outcome.new_run_id:
                payload["newRunId"] = outcome.new_run_id
                payload["reason"] = outcome.reason
                payload["recovered"] = outcome.recovered
                if outcome.savings is not None:
                    payload["saved"] = outcome.savings.to_json()
            return payload
        case d.StepDone(workflow_id=workflow_id, run_id=run_id, activity=activity):
            return {
                "event": "step",
                "workflowId": workflow_id,
                "runId": run_id,
                "step": activity.step,
                "outcome": activity.outcome,
                "seconds": activity.duration_s,
            }
        case d.RunFinished(workflow_id=workflow_id, run_id=run_id, status=state, seconds=seconds):
            return {
                "event": "run_finished",
                "workflowId": workflow_id,
                "runId": run_id,
                "status": state,
                "seconds": seconds,
            }
        case d.RunCompared():
            return {
                "event": "compared",
                "workflowId": event.workflow_id,
                "runId": event.run_id,
                "previousRunId": event.previous_run_id,
                "result": event.result,
                "diffs": [
                    {"step": x.step, "changed": x.changed, "diff": list(x.lines)}
                    for x in event.diffs
                ],
            }
        case d.Notice(message=message, level=level):
            return {"event": "notice", "level": level, "message": message}
        case d.ConfigReloaded(path=path):
            return {"event": "config_reloaded", "path": path}
        case d.SessionSummary(totals=totals):
            return {
                "event": "summary",
                "resets": totals.resets,
                "stepsReplayed": totals.steps,
                "seconds": totals.seconds,
                "tokens": totals.tokens,
                "cost": totals.cost,
            }
        case _:
            return None


def make_view(*, as_json: bool, verbose: bool, live: bool) -> PlainView | JsonView:
    if as_json:
        return JsonView()
    if live:
        return LiveView(verbose=verbose)
    return PlainView(verbose=verbose)
