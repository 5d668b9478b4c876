"""`.output-reset/iterations.jsonl`: every burst that reset something, numbered, with the texts
it changed, the runs it made and what the eval said (adapter layer, beside the audit log).

Texts and outputs are kept once each, by content hash, under `.output-reset/objects/`; a
record names them by hash. `output-reset log`, `compare`, `restore` and `save-datasets` read
the records back; only the daemon writes them. One record (the caller fills all but `n` and
`time`):

    {"n": 3, "time": "2026-12-03T09:09:49.985Z",
     "workflow": "blog_evaluator",            # workflow_name(entry): the entry's type, or id
     "files": [{"path": "prompts/draft.prompt", "hash": "9f2c..."}],   # hash None: deleted
     "cases": [{"case": "case_a",             # the case name; the workflow id for one pin
                "workflowId": "blog_evaluator-case-case_a", "oldRunId": "r1", "newRunId": "r2",
                "status": "completed", "output": "5be1...",   # keep_json(output), or None
                "executionTimeMs": 380}],     # optional: the run's ms, for last_output
     "eval": null | {"line": "1 pass (was 1 fail): better", "output": "0c4e...",
                     "cases": {"case_a": {"verdict": "pass",
                                          "evaluators": {"evaluate_sum": "pass"}}}}}

`time` (when recorded) is the `date` save-datasets writes. How the daemon records a burst,
once its runs (and the eval) have ended:

    store = Iterations(cfg.state_dir)
    name = workflow_name(entry)
    files = [store.snapshot(cfg.root, rel) for rel in changed]
    cases = [{"case": ..., "workflowId": ..., "oldRunId": ..., "newRunId": ...,
              "status": ..., "output": store.keep_json(output)}, ...]
    verdicts = store.eval_record(name, eval_output)   # BadAnswer: not an EvalOutput
    n = store.record({"workflow": name, "files": files, "cases": cases, "eval": verdicts})
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runner.atomic import write_atomically
from runner.auditlog import append_line, read_lines
from runner.compare import MISSING
from runner.config import WorkflowConfig
from runner.errors import StateError
from runner.evals import CaseVerdict, matrix, parse, verdict_line
from runner.paths import content
from runner.state import StateStore, file_lock

log = logging.getLogger(__name__)

LOG_NAME = "iterations.jsonl"
OBJECTS = "objects"
_HEX = re.compile(r"[0-9a-f]{32}")


def blob_digest(data: bytes) -> str:
    """The project's content hash (`runner.paths.digest` of a file with these bytes)."""
    return hashlib.blake2b(data).hexdigest()[:32]


def json_bytes(value: Any) -> bytes:
    """A JSON value as the bytes kept for it: compact, keys in the order given (the order
    Output wrote them in, which save-datasets writes back; one producer repeats its order, so
    equal outputs still share a blob)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def workflow_name(entry: WorkflowConfig) -> str:
    """What a record's `workflow` says for a config entry (or one of its slots): its workflow
    type for a `type:` entry, with or without `datasets:`; else its label (the id)."""
    return entry.case_of or entry.type or entry.label


def now_iso() -> str:
    """The time as JavaScript's toISOString writes it (what Output's datasets carry)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Iterations:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / LOG_NAME
        self.objects = folder / OBJECTS
        self._lock_path = folder / "iterations.lock"
        self.warnings: list[str] = []

    # -- blobs ----------------------------------------------------------------------------

    def keep(self, digest: str, data: bytes) -> None:
        """Keep `data` under its digest, once: a blob already there is not written again.
        ValueError when `digest` is not `blob_digest(data)`; StateError when it cannot be
        written."""
        if digest != blob_digest(data):
            raise ValueError(f"{digest!r} is not the digest of the data given")
        path = self.objects / digest
        if path.exists():
            return
        try:
            StateStore(self.folder).ensure_folder()
            self.objects.mkdir(exist_ok=True)
            write_atomically(path, data)
        except OSError as exc:
            raise StateError(
                f"cannot write {self.folder.name}/{OBJECTS}/{digest}: {exc.strerror or exc}"
            ) from None

    def blob(self, digest: str) -> bytes | None:
        """The bytes kept under `digest`; None when there are none (or they are damaged)."""
        if not _HEX.fullmatch(digest):
            return None  # not a digest (a hand-edited record): never a path to follow
        try:
            data = (self.objects / digest).read_bytes()
        except OSError:
            return None
        return data if blob_digest(data) == digest else None

    def keep_json(self, value: Any) -> str:
        """Keep a JSON value (an output, an EvalOutput); its digest."""
        data = json_bytes(value)
        digest = blob_digest(data)
        self.keep(digest, data)
        return digest

    def json_blob(self, digest: Any) -> Any:
        """The JSON value kept under `digest`; compare.MISSING when there is none."""
        data = self.blob(digest) if isinstance(digest, str) else None
        if data is None:
            return MISSING
        try:
            return json.loads(data)
        except ValueError:
            return MISSING

    def snapshot(self, root: Path, rel: str) -> dict[str, Any]:
        """Keep the text of file `rel` as it is now; its `files` item. The hash is that of
        the bytes kept, read once (a file edited meanwhile is recorded as it was read)."""
        data = content(root / rel)
        if data is None:
            return {"path": rel, "hash": None}
        digest = blob_digest(data)
        self.keep(digest, data)
        return {"path": rel, "hash": digest}

    def text(self, digest: str | None) -> str | None:
        """A kept file text (bytes that are not UTF-8 shown replaced); None when missing."""
        data = self.blob(digest) if digest is not None else None
        return data.decode("utf-8", errors="replace") if data is not None else None

    # -- records --------------------------------------------------------------------------

    def record(self, entry: dict[str, Any]) -> int:
        """Append `entry` as the next iteration; its number. `time` is now unless given.
        Two writers never take one number (a lock of its own, not the state lock, so the
        caller may hold that one). StateError when it cannot be written."""
        StateStore(self.folder).ensure_folder()
        busy = f"another output-reset holds {self._lock_path}"
        with file_lock(self._lock_path, 30.0, busy):
            n = self._next_number()
            document = {**entry, "n": n, "time": entry.get("time") or now_iso()}
            try:
                append_line(self.path, document)
            except OSError as exc:
                raise StateError(
                    f"cannot append to {self.folder.name}/{LOG_NAME}: {exc.strerror or exc}"
                ) from None
        return n

    def read(self) -> list[dict[str, Any]]:
        """Every readable record, oldest first (a bad line is skipped with one warning)."""
        return [e for e in read_lines(self.path, self._warn) if isinstance(e.get("n"), int)]

    def get(self, n: int) -> dict[str, Any] | None:
        return next((e for e in self.read() if e["n"] == n), None)

    def eval_record(self, workflow: str, output: Any) -> dict[str, Any]:
        """The `eval` item for an EvalOutput: its verdict line against the newest iteration
        of `workflow` that has one, the verdicts per case, and the blob it is kept in.
        BadAnswer when `output` is not an EvalOutput."""
        now = parse(output)
        before = latest_eval(self, self.read(), workflow)
        line = verdict_line(matrix(now, before))
        return {"line": line, "output": self.keep_json(output), "cases": verdicts_json(now)}

    def _next_number(self) -> int:
        # Counting the lines too: a damaged last line may have held the highest number.
        try:
            lines = sum(1 for line in self.path.read_bytes().splitlines() if line.strip())
        except OSError:
            lines = 0
        numbers: list[int] = [e["n"] for e in self.read()]
        return max([lines, *numbers]) + 1

    def _warn(self, message: str) -> None:
        if message not in self.warnings:
            log.warning(message)
            self.warnings.append(message)


def verdicts_json(cases: Iterable[CaseVerdict]) -> dict[str, Any]:
    return {
        c.case: {"verdict": c.verdict, "evaluators": {j.name: j.verdict for j in c.evaluators}}
        for c in cases
    }


# -- reading records back ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CaseResult:
    """One case's run in an iteration: where its output and its eval are."""

    n: int
    time: str
    case: dict[str, Any]  # the record's item
    eval_output: str | None  # the digest of the iteration's EvalOutput, when it had an eval


def file_hashes_at(records: Iterable[dict[str, Any]], n: int) -> dict[str, str | None]:
    """Each file recorded at or before iteration `n`, with its newest hash by then."""
    found: dict[str, str | None] = {}
    for record in records:
        if record["n"] > n:
            continue
        for item in _items(record, "files"):
            if isinstance(item.get("path"), str):
                found[item["path"]] = item.get("hash")
    return found


def case_results_at(
    records: Iterable[dict[str, Any]], n: int, workflow: str, *, with_output: bool = False
) -> dict[str, CaseResult]:
    """Each case of `workflow` with its newest run at or before iteration `n` (`with_output`:
    its newest run that gave an output)."""
    found: dict[str, CaseResult] = {}
    for record in records:
        if record["n"] > n or record.get("workflow") != workflow:
            continue
        verdicts = record.get("eval")
        digest = verdicts.get("output") if isinstance(verdicts, dict) else None
        for item in _items(record, "cases"):
            name = item.get("case")
            if isinstance(name, str) and not (with_output and item.get("output") is None):
                found[name] = CaseResult(record["n"], str(record.get("time")), item, digest)
    return found


def latest_eval(
    store: Iterations, records: Iterable[dict[str, Any]], workflow: str, n: int | None = None
) -> list[CaseVerdict]:
    """The verdicts of the newest eval of `workflow` (at or before iteration `n`), or none."""
    for record in reversed(list(records)):
        if record.get("workflow") != workflow or (n is not None and record["n"] > n):
            continue
        verdicts = record.get("eval")
        if isinstance(verdicts, dict):
            output = store.json_blob(verdicts.get("output"))
            if output is not MISSING:
                return parse(output)
    return []


def _items(record: dict[str, Any], key: str) -> list[dict[str, Any]]:
    items = record.get(key)
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []
