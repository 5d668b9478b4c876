"""Checked access to composed YAML nodes (from `yaml.compose`), with their line and column.

The building blocks of the config reader: a mapping with known keys only, a list, a string,
an integer, a boolean, one string or a list of them; each raises a located, one-line
ConfigError on anything else.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator

import yaml

from runner.errors import ConfigError, one_line

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

STR = "tag:yaml.org,2002:str"
INT = "tag:yaml.org,2002:int"
BOOL = "tag:yaml.org,2002:bool"
NULL = "tag:yaml.org,2002:null"
FLOAT = "tag:yaml.org,2002:float"
MAP = "tag:yaml.org,2002:map"
SEQ = "tag:yaml.org,2002:seq"


class Nodes:
    """Reads composed YAML nodes, remembering where each value came from: every problem becomes
    a ConfigError `FILE:LINE:COL: key.path: what is wrong`, on one line."""

    def __init__(self, shown_as: str) -> None:
        self.shown_as = shown_as

    def fail(self, node: yaml.Node | None, key_path: str, what: str) -> ConfigError:
        line, col = (node.start_mark.line + 1, node.start_mark.column + 1) if node else (1, 1)
        # One line, whatever the file holds: control characters from values are escaped.
        return ConfigError(one_line(f"{self.shown_as}:{line}:{col}: {key_path}: {what}"))

    # -- shapes -------------------------------------------------------------------------

    def mapping(
        self, node: yaml.Node, key_path: str, allowed: tuple[str, ...]
    ) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        if not isinstance(node, yaml.MappingNode) or node.tag != MAP:
            raise self.fail(node, key_path, f"expected a mapping, got {kind(node)}")
        seen: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != STR:
                raise self.fail(key_node, key_path, "keys must be plain names")
            key = str(key_node.value)
            here = join(key_path, key)
            if key in seen:
                first = seen[key][0].start_mark.line + 1
                raise self.fail(key_node, here, f"duplicate key (first set on line {first})")
            if key not in allowed:
                raise self.fail(key_node, here, unknown_key(key, allowed))
            seen[key] = (key_node, value_node)
        return seen

    def sequence(self, node: yaml.Node, key_path: str) -> list[yaml.Node]:
        if not isinstance(node, yaml.SequenceNode) or node.tag != SEQ:
            raise self.fail(node, key_path, f"expected a list, got {kind(node)}")
        return list(node.value)

    def string(self, node: yaml.Node, key_path: str) -> str:
        if not isinstance(node, yaml.ScalarNode) or node.tag != STR:
            hint = (
                "; put it in quotes"
                if isinstance(node, yaml.ScalarNode) and node.tag != NULL
                else ""
            )
            raise self.fail(node, key_path, f"expected a string, got {kind(node)}{hint}")
        value = str(node.value)
        if not value.strip():
            raise self.fail(node, key_path, "must not be empty")
        return value

    def integer(self, node: yaml.Node, key_path: str) -> int:
        if not isinstance(node, yaml.ScalarNode) or node.tag != INT:
            raise self.fail(node, key_path, f"expected an integer, got {kind(node)}")
        value: int = yaml.SafeLoader("").construct_yaml_int(node)
        return value

    def strings(self, node: yaml.Node, key_path: str) -> tuple[yaml.Node, ...]:
        """One string or a non-empty list of strings, as their nodes."""
        if isinstance(node, yaml.ScalarNode):
            self.string(node, key_path)
            return (node,)
        items = self.sequence(node, key_path)
        if not items:
            raise self.fail(node, key_path, "must list at least one pattern")
        for i, item in enumerate(items):
            self.string(item, f"{key_path}[{i}]")
        return tuple(items)

    def checked(self, node: yaml.Node, key_path: str, ok: Callable[[str], bool], what: str) -> str:
        value = self.string(node, key_path)
        if not ok(value):
            raise self.fail(node, key_path, what)
        return value

    def env_name(self, node: yaml.Node, key_path: str, secret: str) -> str:
        """Secrets never live in the file: it names the environment variable holding one."""
        return self.checked(
            node,
            key_path,
            lambda v: _ENV_NAME.match(v) is not None,
            f"expected the NAME of an environment variable (the {secret} itself never goes in "
            "this file)",
        )

    # -- the document -------------------------------------------------------------------

    def boolean(self, node: yaml.Node, key_path: str) -> bool:
        if not isinstance(node, yaml.ScalarNode) or node.tag != BOOL:
            raise self.fail(node, key_path, f"expected true or false, got {kind(node)}")
        return str(node.value).lower() in ("true", "yes", "on", "y")

    def distinct(self, node: yaml.Node, key_path: str, what: str) -> tuple[str, ...]:
        items = self.sequence(node, key_path)
        if not items:
            raise self.fail(node, key_path, f"must list at least one {what}")
        values: list[str] = []
        for i, item in enumerate(items):
            value = self.string(item, f"{key_path}[{i}]")
            if value in values:
                raise self.fail(item, f"{key_path}[{i}]", f"{value} is listed twice")
            values.append(value)
        return tuple(values)


def indexed(nodes: tuple[yaml.Node, ...], key_path: str) -> Iterator[tuple[yaml.Node, str]]:
    if len(nodes) == 1 and isinstance(nodes[0], yaml.ScalarNode):
        yield nodes[0], key_path
        return
    for i, node in enumerate(nodes):
        yield node, f"{key_path}[{i}]"


def join(key_path: str, key: str) -> str:
    return key if key_path == "(document)" else f"{key_path}.{key}"


def unknown_key(key: str, allowed: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    if close:
        return f'unknown key; did you mean "{close[0]}"?'
    return "unknown key; expected one of: " + ", ".join(allowed)


def kind(node: yaml.Node) -> str:
    if node.tag not in (MAP, SEQ, STR, INT, FLOAT, BOOL, NULL):
        return f"a value tagged {node.tag}"
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    tag = node.tag
    shown = str(node.value)
    if len(shown) > 30:
        shown = shown[:27] + "..."
    if tag == STR:
        return f'a string ("{shown}")'
    if tag == INT:
        return f"an integer ({shown})"
    if tag == FLOAT:
        return f"a number ({shown})"
    if tag == BOOL:
        return f"a boolean ({shown})"
    if tag == NULL:
        return "nothing (null)"
    return f"a value tagged {tag}"
