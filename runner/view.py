"""How `watch` shows what the daemon reports: plain lines, a live terminal view, or JSON lines.

Plain lines are for logs and pipes, one line per event with a timestamp. The live view (rich)
shows the re-executed steps of the run being followed as they complete. `--json` writes one
JSON object per event for editor integrations. The words are in wording.py, the JSON shapes in
jsonlines.py; this module only prints. Only the CLI and the demo use it.
"""

from __future__ import annotations

import json
import sys
import threading
from datetime import datetime
from typing import IO

from rich.console import Console, Group
from rich.live import Live
from rich.padding import Padding
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from runner import reports as d
from runner.jsonlines import event_json
from runner.wording import compared_lines, count, lines


class PlainView:
    """One timestamped line per event."""

    def __init__(self, *, verbose: bool, out: IO[str] | None = None) -> None:
        self.verbose = verbose
        self._out = out or sys.stdout
        self._lock = threading.Lock()
        self._case_diffs: dict[tuple[str, ...], str] = {}  # this save's changes shown, by case

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
        if isinstance(event, d.CasesDecided):
            self._case_diffs = {}  # a new save of a fan-out
        elif isinstance(event, d.RunCompared) and event.case:
            return compared_lines(event, verbose=self.verbose, shown=self._case_diffs)
        return lines(event, verbose=self.verbose)


class LiveView(PlainView):
    """Plain lines, plus a live table of the followed run's steps while it runs."""

    def __init__(self, *, verbose: bool) -> None:
        super().__init__(verbose=verbose)
        self._console = Console(highlight=False)
        self._live: Live | None = None
        self._rows: dict[str, str] = {}
        self._run_id = ""
        self._cases: _Cases | None = None

    def line(self, text: str, *, err: bool = False) -> None:
        stamp = datetime.now().strftime("%H:%M:%S")
        with self._lock:
            self._console.print(Text(f"{stamp} {text}", style=_style(text, err)), soft_wrap=True)

    def report(self, event: d.Report) -> None:
        if self._cases_report(event):
            return
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

    def _cases_report(self, event: d.Report) -> bool:
        """The runs of a fanned-out entry: one live row per case while they run."""
        if isinstance(event, d.CasesDecided):
            super().report(event)
            runs = {
                c.label.removeprefix(f"{event.label}/"): c.decision.rerun
                for c in event.cases
                if c.outcome is not None and c.outcome.new_run_id and c.decision is not None
            }
            if runs:
                self._stop()
                self._cases = _Cases(runs)
                self._live = Live(
                    self._cases.table(), console=self._console, refresh_per_second=8, transient=True
                )
                self._live.start()
            return True
        cases = self._cases
        if cases is None or not isinstance(event, d.StepDone | d.RunFinished) or not event.case:
            return False
        cases.update(event)
        if cases.done:
            self._stop()
            self._cases = None
            for text in cases.summary():
                self.line(text)
        elif self._live is not None:
            self._live.update(cases.table())
        return True

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


class _Cases:
    """Per case of a fanned-out entry: steps done of those to re-run, the step running, the end."""

    def __init__(self, runs: dict[str, tuple[str, ...]]) -> None:
        self.rerun = runs
        self.done_steps: dict[str, list[str]] = {case: [] for case in runs}
        self.failed: dict[str, str] = {}
        self.ended: dict[str, str] = {}

    @property
    def done(self) -> bool:
        return len(self.ended) == len(self.rerun)

    def update(self, event: d.StepDone | d.RunFinished) -> None:
        case = event.case or ""
        if case not in self.rerun:
            return
        if isinstance(event, d.RunFinished):
            self.ended[case] = event.status
        elif event.activity.outcome == "completed":
            self.done_steps[case].append(event.activity.step)
        else:
            self.failed[case] = event.activity.step

    def table(self) -> Table:
        table = Table.grid(padding=(0, 2))
        for case, steps in self.rerun.items():
            done = len(self.done_steps[case])
            if case in self.failed:
                state = Text(f"✗ {self.failed[case]} failed", style="red")
            elif case in self.ended:
                state = Text(f"✓ {self.ended[case]}", style="green")
            else:
                nxt = steps[done] if done < len(steps) else ""
                state = Text(f"running {nxt}".rstrip(), style="cyan")
            table.add_row(f"  {case}", f"{done}/{len(steps)} steps", state)
        return table

    def summary(self) -> list[str]:
        return [
            f"  {case}: {count(len(self.done_steps[case]), 'step')} run, "
            f"{self.ended.get(case, '?')}"
            + (f" ({self.failed[case]} failed)" if case in self.failed else "")
            for case in self.rerun
        ]


def _style(text: str, err: bool) -> str:
    if err:
        return "red" if text.startswith("error: ") else "yellow"
    if text.endswith("REGRESSED") or text.endswith(": worse"):
        return "bold red"
    if text.endswith("  improved") or text.endswith(": better"):
        return "green"
    return ""


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


def make_view(*, as_json: bool, verbose: bool, live: bool) -> PlainView | JsonView:
    if as_json:
        return JsonView()
    if live:
        return LiveView(verbose=verbose)
    return PlainView(verbose=verbose)
