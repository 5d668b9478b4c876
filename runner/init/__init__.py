"""`output-reset init`: read an Output project and write a first `output-reset.yaml` for it.

`scan_project` reads the TypeScript sources with a small lexer (no Node toolchain) into a
`Project`; `render_config` turns that into commented YAML text and is pure; `choose_pin` picks
the run an entry pins from the runs of its type.
"""

from __future__ import annotations

from runner.init.pins import choose_pin
from runner.init.project import Project, PromptUse, Step, StepCall, Workflow
from runner.init.render import render_config
from runner.init.scanner import scan_project

__all__ = [
    "Project",
    "PromptUse",
    "Step",
    "StepCall",
    "Workflow",
    "choose_pin",
    "render_config",
    "scan_project",
]
