"""Find a workflow's dataset files and read their cases, as Output's CLI does
(docs/output-api.md §8.1, §8.2); and the input its eval workflow takes (§8.4).

A file that cannot be read or parsed is one problem line naming it; the other files' cases
are still read. Reading a case never runs anything: yaml's safe loader only.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

WORKFLOW_ROOTS = ("src/workflows", "workflows")
DATASETS = Path("tests") / "datasets"
_SKIP = frozenset({"node_modules", "dist", "vendor", ".git", ".output-reset"})
_DECLARED = re.compile(r"""\bname\s*:\s*(['"`])([A-Za-z0-9_.@-]+)\1""")


@dataclass(frozen=True, slots=True, kw_only=True)
class Case:
    """One dataset case: its name (the top-level key), its input, and the rest as written."""

    name: str
    input: Mapping[str, Any]
    body: Mapping[str, Any]  # everything under the name: input, ground_truth, last_output, ...
    source: Path  # the dataset file

    @property
    def input_json(self) -> str:
        return json.dumps(self.input, sort_keys=True, ensure_ascii=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Datasets:
    folder: Path | None  # <workflow folder>/tests/datasets; None when the folder was not found
    cases: tuple[Case, ...]  # files in byte order, cases in file order (as Output reads them)
    problems: tuple[str, ...]  # one line per file, or case, that could not be used

    def names(self) -> list[str]:
        return [case.name for case in self.cases]


def workflow_folder(root: Path, workflow_type: str) -> Path | None:
    """The folder of the workflow registered as `workflow_type`: `src/workflows/<name>` (or
    `workflows/<name>`) when it exists, as Output's CLI looks first (docs/output-api.md §8.1:
    a folder of that name is enough); else the folder whose workflow.ts declares that name
    (where the CLI asks the catalog for the path)."""
    for top in WORKFLOW_ROOTS:
        flat = root / top / workflow_type
        if flat.is_dir():
            return flat
    for top in WORKFLOW_ROOTS:
        for source in _workflow_files(root / top):
            if workflow_type in _declared_names(source):
                return source.parent
    return None


def read_datasets(root: Path, workflow_type: str) -> Datasets:
    folder = workflow_folder(root, workflow_type)
    if folder is None:
        problem = (
            f"no folder under src/workflows declares workflow {workflow_type} (the config must "
            "sit in the Output project's folder, beside its src/)"
        )
        return Datasets(folder=None, cases=(), problems=(problem,))
    return datasets_in(folder, root)


def datasets_in(folder: Path, root: Path) -> Datasets:
    """The cases in `<folder>/tests/datasets` (`folder`: a workflow's folder)."""
    datasets = folder / DATASETS
    cases: list[Case] = []
    problems: list[str] = []
    files, unusable = _dataset_files(datasets)
    problems += [f"{_shown(path, root)}: cannot read it ({why})" for path, why in unusable]
    for path in files:
        shown = _shown(path, root)
        try:
            found = _cases_of(path, shown, problems)
        except _Unusable as exc:
            problems.append(str(exc))
            continue
        for case in found:
            if any(c.name == case.name for c in cases):
                problems.append(f'{shown}: case "{case.name}" is also in another file; ignored')
            else:
                cases.append(case)
    return Datasets(folder=datasets, cases=tuple(cases), problems=tuple(problems))


def eval_input(cases: list[Case], outputs: Mapping[str, Any], date: str) -> dict[str, Any]:
    """The input of `<workflow>_eval`, as `output workflow test --cached` sends it, with each
    case's new output as its `last_output` (a case without one is left out). Unlike the CLI,
    no absolute `_source` path and no stale `last_eval` go to the API."""
    datasets: list[dict[str, Any]] = []
    for case in cases:
        if case.name not in outputs:
            continue
        body = {k: v for k, v in case.body.items() if k not in ("last_output", "last_eval")}
        datasets.append(
            {
                "name": case.name,
                **body,
                "last_output": {"output": outputs[case.name], "date": date},
            }
        )
    return {"datasets": datasets}


class _Unusable(Exception):
    """A dataset file that cannot be used; its message is the one line to show."""


def _cases_of(path: Path, shown: str, problems: list[str]) -> list[Case]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _Unusable(f"{shown}: cannot read it ({_why(exc)})") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        at, problem = yaml_error(exc)
        where = f":{at[0]}:{at[1]}" if at is not None else ""
        raise _Unusable(f"{shown}{where}: not a dataset file ({_one_line(problem)})") from None
    if not isinstance(document, dict):
        raise _Unusable(f"{shown}: not a dataset file (the top level must map case names to cases)")
    for name in _written_twice(text, len(document)):
        problems.append(f'{shown}: case "{name}" is in it twice; the last one counts')
    cases: list[Case] = []
    for name, body in document.items():
        if not isinstance(body, dict) or not isinstance(body.get("input"), dict):
            problems.append(f'{shown}: case "{name}" has no "input" mapping; ignored')
            continue
        cases.append(Case(name=str(name), input=body["input"], body=body, source=path))
    return cases


def yaml_error(exc: yaml.YAMLError) -> tuple[tuple[int, int] | None, str]:
    """Where a YAML error is (line and column, from 1) when it says, and what it is."""
    mark = getattr(exc, "problem_mark", None)
    at = (mark.line + 1, mark.column + 1) if mark is not None else None
    return at, str(getattr(exc, "problem", None) or "not YAML")


def _written_twice(text: str, kept: int) -> list[str]:
    """The case names written more than once at the top level (yaml keeps the last)."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if not isinstance(root, yaml.MappingNode) or len(root.value) == kept:
        return []
    return names_twice(root)


def names_twice(root: yaml.MappingNode) -> list[str]:
    """The keys of a mapping written more than once, in order (yaml keeps the last)."""
    names = [str(key.value) for key, _ in root.value]
    return list(dict.fromkeys(n for i, n in enumerate(names) if n in names[:i]))


def _dataset_files(folder: Path) -> tuple[list[Path], list[tuple[Path, str]]]:
    """The dataset files, and the entries named so that cannot be told apart from one (a
    link that loops, or points where it may not look), with why. A folder or a pipe named
    x.yml is not a file: passed over, as Output's CLI does."""
    found: list[Path] = []
    unusable: list[tuple[Path, str]] = []
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if not entry.name.endswith((".yml", ".yaml")):
                    continue
                try:
                    if entry.is_file():
                        found.append(Path(entry.path))
                except OSError as exc:  # is_file follows a link: ELOOP, EACCES
                    unusable.append((Path(entry.path), _why(exc)))
    except OSError:
        return [], []
    # libuv's readdir order: bytes
    return sorted(found, key=lambda p: p.name.encode()), sorted(unusable)


def _workflow_files(top: Path) -> Iterator[Path]:
    for folder, dirs, files in os.walk(top):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP and not d.startswith("."))
        for name in ("workflow.ts", "workflow.js"):
            if name in files:
                yield Path(folder) / name


def _declared_names(source: Path) -> set[str]:
    try:
        text = source.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return set()
    return {m.group(2) for m in _DECLARED.finditer(text)}


def _shown(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _why(exc: BaseException) -> str:
    return exc.strerror or str(exc) if isinstance(exc, OSError) else "not UTF-8 text"


def _one_line(text: str) -> str:
    return " ".join(text.split())
