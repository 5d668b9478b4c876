"""The architecture, checked: dependencies point one way, the core is pure, each foreign
library has one home. Every rule is also shown to catch a bad example.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

RUNNER = Path(__file__).resolve().parents[2] / "runner"

# Lowest layer first: a module may import only modules listed before it (a package counts as
# one entry, and its own modules may import one another; a dotted entry is a sub-package with a
# layer of its own).
ORDER = (
    # The example worker the demo runs: a stand-in for a user's own worker, so it imports
    # nothing of output-reset (it ships in the package only so the demo runs from any install).
    "demo.worker",
    "errors",
    "pathnames",
    "pins",
    "history",
    "debounce",
    "config",
    "environment",
    "plan",
    "compare",
    "usage",
    "evals",
    "reports",
    "wording",
    "jsonlines",
    "actions",
    "tracker",
    "rounds",
    "fanout",
    "gate",
    "board",
    "engine",
    "atomic",
    "datasets",
    "cases",
    "paths",
    "watch",
    "watched",
    "pidlock",
    "state",
    "auditlog",
    "iterations",
    "api_answers",
    "output_api",
    "temporal",
    "runs",
    "resetter",
    "follow",
    "probe",
    "evaluate",
    "recording",
    "jobs",
    "effects",
    "daemon",
    "view",
    "init",
    "schema",
    "signals",
    "demo",
    "cli",
    "__main__",
)
# The pure core decides; it never touches the OS, the network or a clock.
PURE = frozenset(
    {
        "errors",
        "pathnames",
        "pins",
        "history",
        "debounce",
        "plan",
        "compare",
        "usage",
        "evals",
        "reports",
        "wording",
        "jsonlines",
        "actions",
        "tracker",
        "rounds",
        "fanout",
        "gate",
        "board",
    }
)
IMPURE = frozenset(
    {"time", "socket", "threading", "os", "subprocess", "httpx", "watchdog", "temporalio"}
)
# The view renders what the core produced; it reaches no adapter.
PRESENTATION = frozenset({"view"})
# Orchestration talks to whatever engine it is given, through the Protocol in engine.py.
ORCHESTRATION = frozenset(
    {
        "runs",
        "resetter",
        "follow",
        "probe",
        "evaluate",
        "jobs",
        "effects",
        "daemon",
        "tracker",
        "board",
    }
)
ENGINES = frozenset({"output_api", "temporal"})
# The one place allowed to import each foreign dependency.
FOREIGN = {
    "yaml": ("config", "datasets"),
    "httpx": ("output_api",),
    "watchdog": ("watch",),
    "pathspec": ("paths",),
    "temporalio": ("temporal", "demo.worker"),
    "google": ("temporal",),
    "typer": ("cli",),
    "rich": ("view",),
}


@dataclass(frozen=True, slots=True)
class Module:
    name: str  # the entry in ORDER: "daemon", "temporal" for runner/temporal/adapter.py
    path: str
    source: str


def layer(parts: list[str], order: tuple[str, ...] = ORDER) -> str:
    """The entry in ORDER for a module path below runner/: the longest dotted prefix listed
    ("demo.worker" for demo/worker/steps), else the top-level name ("demo" for demo/flow)."""
    for n in range(len(parts), 1, -1):
        if ".".join(parts[:n]) in order:
            return ".".join(parts[:n])
    return parts[0]


def runner_modules() -> list[Module]:
    found: list[Module] = []
    for path in sorted(RUNNER.rglob("*.py")):
        rel = path.relative_to(RUNNER)
        if rel.parts == ("__init__.py",):
            continue
        name = layer([*rel.parent.parts, rel.stem])
        found.append(Module(name, f"runner/{rel}", path.read_text(encoding="utf-8")))
    return found


def violations(module: Module, order: tuple[str, ...] = ORDER) -> list[str]:
    """Every rule this module breaks, one line each."""
    problems: list[str] = []
    rank = {name: i for i, name in enumerate(order)}
    if module.name not in rank:
        return [f"{module.path}: not in ORDER; give it a layer"]
    for node in ast.walk(ast.parse(module.source)):
        if isinstance(node, ast.ImportFrom) and node.level > 0:
            problems.append(f"{module.path}: relative import (use runner.<module>)")
            continue
        for imported in _names(node):
            top = imported.split(".")[0]
            if top == "runner":
                problems += _inner(module, imported, rank, order)
            elif module.name in PURE and top in IMPURE:
                problems.append(f"{module.path}: the pure core imports {top}")
            elif top in FOREIGN and module.name not in FOREIGN[top]:
                problems.append(f"{module.path}: imports {top}; only {FOREIGN[top][0]} may")
    return problems


def _names(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.module:
        if node.module == "runner":
            return [f"runner.{alias.name}" for alias in node.names]
        return [node.module]
    return []


def _inner(
    module: Module, imported: str, rank: dict[str, int], order: tuple[str, ...]
) -> list[str]:
    parts = imported.split(".")
    if len(parts) < 2 or parts[1] == "__version__":
        return []
    target = layer(parts[1:], order)
    if target == module.name:
        return []  # inside one package
    if target not in rank:
        return [f"{module.path}: imports runner.{target}, which has no layer"]
    if rank[target] >= rank[module.name]:
        return [f"{module.path}: reaches up to runner.{target}"]
    if module.name in PURE and target not in PURE and target != "config":
        return [f"{module.path}: the pure core imports runner.{target}, an adapter"]
    if module.name in PRESENTATION and target not in PURE:
        return [f"{module.path}: the view imports runner.{target}; it renders core data only"]
    if module.name in ORCHESTRATION and target in ENGINES:
        return [f"{module.path}: imports the {target} engine; use the Engine Protocol"]
    return []


# -- the rules, on this code -------------------------------------------------------------------


def test_every_module_keeps_to_its_layer() -> None:
    problems = [p for module in runner_modules() for p in violations(module)]
    assert not problems, "\n".join(problems)


def test_the_order_names_only_modules_that_exist() -> None:
    present = {m.name for m in runner_modules()}
    assert set(ORDER) - present - {"__main__"} == set(), "remove modules that are gone"


# -- the rules, each shown to catch a bad example -------------------------------------------

# A layering of made-up modules with the roles the rules name.
EXAMPLE = (
    "demo.worker",
    "errors",
    "history",
    "config",
    "plan",
    "compare",
    "tracker",
    "state",
    "output_api",
    "temporal",
    "daemon",
    "view",
    "demo",
    "cli",
)


@pytest.mark.parametrize(
    ("name", "source", "expected"),
    [
        ("plan", "from .history import RunHistory\n", "relative import"),
        ("plan", "import time\n", "the pure core imports time"),
        ("tracker", "import threading\n", "the pure core imports threading"),
        ("history", "from os import path\n", "the pure core imports os"),
        ("compare", "import socket\n", "the pure core imports socket"),
        ("tracker", "from runner.state import StateStore\n", "reaches up to runner.state"),
        ("plan", "from runner.tracker import Tracker\n", "reaches up to runner.tracker"),
        ("view", "from runner.temporal import TemporalEngine\n", "the view imports"),
        ("view", "from runner.daemon import Daemon\n", "the view imports runner.daemon"),
        ("demo", "from runner.cli import main\n", "reaches up to runner.cli"),
        ("daemon", "from runner.output_api import OutputApi\n", "use the Engine Protocol"),
        ("view", "import httpx\n", "only output_api may"),
        ("daemon", "from watchdog.observers import Observer\n", "only watch may"),
        ("cli", "import yaml\n", "only config may"),
        ("gadgets", "import json\n", "not in ORDER"),
        ("demo.worker", "from runner.errors import RunnerError\n", "reaches up to runner.errors"),
        ("demo", "import temporalio\n", "only temporal may"),
        ("view", "from runner.gadgets import x\n", "has no layer"),
    ],
)
def test_a_rule_catches_a_bad_example(name: str, source: str, expected: str) -> None:
    found = violations(Module(name, f"runner/{name}.py", source), EXAMPLE)
    assert any(expected in problem for problem in found), found


def test_good_examples_pass() -> None:
    good = [
        Module("plan", "runner/plan.py", "from runner.history import RunHistory\nimport bisect\n"),
        Module("cli", "runner/cli.py", "import typer\nfrom runner.daemon import Daemon\n"),
        Module(
            "temporal",
            "runner/temporal/adapter.py",
            "from runner.temporal.loop import LoopThread\nimport temporalio\n",
        ),
        Module("tracker", "runner/tracker.py", "from runner.config import Rule\n"),
        Module(
            "demo.worker",
            "runner/demo/worker/steps.py",
            "from runner.demo.worker.workflows import STEPS\nfrom temporalio import activity\n",
        ),
        Module("demo", "runner/demo/flow.py", "from runner.demo.processes import DevServer\n"),
    ]
    assert [p for m in good for p in violations(m, EXAMPLE)] == []


# -- size and the error tree ------------------------------------------------------------------

MAX_LINES = 500


def too_long(files: dict[str, str]) -> list[str]:
    """The modules over MAX_LINES lines (a room doing more than one job)."""
    return [
        f"{name}: {text.count(chr(10))} lines"
        for name, text in files.items()
        if text.count("\n") > MAX_LINES
    ]


def errors_elsewhere(files: dict[str, str]) -> list[str]:
    """Public exception classes defined outside errors.py: every error that leaves a module is
    one of its tree (a private one, `_Stopped`, is control flow that never leaves its module)."""
    found = []
    for name, text in files.items():
        if name == "errors.py":
            continue
        for node in ast.walk(ast.parse(text)):
            if (
                isinstance(node, ast.ClassDef)
                and not node.name.startswith("_")
                and any(
                    isinstance(b, ast.Name) and (b.id.endswith(("Error", "Exception")))
                    for b in node.bases
                )
            ):
                found.append(f"{name}: class {node.name}")
    return found


def runner_sources() -> dict[str, str]:
    return {
        str(path.relative_to(RUNNER)): path.read_text(encoding="utf-8")
        for path in sorted(RUNNER.rglob("*.py"))
        if "demo/worker" not in path.as_posix()  # the example worker is not output-reset's
    }


def test_no_module_is_over_500_lines_and_every_error_is_in_errors_py() -> None:
    sources = runner_sources()
    assert too_long(sources) == []
    assert errors_elsewhere(sources) == []


def test_the_size_and_error_rules_catch_a_bad_example() -> None:
    assert too_long({"big.py": "x = 1\n" * 501}) == ["big.py: 501 lines"]
    assert too_long({"ok.py": "x = 1\n" * 500}) == []
    bad = "from runner.errors import RunnerError\nclass Oops(RunnerError):\n    pass\n"
    assert errors_elsewhere({"watch.py": bad}) == ["watch.py: class Oops"]
    assert errors_elsewhere({"errors.py": bad}) == []
    assert errors_elsewhere({"watch.py": "class _Done(Exception):\n    pass\n"}) == []
