"""Shared by the `output-reset init` tests: fixture projects, TypeScript snippets, rule rows."""

from __future__ import annotations

from pathlib import Path

from runner.config import Config, parse_config

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
MULTI = ROOT / "tests" / "fixtures" / "projects" / "multi"

RuleRow = tuple[str, str, str]  # (files, action, step)


def load(text: str, config_dir: Path) -> Config:
    return parse_config(
        text, path=config_dir.resolve() / "output-reset.yaml", shown_as="output-reset.yaml"
    )


def rules(config: Config) -> dict[str, list[RuleRow]]:
    return {
        w.label: [(", ".join(r.files), r.action, r.step) for r in w.rules] for w in config.workflows
    }


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def workflow_ts(name: str, body: str, imports: str = "") -> str:
    return (
        "import { workflow, z } from '@outputai/core';\n"
        f"{imports}\n"
        "export default workflow({\n"
        f"  name: '{name}',\n"
        "  inputSchema: z.object({}),\n"
        f"  fn: async (input) => {{\n{body}\n  }}\n"
        "});\n"
    )


def step_ts(*steps: tuple[str, str, str | None]) -> str:
    """(export, name, prompt or None) -> a steps.ts declaring them."""
    out = [
        "import { step, z } from '@outputai/core';",
        "import { generateText } from '@outputai/llm';",
    ]
    for export, name, prompt in steps:
        call = f"generateText({{ prompt: '{prompt}' }})" if prompt else "({})"
        out.append(
            f"export const {export} = step({{\n  name: '{name}',\n  fn: async () => {call}\n}});"
        )
    return "\n".join(out) + "\n"


PROMPT = "---\nprovider: anthropic\nmodel: claude-haiku-4-5\n---\n<user>hi</user>\n"
