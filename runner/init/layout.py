"""Where Output looks for things (`output-reset init`): workflow folders, the module an import
names, the depth-first prompt search and the skills a prompt loads.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

SKIP_DIRS = frozenset({"node_modules", "dist", "vendor", ".git", ".output-reset"})


def is_code(name: str) -> bool:
    return (
        name.endswith(".ts")
        and not name.endswith(".d.ts")
        and ".spec." not in name
        and ".test." not in name
    )


def find_files(top: Path, wanted: Callable[[str], bool], *, prune: bool = False) -> Iterator[Path]:
    """Files under `top` whose name passes `wanted`, skipping build and vendor folders.

    With `prune`, folders holding their own workflow.ts (a nested workflow) are skipped.
    """
    if not top.is_dir():
        return
    for folder, dirs, files in os.walk(top):
        dirs[:] = sorted(
            d
            for d in dirs
            if d not in SKIP_DIRS
            and not d.startswith(".")
            and not (prune and (Path(folder, d) / "workflow.ts").is_file())
        )
        for name in sorted(files):
            if wanted(name):
                yield Path(folder, name)


def workflow_dir_of(path: Path) -> Path | None:
    for folder in path.parents:
        if (folder / "workflow.ts").is_file():
            return folder
    return None


def depth_first(folder: Path, name: str) -> Path | None:
    """Output's prompt search: entries in name order, recursing into folders as met."""
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return None
    for entry in entries:
        if entry.name == name:
            return Path(entry.path)
        if entry.is_dir(follow_symlinks=False) and entry.name not in ("node_modules", ".git"):
            found = depth_first(Path(entry.path), name)
            if found is not None:
                return found
    return None


def resolve_module(importer: Path, spec: str) -> Path | None:
    """The .ts file a relative import names (`./steps.js` -> steps.ts), if it exists."""
    if not spec.startswith("."):
        return None
    base = Path(os.path.normpath(importer.parent / spec))
    stem = base.with_suffix("") if base.suffix in (".js", ".mjs", ".cjs", ".ts", ".mts") else base
    for candidate in (
        base if base.suffix in (".ts", ".mts") else None,
        stem.with_name(stem.name + ".ts"),
        stem.with_name(stem.name + ".mts"),
        stem / "index.ts",
    ):
        if candidate is not None and candidate.is_file():
            return candidate
    return None


_SKILLS_KEY = re.compile(r"^skills\s*:(.*)$")


def front_matter_skills(text: str) -> list[str] | str | None:
    """`skills:` from a prompt's front matter: None when absent, a str when unreadable."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        return None
    body: list[str] = []
    for line in lines[1:]:
        if line.strip() == "---":
            break
        body.append(line)
    for i, line in enumerate(body):
        match = _SKILLS_KEY.match(line)
        if not match:
            continue
        value = re.sub(r"\s+#.*$", "", match.group(1)).strip()
        if value.startswith("[") and value.endswith("]"):
            inner = value[1:-1].strip()
            return [_unquote(v) for v in inner.split(",")] if inner else []
        if value:
            return [_unquote(value)]
        items: list[str] = []
        for item in body[i + 1 :]:
            bullet = re.match(r"^\s+-\s+(.*?)\s*(#.*)?$", item)
            if bullet:
                items.append(_unquote(bullet.group(1)))
            elif item.strip() and not item.startswith((" ", "\t")):
                break
            elif item.strip():
                return f"unexpected line {item.strip()!r}"
        return items
    return None


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value
