"""`output-reset init`, scanning: what it reads from an Output project, and what it warns about."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.errors import UsageError
from runner.init import render_config, scan_project
from tests.unit.init_support import (
    EXAMPLES,
    MULTI,
    PROMPT,
    load,
    rules,
    step_ts,
    workflow_ts,
    write,
)

# -- the example project ------------------------------------------------------------------------


def test_the_example_project_is_read_in_call_order() -> None:
    project = scan_project(EXAMPLES)
    assert project.warnings == ()
    assert [w.name for w in project.workflows] == ["blog_evaluator_eval", "blog_evaluator"]
    judge, workflow = project.workflows
    # Its eval workflow (tests/evals), evaluators in the order of its `evals:` array.
    assert [(s.name, s.kind, s.file.name) for s in judge.steps] == [
        ("enough_claims", "evaluator", "evaluators.ts"),
        ("feedback_is_actionable", "evaluator", "evaluators.ts"),
    ]
    assert workflow.directory == EXAMPLES.resolve() / "src/workflows/blog_evaluator"
    assert workflow.file == workflow.directory / "workflow.ts"
    assert not workflow.disable_trace
    assert [(s.name, s.export, s.kind, s.file.name) for s in workflow.steps] == [
        ("fetch_blog_content", "fetchBlogContent", "step", "steps.ts"),
        ("extract_claims", "extractClaims", "step", "steps.ts"),
        ("score_claims", "scoreClaims", "step", "steps.ts"),
        ("summarize_feedback", "summarizeFeedback", "step", "steps.ts"),
        ("evaluate_signal_to_noise", "evaluateSignalToNoise", "evaluator", "evaluators.ts"),
    ]
    assert [[(p.name, p.path.name) for p in s.prompts] for s in workflow.steps] == [
        [],
        [("extract_claims@v1", "extract_claims@v1.prompt")],
        [("score_claims@v1", "score_claims@v1.prompt")],
        [("summarize_feedback@v1", "summarize_feedback@v1.prompt")],
        [("signal_noise@v1", "signal_noise@v1.prompt")],
    ]
    assert [s.name for s in workflow.evaluators] == ["evaluate_signal_to_noise"]
    assert workflow.shared_files == ()
    assert workflow.skills == ()


# -- the synthetic multi-workflow project -------------------------------------------------------


def test_the_multi_workflow_project_is_read_in_call_order() -> None:
    project = scan_project(MULTI)
    by_name = {w.name: w for w in project.workflows}
    assert list(by_name) == ["agent_demo", "generate_text", "deep_research"]
    generate, research = by_name["generate_text"], by_name["deep_research"]
    # Call order, not import or declaration order; comments and strings do not count.
    assert [s.name for s in generate.steps] == [
        "normalize_text",
        "explain_topic",
        "cooking_instructions",
        "explain_again",
        "choose_option",
        "check_length",
    ]
    assert [s.export for s in generate.steps][2] == "cookingInstructions"
    assert (
        generate.directory.relative_to(project.root).as_posix() == "src/workflows/llm/generate_text"
    )
    assert [p.relative_to(project.root).as_posix() for p in generate.shared_files] == [
        "src/shared/steps/tools.ts"
    ]
    # explain_again loads prompt@v1 through a helper function declared after it.
    assert [p.name for p in generate.steps[3].prompts] == ["prompt@v1"]
    assert [p.name for p in generate.steps[1].prompts] == ["prompt@v1"]
    assert research.directory.name == "research"
    assert research.disable_trace
    assert not generate.disable_trace
    assert [s.name for s in research.evaluators] == ["check_accuracy", "judge_clarity"]
    assert [s.shared for s in research.steps] == [False] * 5 + [True]
    skills = [p.relative_to(project.root).as_posix() for p in research.skills]
    assert skills == [
        "src/workflows/research/steps/prompts/skills",
        "src/workflows/research/steps/prompts/skills/tone.md",
    ]
    assert project.warnings == (
        'src/workflows/research/steps/unused.ts:4: step "translate_report" is never called by '
        "deep_research's workflow.ts; no rule maps it",
    )


# -- errors and things the scanner cannot follow ------------------------------------------------


def test_a_folder_without_workflows_is_a_usage_error(tmp_path: Path) -> None:
    write(tmp_path, {"src/shared/steps/tools.ts": step_ts(("a", "a", None))})
    with pytest.raises(UsageError) as caught:
        scan_project(tmp_path)
    assert str(caught.value) == (
        f"no src/workflows/**/workflow.ts found under {tmp_path}; "
        "run this in an Output project (the folder with package.json and src/)"
    )
    assert caught.value.exit_code == 2


def test_a_missing_folder_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"^no src/workflows/\*\*/workflow\.ts found under "):
        scan_project(tmp_path / "nope")


def test_what_cannot_be_followed_becomes_warnings(tmp_path: Path) -> None:
    steps = (
        "import { step, z } from '@outputai/core';\n"
        "import { generateText } from '@outputai/llm';\n"
        "import { NAMES } from './names.js';\n"
        "export const dynamicName = step({ name: NAMES.first, fn: async () => ({}) });\n"
        "export const good = step({\n"
        "  name: 'good',\n"
        "  fn: async ({ kind, which }) => {\n"
        "    await generateText({ prompt: `judge_${kind}@v1` });\n"
        "    await generateText({ prompt: which });\n"
        "    await generateText({ prompt: 'missing@v1' });\n"
        "    await generateText({ prompt: 'Summarize this text please' });\n"
        "    return generateText({ prompt: 'far@v1' });\n"
        "  }\n"
        "});\n"
        "export const helpers = [1, 2].map((n) => step({ name: `made_${n}` }));\n"
    )
    write(
        tmp_path,
        {
            "src/workflows/w/workflow.ts": workflow_ts(
                "w",
                "await dynamicName({}); await good({});",
                "import { dynamicName, good } from './steps/index.js';",
            ),
            "src/workflows/w/steps/index.ts": steps,
            "src/workflows/w/prompts/far@v1.prompt": PROMPT,
        },
    )
    project = scan_project(tmp_path)
    assert project.warnings == (
        "src/workflows/w/steps/index.ts:4: step dynamicName: no literal name: '...' in its "
        "object; skipped",
        "src/workflows/w/steps/index.ts:8: good: cannot tell which prompt file "
        "prompt: `...${...}...` loads; no rule for it",
        "src/workflows/w/steps/index.ts:9: good: cannot tell which prompt file prompt: which "
        "loads; no rule for it",
        "src/workflows/w/steps/index.ts:10: good: no missing@v1.prompt found for prompt "
        "'missing@v1'; no rule for it",
        "src/workflows/w/steps/index.ts:12: good: src/workflows/w/prompts/far@v1.prompt is not "
        "under src/workflows/w/steps/, where Output looks for it; mapped anyway (pass promptDir "
        "if it is the one)",
        "src/workflows/w/steps/index.ts:15: step(...) is not assigned to a top-level const with "
        "a literal name; skipped",
    )
    text = render_config(project, config_dir=tmp_path)
    assert rules(load(text, tmp_path)) == {
        "latest w": [
            ("src/workflows/w/prompts/far@v1.prompt", "rerun", "good"),
            ("src/workflows/w/steps/index.ts", "rerun", "good"),
            ("src/workflows/w/workflow.ts", "rerun", "good"),
        ]
    }
    assert "#   - src/workflows/w/steps/index.ts:4: step dynamicName: no literal name" in text


def test_prompt_dir_silences_the_search_warning(tmp_path: Path) -> None:
    steps = (
        "import { step } from '@outputai/core';\n"
        "import { generateText } from '@outputai/llm';\n"
        "export const good = step({ name: 'good', fn: async () => generateText({\n"
        "  promptDir: new URL('../prompts', import.meta.url).pathname,\n"
        "  prompt: 'far@v1'\n"
        "}) });\n"
    )
    write(
        tmp_path,
        {
            "src/workflows/w/workflow.ts": workflow_ts(
                "w", "await good();", "import { good } from './steps/good.js';"
            ),
            "src/workflows/w/steps/good.ts": steps,
            "src/workflows/w/prompts/far@v1.prompt": PROMPT,
        },
    )
    project = scan_project(tmp_path)
    assert project.warnings == ()
    assert [p.name for p in project.workflows[0].steps[0].prompts] == ["far@v1"]


def test_workflow_folders_that_output_refuses(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "src/workflows/a/workflow.ts": workflow_ts(
                "dup", "await s();", "import { s } from './steps.js';"
            ),
            "src/workflows/a/steps.ts": step_ts(("s", "s1", None)),
            "src/workflows/b/workflow.ts": workflow_ts(
                "dup", "await s();", "import { s } from './steps.js';"
            ),
            "src/workflows/b/steps.ts": step_ts(("s", "s2", None)),
            "src/workflows/shared/workflow.ts": workflow_ts("shared_one", "return 1;"),
            "src/workflows/noname/workflow.ts": "export default workflow({ name: NAME, fn });\n",
            "src/workflows/none/workflow.ts": "export const x = 1;\n",
        },
    )
    project = scan_project(tmp_path)
    assert [w.name for w in project.workflows] == ["dup"]
    assert project.warnings == (
        'src/workflows/b/workflow.ts: workflow name "dup" is also used by '
        "src/workflows/a/workflow.ts; skipped",
        "src/workflows/noname/workflow.ts:1: workflow({ ... }) has no literal name: '...'; skipped",
        "src/workflows/none/workflow.ts: no workflow({ ... }) or evalWorkflow({ ... }) call "
        "found; skipped",
        "src/workflows/shared/workflow.ts: a workflow folder may not be named shared; skipped",
    )


def test_fn_as_a_shorthand_or_missing(tmp_path: Path) -> None:
    imports = "import { workflow } from '@outputai/core';\nimport { a, b } from './steps.js';\n"
    write(
        tmp_path,
        {
            "src/workflows/short/workflow.ts": imports
            + "async function fn() { await b(); await a(); }\n"
            + "export default workflow({ name: 'short', fn });\n",
            "src/workflows/short/steps.ts": step_ts(("a", "a1", None), ("b", "b1", None)),
            "src/workflows/nofn/workflow.ts": imports
            + "const run = async () => { await b(); await a(); };\n"
            + "export default workflow({ name: 'nofn', ...{ fn: run } });\n",
            "src/workflows/nofn/steps.ts": step_ts(("a", "a2", None), ("b", "b2", None)),
        },
    )
    project = scan_project(tmp_path)
    assert [(w.name, [s.name for s in w.steps]) for w in project.workflows] == [
        ("nofn", ["b2", "a2"]),
        ("short", ["b1", "a1"]),
    ]
    assert project.warnings == (
        "src/workflows/nofn/workflow.ts:4: workflow({ ... }) has no fn; the call order is the "
        "file order",
    )


def test_skills_listed_in_front_matter(tmp_path: Path) -> None:
    listed = "---\nmodel: m\nskills: [./guides, 'extra.md']  # two sources\n---\n<user>x</user>\n"
    write(
        tmp_path,
        {
            "src/workflows/w/workflow.ts": workflow_ts(
                "w", "await a(); await b();", "import { a, b } from './steps.js';"
            ),
            "src/workflows/w/steps.ts": step_ts(("a", "plain", None), ("b", "skilled", "p@v1")),
            "src/workflows/w/prompts/p@v1.prompt": listed,
            "src/workflows/w/prompts/guides/one.md": "one\n",
            "src/workflows/w/prompts/extra.md": "extra\n",
            "src/workflows/w/prompts/skills/ignored.md": "not loaded: skills are listed\n",
        },
    )
    project = scan_project(tmp_path)
    assert project.warnings == ()
    got = rules(load(render_config(project, config_dir=tmp_path), tmp_path))["latest w"]
    assert got[:3] == [
        ("src/workflows/w/prompts/p@v1.prompt", "rerun", "skilled"),
        ("src/workflows/w/prompts/guides/*.md", "rerun", "skilled"),
        ("src/workflows/w/prompts/extra.md", "rerun", "skilled"),
    ]


def test_prompts_are_found_depth_first_in_name_order(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "src/workflows/w/workflow.ts": workflow_ts(
                "w", "await a();", "import { a } from './steps.js';"
            ),
            "src/workflows/w/steps.ts": step_ts(("a", "a", "p@v1")),
            "src/workflows/w/b/p@v1.prompt": PROMPT,
            "src/workflows/w/a/deep/p@v1.prompt": PROMPT,
        },
    )
    (step,) = scan_project(tmp_path).workflows[0].steps
    assert [p.path.relative_to(tmp_path.resolve()).as_posix() for p in step.prompts] == [
        "src/workflows/w/a/deep/p@v1.prompt"
    ]


def test_a_type_annotation_is_not_a_prompt(tmp_path: Path) -> None:
    steps = (
        "import { step } from '@outputai/core';\n"
        "import { generateText } from '@outputai/llm';\n"
        "interface Options { prompt: string; retries?: number }\n"
        "type Call = { prompt: PromptName, vars: Record<string, string> };\n"
        "const fallback: { prompt: string } = { prompt: 'p@v1' };\n"
        "function ask(o: { prompt: string }, extra?: { prompt: string | undefined }) {\n"
        "  return generateText({ prompt: o.prompt });\n"
        "}\n"
        "export const good = step({\n"
        "  name: 'good',\n"
        "  fn: async ({ prompt }: { prompt: string }): Promise<{ prompt: string }> => {\n"
        "    await generateText({ prompt: prompt } as { prompt: string });\n"
        "    return generateText({ prompt: 'p@v1' });\n"
        "  }\n"
        "});\n"
    )
    write(
        tmp_path,
        {
            "src/workflows/w/workflow.ts": workflow_ts(
                "w", "await good();", "import { good } from './steps.js';"
            ),
            "src/workflows/w/steps.ts": steps,
            "src/workflows/w/p@v1.prompt": PROMPT,
        },
    )
    project = scan_project(tmp_path)
    assert project.warnings == (
        "src/workflows/w/steps.ts:12: good: cannot tell which prompt file prompt: prompt loads; "
        "no rule for it",
    )
    assert [p.name for p in project.workflows[0].steps[0].prompts] == ["p@v1"]
