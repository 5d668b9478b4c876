"""`.output-reset/resets.jsonl`: one JSON object per decision carried out, appended with one write.

Every reset, fresh run, "no reset" and refusal is logged with its files, reset point, old and
new run and what it saved; `output-reset log` and `status` read it back. A line that cannot be
read (bad bytes, not JSON) is skipped with one warning, never the whole log.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runner.config import WorkflowConfig
from runner.plan import Decision
from runner.reports import Outcome

log = logging.getLogger(__name__)

LOG_NAME = "resets.jsonl"


class AuditLog:
    def __init__(self, folder: Path) -> None:
        self.path = folder / LOG_NAME
        self.warnings: list[str] = []

    def append(self, entry: dict[str, Any]) -> None:
        try:
            append_line(self.path, entry)
        except OSError as exc:
            self._warn(f"cannot append to {_shown(self.path)}: {exc.strerror or exc}")

    def read(self) -> list[dict[str, Any]]:
        """Every readable entry, oldest first."""
        return read_lines(self.path, self._warn)

    def _warn(self, message: str) -> None:
        if message not in self.warnings:
            log.warning(message)
            self.warnings.append(message)


def append_line(path: Path, entry: dict[str, Any]) -> None:
    """Append `entry` as one JSON line, with one write (two writers never interleave).
    A last line cut short before its newline (a crash, a full disk) is ended first, or the
    entry would join it and be lost with it. Raises OSError."""
    line = json.dumps(entry, sort_keys=True, ensure_ascii=False) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            line = "\n" + line  # at worst (a racing writer) an empty line, which is skipped
        # A file name that is not UTF-8 decodes to lone surrogates, which UTF-8 cannot
        # encode; as `\udce9` they stay a valid JSON escape that reads back the same.
        os.write(fd, line.encode("utf-8", "backslashreplace"))
    finally:
        os.close(fd)


def read_lines(path: Path, warn: Callable[[str], None]) -> list[dict[str, Any]]:
    """Every JSON object of a JSON-lines file, in order; lines that cannot be read are
    skipped with one warning naming them."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return []
    except OSError as exc:
        warn(f"cannot read {_shown(path)}: {exc.strerror or exc}")
        return []
    entries: list[dict[str, Any]] = []
    bad: list[int] = []
    for number, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line.decode("utf-8"))
        except ValueError:  # UnicodeDecodeError is one
            bad.append(number)
            continue
        if isinstance(entry, dict):
            entries.append(entry)
        else:
            bad.append(number)
    if bad:
        lines = ", ".join(str(n) for n in bad[:5]) + (" ..." if len(bad) > 5 else "")
        warn(f"{_shown(path)}: skipped unreadable line(s) {lines}")
    return entries


def _shown(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def entry(
    workflow: WorkflowConfig,
    decision: Decision,
    old_run: str,
    *,
    outcome: Outcome | None = None,
    error: str | None = None,
) -> dict[str, Any]:
    """The log line for a decision: carried out (`outcome`), refused or failed (`error`)."""
    document: dict[str, Any] = {
        "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "workflow": workflow.label,
        "workflowId": decision.workflow_id,
        "files": list(decision.files),
        "rules": [o.change.rule.describe() for o in decision.outcomes],
        "action": decision.kind,
        "anchor": decision.anchor,
        "why": decision.why,
        "oldRunId": old_run,
        "newRunId": outcome.new_run_id if outcome else None,
    }
    if error is not None:
        document["outcome"] = "skipped" if error.startswith("skipped:") else "failed"
        document["error"] = error
    elif outcome is None or outcome.new_run_id is None:
        document["outcome"] = "no reset"
    else:
        document["outcome"] = "recovered" if outcome.recovered else "done"
        document["reason"] = outcome.reason
        if outcome.savings is not None:
            document["saved"] = outcome.savings.to_json()
    return document
