"""What `output-reset.yaml` says, as frozen dataclasses, and the keys each mapping accepts.

Pure data: the YAML reader (reader.py) builds these, and everything else reads them.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

CONFIG_NAME = "output-reset.yaml"
SCHEMA_VERSION = 1
DEFAULT_DEBOUNCE_MS = 300
DEFAULT_TOKEN_ENV = "OUTPUT_API_AUTH_TOKEN"

Action = Literal["rerun", "reset_after"]

# The keys each mapping accepts; the JSON Schema (runner/schema.py) is checked against these.
TOP_KEYS = ("version", "api", "engine", "debounce_ms", "ignore", "workflows")
API_KEYS = ("url", "token_env", "catalog")
ENGINE_KEYS = ("kind", "address", "namespace", "tls", "api_key_env")
TLS_KEYS = ("server_name", "ca_cert", "client_cert", "client_key")
WORKFLOW_KEYS = ("id", "type", "run", "datasets", "steps", "rules")
STEP_KEYS = ("side_effects",)
RULE_KEYS = ("files", "rerun", "reset_after", "occurrence", "allow_replay")


@dataclass(frozen=True, slots=True)
class RuleRef:
    """A rule by position: workflow index and rule index in the config."""

    workflow: int
    rule: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """One mapping from file patterns to a reset point."""

    files: tuple[str, ...]
    action: Action
    step: str
    line: int
    occurrence: int | None = None  # reset_after only: 1 = first, -1 = last (the default)
    allow_replay: bool = False  # workflow code edits: reset instead of starting a fresh run

    def describe(self) -> str:
        which = f" (occurrence {self.occurrence})" if self.occurrence is not None else ""
        return f"{self.action.replace('_', ' ')} {self.step}{which}"


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkflowConfig:
    """A pinned workflow: by id, or the most recent run of a type.

    An entry can stand for several pinned runs: `id:` as a list (one run per id), or `type:`
    with `datasets:` (one run per dataset case). `slots()` makes one WorkflowConfig per run
    from it; the daemon and the commands work on those.
    """

    id: str | None
    type: str | None
    run: str | None
    rules: tuple[Rule, ...]
    line: int
    side_effects: frozenset[str] = frozenset()  # steps whose re-execution needs a yes
    ids: tuple[str, ...] = ()  # `id:` given as a list
    datasets: Literal["all"] | tuple[str, ...] | None = None  # with `type:`: which cases
    datasets_at: tuple[int, int] = (0, 0)  # line and column of `datasets:`, for errors
    case: str | None = None  # a slot for one dataset case of `case_of`
    case_of: str | None = None  # the workflow type whose dataset the case belongs to
    case_input: str | None = None  # the case's input as JSON, to start its first run

    @property
    def key(self) -> str:
        """A stable name for this entry, used in the state file and in messages."""
        if self.id is not None:
            return self.id
        if self.ids:
            return "ids:" + ",".join(self.ids)
        return f"type:{self.type}"

    @property
    def label(self) -> str:
        if self.case is not None:
            return f"{self.case_of}/{self.case}"
        if self.id is not None:
            return self.id
        if self.ids:
            return ", ".join(self.ids)
        return f"latest {self.type}"

    @property
    def fans_out(self) -> bool:
        """The entry stands for several pinned runs (an id list, or dataset cases)."""
        return bool(self.ids) or self.datasets is not None

    def fingerprint(self) -> str:
        """Changes whenever what the config pins changes, so a stale state pin is ignored."""
        pinned: list[str | None] = [self.id, self.type, self.run]
        if self.case_input is not None:  # a case whose input changed needs a run with it
            pinned.append(self.case_input)
        raw = json.dumps(pinned)
        return hashlib.sha256(raw.encode()).hexdigest()[:16]

    def slots(self, cases: Sequence[tuple[str, str]] = ()) -> list[WorkflowConfig]:
        """One WorkflowConfig per pinned run: this entry; or one per id of an id list; or
        one per dataset case (`cases`: name and input JSON, as read from the dataset files)."""
        if self.ids:
            return [replace(self, id=i, ids=()) for i in self.ids]
        if self.datasets is None:
            return [self]
        assert self.type is not None
        return [
            replace(
                self,
                id=case_workflow_id(self.type, name),
                type=None,
                datasets=None,
                case=name,
                case_of=self.type,
                case_input=given,
            )
            for name, given in cases
        ]


def case_workflow_id(workflow_type: str, case: str) -> str:
    """The workflow id of a dataset case's pinned run: `<type>-case-<case>`, the case name with
    anything but letters, digits, `_`, `.` and `-` turned into `_` (then with a short hash of the
    name, so two names never share an id). Deterministic: a restarted watch finds the run."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", case)
    if safe != case:
        safe += "-" + hashlib.sha256(case.encode()).hexdigest()[:8]
    return f"{workflow_type}-case-{safe}"


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiConfig:
    url: str | None = None
    token_env: str = DEFAULT_TOKEN_ENV
    catalog: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TlsConfig:
    """TLS for a Temporal frontend; paths are relative to the config file's folder."""

    server_name: str | None = None
    ca_cert: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineConfig:
    """Which engine resets runs: Output's API (default) or Temporal directly."""

    kind: Literal["output", "temporal"] = "output"
    address: str = "localhost:7233"
    namespace: str = "default"
    tls: TlsConfig | None = None
    api_key_env: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    path: Path
    api: ApiConfig
    engine: EngineConfig
    debounce_ms: int
    ignore: tuple[str, ...]
    workflows: tuple[WorkflowConfig, ...]
    shown_as: str = ""  # the file as the user named it, for file:line:col in messages

    @property
    def shown(self) -> str:
        return self.shown_as or str(self.path)

    @property
    def root(self) -> Path:
        """The folder that every pattern in the file is relative to."""
        return self.path.parent

    @property
    def state_dir(self) -> Path:
        return self.root / ".output-reset"
