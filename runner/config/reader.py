"""Read and check `output-reset.yaml` into the dataclasses of model.py (the one place importing
yaml).

Line and column numbers come from `yaml.compose` node marks, so every problem is reported as one
line `FILE:LINE:COL: key.path: what is wrong`. Unknown and duplicate keys are errors: a silently
ignored typo is the worst outcome for a tool that is supposed to react to your edits.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from typing import Literal

import yaml

from runner.config.model import (
    API_KEYS,
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
    TlsConfig,
    WorkflowConfig,
)
from runner.config.nodes import BOOL, MAP, STR, Nodes, indexed, kind
from runner.config.syntax import pattern_problem, url_problem
from runner.errors import ConfigError

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# The API refuses workflowType filters and catalog ids outside this set
# (docs/output-api.md §1.1, §3.3).
_API_NAME = re.compile(r"^[a-z0-9_.@-]+$", re.IGNORECASE)
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def load_config(path: Path, *, shown_as: str | None = None) -> Config:
    """Read and check a config file; raise ConfigError with a one-line located message."""
    shown = shown_as or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{shown}: no such file; write one with `output-reset init` or pass -c PATH"
        ) from None
    except IsADirectoryError:
        raise ConfigError(f"{shown}: is a folder, not a config file") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{shown}: not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise ConfigError(f"{shown}: cannot read ({exc.strerror})") from None
    return parse_config(text, path=path.resolve(), shown_as=shown)


def parse_config(text: str, *, path: Path, shown_as: str) -> Config:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = (exc.problem or exc.context or "invalid YAML").splitlines()[0]
        if "block" in problem:
            problem += " (check the indentation)"
        raise ConfigError(f"{shown_as}:{line}:{col}: syntax error: {problem}") from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        col = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        code = ord(exc.character) if isinstance(exc.character, str) else exc.character
        raise ConfigError(
            f"{shown_as}:{line}:{col}: syntax error: character U+{code:04X} is not allowed in YAML"
        ) from None
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "invalid YAML"
        raise ConfigError(f"{shown_as}:1:1: syntax error: {first}") from None
    return _Reader(shown_as).config(root, path)


class _Reader(Nodes):
    """Walks the composed node tree of an output-reset.yaml."""

    def config(self, root: yaml.Node | None, path: Path) -> Config:
        if root is None:
            raise self.fail(None, "(document)", "the file is empty; it needs a workflows list")
        top = self.mapping(root, "(document)", TOP_KEYS)
        if "version" in top:
            node = top["version"][1]
            if self.integer(node, "version") != SCHEMA_VERSION:
                raise self.fail(
                    node,
                    "version",
                    f"unsupported schema version (this tool reads {SCHEMA_VERSION})",
                )
        engine = self.engine(top["engine"][1], path.parent) if "engine" in top else EngineConfig()
        if engine.kind == "temporal" and "api" in top:
            raise self.fail(
                top["api"][0], "api", "only used by the Output API engine (engine.kind: output)"
            )
        api = self.api(top["api"][1]) if "api" in top else ApiConfig()
        debounce_ms = DEFAULT_DEBOUNCE_MS
        if "debounce_ms" in top:
            node = top["debounce_ms"][1]
            debounce_ms = self.integer(node, "debounce_ms")
            if not 0 <= debounce_ms <= 60_000:
                raise self.fail(node, "debounce_ms", "must be between 0 and 60000 milliseconds")
        ignore: tuple[str, ...] = ()
        if "ignore" in top:
            ignore = tuple(
                self.pattern(n, p)
                for n, p in indexed(self.strings(top["ignore"][1], "ignore"), "ignore")
            )
        if "workflows" not in top:
            raise self.fail(root, "workflows", "missing; list at least one workflow to pin")
        workflows = self.workflows(top["workflows"][1])
        return Config(
            path=path,
            api=api,
            engine=engine,
            debounce_ms=debounce_ms,
            ignore=ignore,
            workflows=workflows,
            shown_as=self.shown_as,
        )

    def workflows(self, node: yaml.Node) -> tuple[WorkflowConfig, ...]:
        nodes = self.sequence(node, "workflows")
        if not nodes:
            raise self.fail(node, "workflows", "must list at least one workflow")
        workflows = tuple(self.workflow(n, f"workflows[{i}]") for i, n in enumerate(nodes))
        seen: dict[str, str] = {}
        for i, wf in enumerate(workflows):
            here = f"workflows[{i}]"
            for key in wf.ids or (wf.key,):
                if key in seen:
                    raise self.fail(nodes[i], here, f"pins the same workflow as {seen[key]}")
                seen[key] = here
        return workflows

    def api(self, node: yaml.Node) -> ApiConfig:
        fields = self.mapping(node, "api", API_KEYS)
        url = catalog = None
        token_env = DEFAULT_TOKEN_ENV
        if "url" in fields:
            node = fields["url"][1]
            url = self.string(node, "api.url").rstrip("/")
            problem = url_problem(url)
            if problem is not None:
                problem = (
                    f"not a URL ({problem})"
                    if re.match(r"^https?://", url, re.IGNORECASE)
                    else "expected an http:// or https:// URL such as http://localhost:3001"
                )
                raise self.fail(node, "api.url", problem)
        if "token_env" in fields:
            token_env = self.env_name(fields["token_env"][1], "api.token_env", "token")
        if "catalog" in fields:
            catalog = self.checked(
                fields["catalog"][1],
                "api.catalog",
                lambda v: _API_NAME.match(v) is not None,
                "a catalog id uses only letters, digits and _ . @ -",
            )
        return ApiConfig(url=url, token_env=token_env, catalog=catalog)

    def engine(self, node: yaml.Node, root: Path) -> EngineConfig:
        fields = self.mapping(node, "engine", ENGINE_KEYS)
        kind: Literal["output", "temporal"] = "output"
        if "kind" in fields:
            value = self.string(fields["kind"][1], "engine.kind")
            if value not in ("output", "temporal"):
                raise self.fail(fields["kind"][1], "engine.kind", 'expected "output" or "temporal"')
            kind = "temporal" if value == "temporal" else "output"
        extra = [k for k in fields if k != "kind"]
        if kind == "output" and extra:
            raise self.fail(
                fields[extra[0]][0], f"engine.{extra[0]}", "only used by engine.kind: temporal"
            )
        address, namespace = "localhost:7233", "default"
        if "address" in fields:
            address = self.checked(
                fields["address"][1],
                "engine.address",
                lambda v: re.match(r"^[^\s:/]+:\d+$", v) is not None,
                "expected host:port, such as localhost:7233",
            )
        if "namespace" in fields:
            namespace = self.string(fields["namespace"][1], "engine.namespace")
        api_key_env = None
        if "api_key_env" in fields:
            api_key_env = self.env_name(fields["api_key_env"][1], "engine.api_key_env", "key")
        tls = self.tls(fields["tls"][1], root) if "tls" in fields else None
        return EngineConfig(
            kind=kind, address=address, namespace=namespace, tls=tls, api_key_env=api_key_env
        )

    def tls(self, node: yaml.Node, root: Path) -> TlsConfig | None:
        if isinstance(node, yaml.ScalarNode) and node.tag == BOOL:
            return TlsConfig() if self.boolean(node, "engine.tls") else None
        fields = self.mapping(node, "engine.tls", TLS_KEYS)
        paths: dict[str, Path] = {}
        for key in ("ca_cert", "client_cert", "client_key"):
            if key in fields:
                paths[key] = root / self.string(fields[key][1], f"engine.tls.{key}")
        if ("client_cert" in paths) != ("client_key" in paths):
            raise self.fail(node, "engine.tls", "client_cert and client_key go together")
        server_name = None
        if "server_name" in fields:
            server_name = self.string(fields["server_name"][1], "engine.tls.server_name")
        return TlsConfig(
            server_name=server_name,
            ca_cert=paths.get("ca_cert"),
            client_cert=paths.get("client_cert"),
            client_key=paths.get("client_key"),
        )

    def workflow(self, node: yaml.Node, key_path: str) -> WorkflowConfig:
        fields = self.mapping(node, key_path, WORKFLOW_KEYS)
        if ("id" in fields) == ("type" in fields):
            both = "id" in fields
            raise self.fail(
                node,
                key_path,
                'a workflow needs exactly one of "id" or "type", not both'
                if both
                else 'a workflow needs exactly one of "id" (a workflow id) '
                'or "type" (pin its latest run)',
            )
        wf_id, ids = self.ids(fields["id"][1], f"{key_path}.id") if "id" in fields else (None, ())
        wf_type = None
        if "type" in fields:
            wf_type = self.checked(
                fields["type"][1],
                f"{key_path}.type",
                lambda v: _API_NAME.match(v) is not None,
                "a workflow type uses only letters, digits and _ . @ -",
            )
        run = None
        if "run" in fields:
            run = self.checked(
                fields["run"][1],
                f"{key_path}.run",
                lambda v: _UUID.match(v) is not None,
                "expected a run id (a UUID such as 01a2120c-2695-70a1-83f6-9d9ec4cacd75)",
            )
        datasets, datasets_at = None, (0, 0)
        if "datasets" in fields:
            key_node, value_node = fields["datasets"]
            if wf_type is None:
                raise self.fail(
                    key_node,
                    f"{key_path}.datasets",
                    "needs `type:` (the workflow whose tests/datasets hold the cases)",
                )
            datasets = self.cases(value_node, f"{key_path}.datasets")
            datasets_at = (value_node.start_mark.line + 1, value_node.start_mark.column + 1)
        if run is not None and (ids or datasets is not None):
            raise self.fail(
                fields["run"][0],
                f"{key_path}.run",
                "pins one run; it cannot go with a list of ids or with datasets",
            )
        if "rules" not in fields:
            raise self.fail(node, f"{key_path}.rules", "missing; map at least one file to a step")
        rule_nodes = self.sequence(fields["rules"][1], f"{key_path}.rules")
        if not rule_nodes:
            raise self.fail(fields["rules"][1], f"{key_path}.rules", "must list at least one rule")
        rules = tuple(self.rule(n, f"{key_path}.rules[{i}]") for i, n in enumerate(rule_nodes))
        side_effects = (
            self.steps(fields["steps"][1], f"{key_path}.steps")
            if "steps" in fields
            else frozenset()
        )
        return WorkflowConfig(
            id=wf_id,
            type=wf_type,
            run=run,
            rules=rules,
            side_effects=side_effects,
            line=node.start_mark.line + 1,
            ids=ids,
            datasets=datasets,
            datasets_at=datasets_at,
        )

    def ids(self, node: yaml.Node, key_path: str) -> tuple[str | None, tuple[str, ...]]:
        """`id: blog-1`, or `id: [blog-1, blog-2]`: the same fan-out as datasets, by id."""
        if isinstance(node, yaml.ScalarNode):
            return self.string(node, key_path), ()
        return None, self.distinct(node, key_path, "workflow id")

    def cases(self, node: yaml.Node, key_path: str) -> Literal["all"] | tuple[str, ...]:
        """`datasets: all`, or a list of case names."""
        if isinstance(node, yaml.ScalarNode) and node.tag == STR and node.value == "all":
            return "all"
        if isinstance(node, yaml.ScalarNode):
            raise self.fail(node, key_path, 'expected "all" or a list of dataset case names')
        return self.distinct(node, key_path, "case name")

    def steps(self, node: yaml.Node, key_path: str) -> frozenset[str]:
        """`steps: {publish: {side_effects: true}}`: facts about steps, by name."""
        if not isinstance(node, yaml.MappingNode) or node.tag != MAP:
            raise self.fail(node, key_path, f"expected a mapping of step names, got {kind(node)}")
        flagged: set[str] = set()
        names = [self.string(k, key_path) for k, _ in node.value]
        for name, (key_node, value_node) in zip(names, node.value, strict=True):
            here = f"{key_path}.{name}"
            if names.count(name) > 1:
                raise self.fail(key_node, here, "duplicate key")
            facts = self.mapping(value_node, here, STEP_KEYS)
            if "side_effects" in facts and self.boolean(
                facts["side_effects"][1], f"{here}.side_effects"
            ):
                flagged.add(name)
        return frozenset(flagged)

    def rule(self, node: yaml.Node, key_path: str) -> Rule:
        fields = self.mapping(node, key_path, RULE_KEYS)
        actions = [a for a in ("rerun", "reset_after") if a in fields]
        if len(actions) == 2:
            raise self.fail(
                fields["reset_after"][0],
                key_path,
                'a rule needs exactly one of "rerun" or "reset_after", not both',
            )
        if not actions:
            raise self.fail(
                node,
                key_path,
                'a rule needs "rerun: STEP" (re-run that step and what follows) '
                'or "reset_after: STEP" (keep that step, re-run what follows)',
            )
        if "files" not in fields:
            raise self.fail(node, f"{key_path}.files", "missing; which files does this rule watch?")
        action: Action = "rerun" if actions[0] == "rerun" else "reset_after"
        step = self.checked(
            fields[action][1],
            f"{key_path}.{action}",
            lambda v: not any(c.isspace() for c in v),
            "a step name has no spaces (use the name from step({ name }))",
        )
        files = tuple(
            self.pattern(n, p)
            for n, p in indexed(
                self.strings(fields["files"][1], f"{key_path}.files"), f"{key_path}.files"
            )
        )
        occurrence = None
        if "occurrence" in fields:
            where = f"{key_path}.occurrence"
            value_node = fields["occurrence"][1]
            if action != "reset_after":
                raise self.fail(
                    value_node, where, 'only a "reset_after" rule can pick an occurrence'
                )
            occurrence = self.integer(value_node, where)
            if occurrence == 0:
                raise self.fail(
                    value_node, where, "1 is the first occurrence, -1 the last; 0 is none"
                )
        allow_replay = False
        if "allow_replay" in fields:
            allow_replay = self.boolean(fields["allow_replay"][1], f"{key_path}.allow_replay")
        return Rule(
            files=files,
            action=action,
            step=step,
            line=node.start_mark.line + 1,
            occurrence=occurrence,
            allow_replay=allow_replay,
        )

    def pattern(self, node: yaml.Node, key_path: str) -> str:
        value = str(node.value).strip()
        bare = value.removeprefix("!")
        posix = PurePosixPath(bare)
        if bare.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:[\\/]", bare):
            raise self.fail(
                node, key_path, "patterns are relative to the config file's folder, not absolute"
            )
        if ".." in posix.parts:
            raise self.fail(
                node, key_path, "patterns cannot leave the config file's folder (no ..)"
            )
        if "\\" in bare:
            raise self.fail(node, key_path, "use / to separate folders")
        problem = pattern_problem(value)  # what pathspec cannot compile (runner/paths.py)
        if problem is not None:
            raise self.fail(node, key_path, problem)
        return value
