"""What `output-reset.yaml` says, as frozen dataclasses, and the keys each mapping accepts.

Pure data: the YAML reader (reader.py) builds these, and everything else reads them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
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
WORKFLOW_KEYS = ("id", "type", "run", "steps", "rules")
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
    """A pinned workflow: by id, or the most recent run of a type."""

    id: str | None
    type: str | None
    run: str | None
    rules: tuple[Rule, ...]
    line: int
    side_effects: frozenset[str] = frozenset()  # steps whose re-execution needs a yes

    @property
    def key(self) -> str:
        """A stable name for this entry, used in the state file and in messages."""
        return self.id if self.id is not None else f"type:{self.type}"

    @property
    def label(self) -> str:
        return self.id if self.id is not None else f"latest {self.type}"

    def fingerprint(self) -> str:
        """Changes whenever what the config pins changes, so a stale state pin is ignored."""
        raw = json.dumps([self.id, self.type, self.run])
        return hashlib.sha256(raw.encode()).hexdigest()[:16]


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

    @property
    def root(self) -> Path:
        """The folder that every pattern in the file is relative to."""
        return self.path.parent

    @property
    def state_dir(self) -> Path:
        return self.root / ".output-reset"
