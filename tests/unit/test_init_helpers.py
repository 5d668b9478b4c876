"""`output-reset init` and prompts loaded in helper modules that steps import."""

from __future__ import annotations

from pathlib import Path

from runner.init import render_config, scan_project
from tests.unit.init_support import PROMPT, load, rules, workflow_ts, write

W = "src/workflows/notes"

STEPS = """\
import { step, z } from '@outputai/core';
import { summarize } from './lib/summarizer.js';
import Writer from './lib/writer.js';
import * as tags from '../../shared/utils/tags.js';
import { registerDefaults } from './lib/defaults.js';
import { glossary } from '#shared/glossary.js';

registerDefaults();

export const collect = step({
  name: 'collect',
  fn: async ({ text }) => ({ words: text.split(' ').length, terms: glossary(text) })
});

export const summarizeNotes = step({
  name: 'summarize_notes',
  fn: async ({ text }) => ({ summary: await summarize(text) })
});

export const draft = step({
  name: 'draft',
  fn: async ({ summary }) => new Writer('plain').draft(summary)
});

export const tagNotes = step({
  name: 'tag_notes',
  fn: async ({ summary }) => tags.suggest(summary)
});
"""

SUMMARIZER = """\
import { generateText } from '@outputai/llm';
import { polish } from './polish.js';

export async function summarize(text: string): Promise<string> {
  const { result } = await generateText({ prompt: 'summarize@v1', variables: { text } });
  return polish(result);
}
"""

POLISH = """\
import { generateText } from '@outputai/llm';
import { summarize } from './summarizer.js';

export const polish = async (text: string): Promise<string> => {
  if (!text) {
    return summarize('empty');
  }
  const { result } = await generateText({ prompt: 'polish@v1', variables: { text } });
  return result;
};
"""

WRITER = """\
import { generateText } from '@outputai/llm';

export default class Writer {
  constructor(private readonly style: string) {}

  async draft(summary: string): Promise<string> {
    const { result } = await generateText({ prompt: 'draft@v1', variables: { summary } });
    return result;
  }
}
"""

DEFAULTS = """\
import { generateText } from '@outputai/llm';

export function registerDefaults(): void {
  setTimeout(() => generateText({ prompt: 'warm_up@v1' }), 0);
}
"""

TAGS = """\
import { generateText } from '@outputai/llm';

export async function suggest(summary: string, kind = 'topic') {
  const { result } = await generateText({ prompt: 'tags@v1', variables: { summary } });
  const again = await generateText({ prompt: `tags_${kind}@v1`, variables: { summary } });
  return [result, again.result];
}
"""


def project(root: Path) -> Path:
    return write(
        root,
        {
            f"{W}/workflow.ts": workflow_ts(
                "notes",
                "const a = await collect(input);\n  const b = await summarizeNotes(input);\n"
                "  const c = await draft(b);\n  return tagNotes(b);",
                "import { collect, summarizeNotes, draft, tagNotes } from './steps.js';",
            ),
            f"{W}/steps.ts": STEPS,
            f"{W}/lib/summarizer.ts": SUMMARIZER,
            f"{W}/lib/polish.ts": POLISH,
            f"{W}/lib/writer.ts": WRITER,
            f"{W}/lib/defaults.ts": DEFAULTS,
            f"{W}/lib/prompts/summarize@v1.prompt": PROMPT,
            f"{W}/lib/prompts/polish@v1.prompt": PROMPT,
            f"{W}/lib/draft@v1.prompt": PROMPT,
            f"{W}/lib/warm_up@v1.prompt": PROMPT,
            "src/shared/utils/tags.ts": TAGS,
            "src/shared/utils/tags@v1.prompt": PROMPT,
        },
    )


def test_prompts_in_helpers_map_to_the_steps_that_call_them(tmp_path: Path) -> None:
    scanned = scan_project(project(tmp_path))
    (workflow,) = scanned.workflows
    assert [(s.name, [p.name for p in s.prompts]) for s in workflow.steps] == [
        ("collect", ["warm_up@v1"]),
        ("summarize_notes", ["summarize@v1", "polish@v1", "warm_up@v1"]),
        ("draft", ["draft@v1", "warm_up@v1"]),
        ("tag_notes", ["tags@v1", "warm_up@v1"]),
    ]
    summarize = workflow.steps[1].prompts[0]
    assert summarize.file.relative_to(scanned.root).as_posix() == f"{W}/lib/summarizer.ts"
    assert not summarize.guessed
    assert workflow.steps[0].prompts[0].guessed


def test_what_a_helper_hides_is_a_warning(tmp_path: Path) -> None:
    assert scan_project(project(tmp_path)).warnings == (
        "src/shared/utils/tags.ts:5: tag_notes: cannot tell which prompt file prompt: "
        "`...${...}...` loads; no rule for it",
        f"{W}/steps.ts:6: #shared/glossary.js is not a relative import; output-reset cannot "
        "follow it to the prompts it may load (map them by hand)",
    )


def test_the_rules_and_the_note_for_a_guess(tmp_path: Path) -> None:
    root = project(tmp_path)
    text = render_config(scan_project(root), config_dir=root)
    assert rules(load(text, root))["latest notes"] == [
        (f"{W}/lib/warm_up@v1.prompt", "rerun", "collect"),
        (f"{W}/lib/prompts/summarize@v1.prompt", "rerun", "summarize_notes"),
        (f"{W}/lib/prompts/polish@v1.prompt", "rerun", "summarize_notes"),
        (f"{W}/lib/draft@v1.prompt", "rerun", "draft"),
        ("src/shared/utils/tags@v1.prompt", "rerun", "tag_notes"),
        (f"{W}/steps.ts", "rerun", "collect"),
        (f"{W}/workflow.ts", "rerun", "collect"),
    ]
    flat = " ".join(line.strip().removeprefix("# ") for line in text.splitlines())
    assert (
        "Loaded in src/workflows/notes/lib/defaults.ts, which src/workflows/notes/steps.ts "
        "imports; output-reset cannot tell which of its steps calls it, so it counts for every "
        "one (collect, summarize_notes, draft, tag_notes) and re-runs the first."
    ) in flat
