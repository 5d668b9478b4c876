"""The architecture, checked: dependencies point one way, each foreign library has one home."""

from __future__ import annotations

import ast
from pathlib import Path

RUNNER = Path(__file__).resolve().parents[2] / "runner"

# What each module may import from runner (cli -> daemon -> adapters/core -> config/errors).
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "environment": set(),
    "debounce": set(),
    "history": set(),
    "trace": set(),
    "compare": {"history"},
    "schema": {"config"},
    "scaffold": {"errors"},
    "config": {"errors"},
    "state": {"errors"},
    "paths": {"config"},
    "plan": {"config", "history"},
    "engine": {"history"},
    "watch": {"errors", "paths"},
    "output_api": {"config", "engine", "errors", "history"},
    "temporal_engine": {"config", "engine", "errors", "history"},
    "reset": {"config", "engine", "errors", "history", "plan", "state", "trace"},
    "daemon": {
        "compare",
        "config",
        "debounce",
        "engine",
        "errors",
        "history",
        "paths",
        "plan",
        "reset",
        "state",
        "watch",
    },
}
# The one module allowed to import each foreign dependency.
FOREIGN = {
    "yaml": "config",
    "httpx": "output_api",
    "watchdog": "watch",
    "pathspec": "paths",
    "temporalio": "temporal_engine",
    "typer": "cli",
    "rich": "view",
}


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            if node.module == "runner":
                names.update(f"runner.{alias.name}" for alias in node.names)
    return names


def test_each_module_imports_only_lower_layers() -> None:
    for path in sorted(RUNNER.glob("*.py")):
        module = path.stem
        if module not in ALLOWED:
            continue
        inner = {n.split(".")[1] for n in imports_of(path) if n.startswith("runner.")}
        upward = inner - ALLOWED[module] - {"__init__"}
        assert not upward, f"runner/{path.name} reaches up to {sorted(upward)}"


def test_every_module_has_a_layer() -> None:
    modules = {p.stem for p in RUNNER.glob("*.py")} - {
        "__init__",
        "__main__",
        "cli",
        "demo",
        "view",
    }
    assert modules <= set(ALLOWED), f"add {sorted(modules - set(ALLOWED))} to ALLOWED"


def test_foreign_libraries_have_one_home() -> None:
    for path in sorted(RUNNER.glob("*.py")):
        for name in imports_of(path):
            top = name.split(".")[0]
            home = FOREIGN.get(top)
            if home is not None:
                assert path.stem == home, f"runner/{path.name} imports {top}; only {home} may"
