"""Write cases' `last_output` and `last_eval` back into their dataset file, with the fields
Output's `workflow test --save` writes (docs/output-api.md §8.7); the only code that writes a
dataset file (`output-reset save-datasets` calls it).

Output re-dumps the whole file, which drops its comments and turns flow style into block
style. This splices lines instead: a key that is there is replaced where it stands, a new one
is appended to its case (as Output's shallow merge appends it), and every other line stays
byte for byte. A case written in flow style (`a: {input: {...}}`) is the exception: its own
lines become block style. The result is read back before anything is written; should it not
read as the file with just those keys set, nothing is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from runner.atomic import write_atomically
from runner.datasets.read import DATASETS, names_twice, yaml_error
from runner.errors import NotWritten


def is_dataset_file(rel: str) -> bool:
    """Whether a project path (POSIX, relative) is a dataset file, which only save-datasets
    may write: a `.yml`/`.yaml` directly in some `tests/datasets/` folder."""
    parts = rel.split("/")
    return parts[-3:-1] == list(DATASETS.parts) and parts[-1].endswith((".yml", ".yaml"))


def last_output(output: Any, date: str, execution_ms: int | None = None) -> dict[str, Any]:
    """A case's `last_output`, as `--save` writes it after the case's run."""
    found: dict[str, Any] = {"output": output}
    if execution_ms is not None:
        found["executionTimeMs"] = execution_ms
    found["date"] = date
    return found


def last_eval(eval_case: Any, date: str) -> dict[str, Any]:
    """A case's `last_eval`: its EvalCase from the eval workflow's output."""
    return {"output": eval_case, "date": date}


def write_cases(path: Path, updates: Mapping[str, Mapping[str, Any]]) -> bool:
    """Set, in each named case of the file, the given keys; False when it already said so
    (nothing written). NotWritten when the file cannot be read, changed or written."""
    try:
        text = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise NotWritten(f"cannot read it ({why})") from None
    new = updated_text(text, updates)
    if new == text:
        return False
    try:
        write_atomically(path, new.encode("utf-8"))
    except OSError as exc:
        raise NotWritten(f"cannot write it ({exc.strerror or exc})") from None
    return True


def updated_text(text: str, updates: Mapping[str, Mapping[str, Any]]) -> str:
    """`text` with the keys of `updates[case]` set in each case. NotWritten when a case is
    missing or cannot be changed this way."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        at, problem = yaml_error(exc)
        where = f" at line {at[0]}, column {at[1]}" if at is not None else ""
        raise NotWritten(f"not a dataset file{where} ({problem})") from None
    if not isinstance(root, yaml.MappingNode) or not isinstance(document, dict) or root.flow_style:
        raise NotWritten("not a dataset file (the top level must map case names to cases)")
    twice = names_twice(root)
    if twice:
        raise NotWritten(f'case "{twice[0]}" is in it twice; keep one of them')
    if len(root.value) != len(document):  # a merge key (<<) among the cases
        raise NotWritten("not a dataset file (the top level must map case names to cases)")
    lines = text.splitlines(keepends=True)
    newline = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    expected = dict(document)
    edits: list[_Edit] = []
    for (key, body), name in zip(root.value, document, strict=True):
        update = updates.get(str(name))
        if update is not None:
            edits += _case_edits(str(name), key, body, document[name], update, newline)
            expected[name] = {**document[name], **update}
    missing = sorted(set(updates) - {str(name) for name in document})
    if missing:
        raise NotWritten(f'case "{missing[0]}" is not in it any more')
    if any(e.end == len(lines) for e in edits) and not lines[-1].endswith(("\n", "\r")):
        lines[-1] += newline  # a last line without its newline gets one before new lines
    for edit in sorted(edits, key=lambda e: e.start, reverse=True):
        lines[edit.start : edit.end] = edit.lines
    new = "".join(lines)
    if yaml.safe_load(new) != expected:
        raise NotWritten(
            "left as it was: the change would not read back as written (a case shares its "
            "text with another through a YAML anchor?)"
        )
    return new


@dataclass(frozen=True, slots=True)
class _Edit:
    start: int  # the first line replaced (0-based)
    end: int  # the line after the last one replaced; == start: lines inserted before start
    lines: list[str]


def _case_edits(
    name: str,
    key: yaml.Node,
    body: yaml.Node,
    current: Any,
    update: Mapping[str, Any],
    newline: str,
) -> list[_Edit]:
    if not isinstance(body, yaml.MappingNode) or not isinstance(current, dict):
        raise NotWritten(f'case "{name}" is not a mapping')
    if body.start_mark.index < key.end_mark.index:
        raise NotWritten(f'case "{name}" is an alias of another case; write it out in full')
    first = key.start_mark.line
    if body.flow_style:
        merged = {name: {**current, **update}}
        return [_Edit(first, _last_line(body) + 1, _block(merged, key, newline))]
    fields = {str(k.value): (k, v) for k, v in body.value}
    column = body.value[0][0]
    edits: list[_Edit] = []
    appended: dict[str, Any] = {}
    for field, value in update.items():
        if field in fields:
            k, v = fields[field]
            end = max(k.start_mark.line, _last_line(v)) + 1
            edits.append(_Edit(k.start_mark.line, end, _block({field: value}, column, newline)))
        else:
            appended[field] = value
    if appended:
        k, v = body.value[-1]
        end = max(k.start_mark.line, _last_line(v)) + 1
        edits.append(_Edit(end, end, _block(appended, column, newline)))
    return edits


def _last_line(node: yaml.Node) -> int:
    """The last line with any of the node's text (0-based); a block collection's own end
    mark lies past the comments that follow it."""
    if isinstance(node, yaml.MappingNode) and not node.flow_style and node.value:
        last_key, last_value = node.value[-1]
        return max(_last_line(last_key), _last_line(last_value))
    if isinstance(node, yaml.SequenceNode) and not node.flow_style and node.value:
        return _last_line(node.value[-1])
    end = node.end_mark
    return int(end.line if end.column > 0 else end.line - 1)


class _Dumper(yaml.SafeDumper):
    """Block style as Output writes it: a list under a key is indented (`  - name: ...`)."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _multiline(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # LLM text reads best as a literal block; PyYAML falls back to quotes when it must.
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _multiline)


def _block(value: Mapping[str, Any], at: yaml.Node, newline: str) -> list[str]:
    """`value` as block-style lines, indented to the column of node `at`."""
    text = yaml.dump(
        dict(value),
        Dumper=_Dumper,
        default_flow_style=False,
        sort_keys=False,
        allow_unicode=True,
        width=120,  # Output's lineWidth
    )
    pad = " " * at.start_mark.column
    return [(pad + line if line else line) + newline for line in text.split("\n")[:-1]]
