"""What changed between two iterations of a run: step outputs and the result (pure core).

Outputs come from histories read with payloads (docs/output-api.md §7.4: traces are unreliable after
a reset), so each re-executed step is compared with the same step's last output in the run
it replaced.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from runner.history import RunHistory

RESULT = "(workflow result)"


@dataclass(frozen=True, slots=True, kw_only=True)
class OutputDiff:
    step: str
    changed: bool
    lines: tuple[str, ...]  # a unified diff, without the --- / +++ header


def compare_runs(old: RunHistory, new: RunHistory, steps: Sequence[str]) -> list[OutputDiff]:
    """Diffs of each step in `steps` that produced an output in `new`, then of the result."""
    diffs: list[OutputDiff] = []
    for step in steps:
        after = _last_result(new, step)
        if after is MISSING:
            continue
        diffs.append(_diff(step, _last_result(old, step), after))
    if new.status == "completed":
        diffs.append(
            _diff(RESULT, old.result if old.status == "completed" else MISSING, new.result)
        )
    return diffs


def render(value: Any) -> str:
    """Strings as they are (prompts and LLM text are multi-line), the rest as indented JSON."""
    if value is MISSING:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


MISSING: Any = _Missing()  # no value at all (not even null): renders as nothing


def _last_result(history: RunHistory, step: str) -> Any:
    done = [a for a in history.occurrences(step) if a.outcome == "completed"]
    return done[-1].result if done else MISSING


def diff_lines(before: Any, after: Any) -> tuple[str, ...]:
    """A unified diff of the two values as `render` shows them, without the --- / +++
    header; empty when they read the same. MISSING reads as nothing."""
    old_text, new_text = render(before).splitlines(), render(after).splitlines()
    return tuple(
        line.rstrip("\n")
        for line in difflib.unified_diff(old_text, new_text, lineterm="", n=2)
        if not line.startswith(("---", "+++"))
    )


def _diff(step: str, before: Any, after: Any) -> OutputDiff:
    lines = diff_lines(before, after)
    return OutputDiff(step=step, changed=bool(lines), lines=lines)
