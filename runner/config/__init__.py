"""`output-reset.yaml`: what it says (model.py) and how it is read and checked (reader.py).

The model is imported everywhere and costs nothing; the reader (and yaml) is only imported when
a file is actually loaded, which keeps `output-reset --help` fast.
"""

from __future__ import annotations

from pathlib import Path

from runner.config.model import (
    API_KEYS,
    CONFIG_NAME,
    DEFAULT_DEBOUNCE_MS,
    DEFAULT_TOKEN_ENV,
    ENGINE_KEYS,
    RULE_KEYS,
    SCHEMA_VERSION,
    STEP_KEYS,
    TLS_KEYS,
    TOP_KEYS,
    WORKFLOW_KEYS,
    Action,
    ApiConfig,
    Config,
    EngineConfig,
    Rule,
    RuleRef,
    TlsConfig,
    WorkflowConfig,
    case_workflow_id,
)

__all__ = [
    "API_KEYS",
    "CONFIG_NAME",
    "DEFAULT_DEBOUNCE_MS",
    "DEFAULT_TOKEN_ENV",
    "ENGINE_KEYS",
    "RULE_KEYS",
    "SCHEMA_VERSION",
    "STEP_KEYS",
    "TLS_KEYS",
    "TOP_KEYS",
    "WORKFLOW_KEYS",
    "Action",
    "ApiConfig",
    "Config",
    "EngineConfig",
    "Rule",
    "RuleRef",
    "TlsConfig",
    "WorkflowConfig",
    "case_workflow_id",
    "load_config",
    "parse_config",
]


def load_config(path: Path, *, shown_as: str | None = None) -> Config:
    """Read and check a config file; raise ConfigError with a one-line located message."""
    from runner.config import reader

    return reader.load_config(path, shown_as=shown_as)


def parse_config(text: str, *, path: Path, shown_as: str) -> Config:
    from runner.config import reader

    return reader.parse_config(text, path=path, shown_as=shown_as)
