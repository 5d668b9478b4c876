"""The JSON Schema of `output-reset.yaml`, for editors (completion and checking as you type).

`output-reset schema` prints it; the README shows the yaml-language-server line that uses it.
A test keeps it in step with the loader in config.py: same keys, same required fields, and the
same verdict on generated documents.
"""

from __future__ import annotations

from typing import Any

from runner.config import (
    API_KEYS,
    ENGINE_KEYS,
    RULE_KEYS,
    SCHEMA_VERSION,
    STEP_KEYS,
    TLS_KEYS,
    TOP_KEYS,
    WORKFLOW_KEYS,
)

SCHEMA_ID = "urn:output-reset:config:v1"

_NAME = r"^[A-Za-z0-9_.@-]+$"
_ENV = r"^[A-Za-z_][A-Za-z0-9_]*$"
_UUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
_STEP = r"^\S+$"
_TEMPORAL = {"kind": {"const": "temporal"}}
_PATTERN = {
    "type": "string",
    "minLength": 1,
    # Not absolute, no drive letter, no ".." component, no backslash, not blank, not a lone "!"
    # (as the loader). The loader also refuses [...] that pathspec cannot compile, such as
    # [z-a]; a regular expression cannot say which ranges run backwards.
    "pattern": r"^(?!\s*!?[/\\])(?!\s*!?[A-Za-z]:[\\/])(?!\s*!?(.*/)?\.\.(/|\s*$))(?!\s*!\s*$)"
    r"[^\\]*[^\s\\][^\\]*$",
    "description": "A gitignore-style pattern, relative to the config file's folder.",
}
_PATTERNS = {
    "oneOf": [
        _PATTERN,
        {"type": "array", "items": _PATTERN, "minItems": 1},
    ]
}


def _strict(properties: dict[str, Any], keys: tuple[str, ...], **extra: Any) -> dict[str, Any]:
    assert tuple(properties) == keys, f"schema keys {tuple(properties)} != loader keys {keys}"
    return {"type": "object", "properties": properties, "additionalProperties": False, **extra}


def schema() -> dict[str, Any]:
    rule = _strict(
        {
            "files": {**_PATTERNS, "description": "The files this rule watches."},
            "rerun": {
                "type": "string",
                "pattern": _STEP,
                "description": "Re-execute this step and everything after it.",
            },
            "reset_after": {
                "type": "string",
                "pattern": _STEP,
                "description": "Keep this step, re-run what follows.",
            },
            "occurrence": {
                "type": "integer",
                "not": {"const": 0},
                "description": "reset_after only: 1 = first occurrence, -1 = last (default). "
                "Temporal engine only for anything but the last.",
            },
            "allow_replay": {
                "type": "boolean",
                "description": "For workflow code: reset instead of starting a fresh run.",
            },
        },
        RULE_KEYS,
        required=["files"],
        oneOf=[{"required": ["rerun"]}, {"required": ["reset_after"]}],
        dependentSchemas={"occurrence": {"required": ["reset_after"]}},
    )
    step = _strict(
        {"side_effects": {"type": "boolean", "description": "Re-running it needs a yes."}},
        STEP_KEYS,
    )
    workflow = _strict(
        {
            "id": {
                "oneOf": [
                    {"type": "string", "pattern": r"\S"},
                    {
                        "type": "array",
                        "items": {"type": "string", "pattern": r"\S"},
                        "minItems": 1,
                        "uniqueItems": True,
                    },
                ],
                "description": "The pinned workflow id, or a list of them (one run per id).",
            },
            "type": {
                "type": "string",
                "pattern": _NAME,
                "description": "Pin the most recent run of this workflow type instead.",
            },
            "run": {"type": "string", "pattern": _UUID, "description": "Run id to start from."},
            "datasets": {
                "oneOf": [
                    {"const": "all"},
                    {
                        "type": "array",
                        "items": {"type": "string", "pattern": r"\S"},
                        "minItems": 1,
                        "uniqueItems": True,
                    },
                ],
                "description": "With type: one pinned run per case of the workflow's "
                "tests/datasets (all, or these case names).",
            },
            "steps": {
                "type": "object",
                "additionalProperties": step,
                "description": "Facts about steps, by name.",
            },
            "rules": {"type": "array", "items": rule, "minItems": 1},
        },
        WORKFLOW_KEYS,
        required=["rules"],
        oneOf=[{"required": ["id"]}, {"required": ["type"]}],
        dependentRequired={"datasets": ["type"]},
        # `run` pins one run: not with an id list, not with datasets.
        allOf=[
            {
                "if": {"required": ["run"]},
                "then": {
                    "not": {"required": ["datasets"]},
                    "properties": {"id": {"type": "string"}},
                },
            }
        ],
    )
    tls = _strict(
        {
            "server_name": {"type": "string", "minLength": 1},
            "ca_cert": {"type": "string", "minLength": 1},
            "client_cert": {"type": "string", "minLength": 1},
            "client_key": {"type": "string", "minLength": 1},
        },
        TLS_KEYS,
        dependentRequired={"client_cert": ["client_key"], "client_key": ["client_cert"]},
    )
    engine = _strict(
        {
            "kind": {"enum": ["output", "temporal"], "default": "output"},
            "address": {
                "type": "string",
                "pattern": r"^[^\s:/]+:\d+$",
                "default": "localhost:7233",
            },
            "namespace": {"type": "string", "pattern": r"\S", "default": "default"},
            "tls": {"oneOf": [{"type": "boolean"}, tls]},
            "api_key_env": {"type": "string", "pattern": _ENV},
        },
        ENGINE_KEYS,
        # Everything but `kind` is for the temporal engine only.
        anyOf=[
            {"properties": {"kind": {"const": "temporal"}}, "required": ["kind"]},
            {"properties": {"kind": {"const": "output"}}, "propertyNames": {"const": "kind"}},
        ],
    )
    api = _strict(
        {
            "url": {
                "type": "string",
                # The shape runner/config/syntax.py checks, less the ranges of numbers.
                "pattern": r"^[Hh][Tt][Tt][Pp][Ss]?://([^\s/?#]*@)?"
                r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9_])?)(:[0-9]*)?"
                r"(/[^\s?#]*)?$",
                "default": "http://localhost:3001",
            },
            "token_env": {"type": "string", "pattern": _ENV, "default": "OUTPUT_API_AUTH_TOKEN"},
            "catalog": {"type": "string", "pattern": _NAME, "default": "main"},
        },
        API_KEYS,
    )
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "output-reset.yaml",
        "description": "Maps prompt and step files of an Output project to reset points of a "
        "pinned workflow run.",
        **_strict(
            {
                "version": {"const": SCHEMA_VERSION},
                "api": api,
                "engine": engine,
                "debounce_ms": {"type": "integer", "minimum": 0, "maximum": 60000, "default": 300},
                "ignore": _PATTERNS,
                "workflows": {"type": "array", "items": workflow, "minItems": 1},
            },
            TOP_KEYS,
            required=["workflows"],
            # With the temporal engine the Output API settings make no sense.
            **{
                "if": {
                    "properties": {"engine": {"required": ["kind"], "properties": _TEMPORAL}},
                    "required": ["engine"],
                },
                "then": {"not": {"required": ["api"]}},
            },
        ),
    }
