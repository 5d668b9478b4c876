"""`output-reset init`: scanning an Output project and rendering a config that loads cleanly."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runner.config import Config, RuleRef, load_config, parse_config
from runner.errors import UsageError
from runner.paths import Matcher
from runner.scaffold import Project, render_config, scan_project

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


# -- the example project ------------------------------------------------------------------------

EXAMPLE_RULES: list[RuleRow] = [
    ("src/workflows/blog_evaluator/prompts/extract_claims@v1.prompt", "rerun", "extract_claims"),
    ("src/workflows/blog_evaluator/prompts/score_claims@v1.prompt", "rerun", "score_claims"),
    (
        "src/workflows/blog_evaluator/prompts/summarize_feedback@v1.prompt",
        "rerun",
        "summarize_feedback",
    ),
    (
        "src/workflows/blog_evaluator/prompts/signal_noise@v1.prompt",
        "rerun",
        "evaluate_signal_to_noise",
    ),
    ("src/workflows/blog_evaluator/steps.ts", "rerun", "fetch_blog_content"),
    ("src/workflows/blog_evaluator/evaluators.ts", "rerun", "evaluate_signal_to_noise"),
    ("src/workflows/blog_evaluator/workflow.ts", "rerun", "fetch_blog_content"),
]


def test_the_example_project_is_read_in_call_order() -> None:
    project = scan_project(EXAMPLES)
    assert project.warnings == ()
    (workflow,) = project.workflows
    assert workflow.name == "blog_evaluator"
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


def test_the_example_config_has_the_exact_rules() -> None:
    text = render_config(scan_project(EXAMPLES), config_dir=EXAMPLES)
    assert rules(load(text, EXAMPLES)) == {"latest blog_evaluator": EXAMPLE_RULES}
    assert "  - type: blog_evaluator  # pin the most recent run of this type\n" in text


def test_paths_are_relative_to_the_config_folder() -> None:
    text = render_config(scan_project(EXAMPLES), config_dir=ROOT)
    got = rules(load(text, ROOT))["latest blog_evaluator"]
    assert got == [(f"examples/{f}", a, s) for f, a, s in EXAMPLE_RULES]
    # The hand-written config at the repository root maps the same files to the same steps.
    written = rules(load_config(ROOT / "output-reset.yaml"))["latest blog_evaluator"]
    assert {(f, s) for f, _, s in written} <= {(f, s) for f, _, s in got}
    assert "# Written by `output-reset init` from the sources in examples/src/workflows;" in text


def test_pins_write_the_workflow_id_with_a_comment() -> None:
    text = render_config(
        scan_project(EXAMPLES), config_dir=EXAMPLES, pins={"blog_evaluator": "blog_evaluator-7"}
    )
    assert (
        "  - id: blog_evaluator-7  # latest run of blog_evaluator when this file was written\n"
        in text
    )
    (workflow,) = load(text, EXAMPLES).workflows
    assert (workflow.id, workflow.type) == ("blog_evaluator-7", None)
    assert [(r.files[0], r.step) for r in workflow.rules] == [(f, s) for f, _, s in EXAMPLE_RULES]


def test_the_header_explains_the_file() -> None:
    text = render_config(scan_project(EXAMPLES), config_dir=EXAMPLES)
    head = text.split("version: 1")[0]
    assert head.startswith(
        "# output-reset.yaml: which file edits reset which step of your Output workflow runs.\n"
    )
    assert "# Written by `output-reset init` from the sources in src/workflows;" in head
    assert "#   rerun: STEP        run STEP and everything after it again\n" in head
    assert "#   reset_after: STEP  keep STEP's result, run everything after it again\n" in head
    assert 'the output-reset README, section "Config"' in head.replace("\n# ", " ")
    assert "could not follow" not in head
    assert "# api:\n#   url: http://localhost:3001\n" in text
    assert all(len(line) <= 100 for line in text.splitlines())


# -- the synthetic multi-workflow project -------------------------------------------------------

MULTI_RULES: dict[str, list[RuleRow]] = {
    "latest agent_demo": [
        ("src/workflows/agent_demo/prompts/writing_assistant@v1.prompt", "rerun", "review_content"),
        (
            "src/workflows/agent_demo/prompts/no_skills_assistant@v1.prompt",
            "rerun",
            "review_no_skills",
        ),
        ("src/workflows/agent_demo/prompts/skills/*.md", "rerun", "review_content"),
        ("src/workflows/agent_demo/steps.ts", "rerun", "review_content"),
        ("src/workflows/agent_demo/workflow.ts", "rerun", "review_content"),
    ],
    "latest generate_text": [
        ("src/workflows/llm/generate_text/prompt@v1.prompt", "rerun", "explain_topic"),
        (
            "src/workflows/llm/generate_text/cooking_instructions@v1.prompt",
            "rerun",
            "cooking_instructions",
        ),
        ("src/workflows/llm/generate_text/choice@v1.prompt", "rerun", "choose_option"),
        ("src/shared/steps/tools.ts", "rerun", "normalize_text"),
        ("src/workflows/llm/generate_text/steps.ts", "rerun", "explain_topic"),
        ("src/workflows/llm/generate_text/evaluators.ts", "rerun", "check_length"),
        ("src/workflows/llm/generate_text/workflow.ts", "rerun", "normalize_text"),
    ],
    "latest deep_research": [
        ("src/workflows/research/steps/prompts/rank@v1.prompt", "rerun", "rank_results"),
        ("src/workflows/research/steps/prompts/draft@v1.prompt", "rerun", "draft_report"),
        ("src/workflows/research/steps/prompts/polish@v1.prompt", "rerun", "polish_report"),
        ("src/workflows/research/evaluators/accuracy_judge@v1.prompt", "rerun", "check_accuracy"),
        ("src/shared/evaluators/prompts/clarity_judge@v1.prompt", "rerun", "judge_clarity"),
        ("src/workflows/research/steps/prompts/skills/*.md", "rerun", "draft_report"),
        ("src/workflows/research/steps/prompts/skills/tone.md", "rerun", "polish_report"),
        ("src/workflows/research/steps/search.ts", "rerun", "web_search"),
        ("src/workflows/research/steps/write.ts", "rerun", "draft_report"),
        ("src/workflows/research/evaluators/accuracy.ts", "rerun", "check_accuracy"),
        ("src/shared/evaluators/quality.ts", "rerun", "judge_clarity"),
        ("src/workflows/research/workflow.ts", "rerun", "web_search"),
    ],
}


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


def test_the_multi_workflow_config_has_the_exact_rules() -> None:
    text = render_config(scan_project(MULTI), config_dir=MULTI)
    assert rules(load(text, MULTI)) == MULTI_RULES


def test_the_multi_workflow_config_explains_itself() -> None:
    text = render_config(scan_project(MULTI), config_dir=MULTI)
    flat = " ".join(line.strip().removeprefix("# ") for line in text.splitlines())
    for expected in (
        "Also loaded by explain_again, which runs later: re-running explain_topic re-runs it too.",
        "Tracing is off (disableTrace: true): re-running its first step starts a fresh run",
        "when workflow.ts changes, output-reset starts a fresh run with the same input",
        "Shared steps: registered for every workflow; generate_text calls normalize_text",
        "Shared evaluators: registered for every workflow; deep_research calls judge_clarity",
        "Skills of draft@v1.prompt.",
        "To keep a slow step's result, write `reset_after: STEP` instead.",
        "deep_research (src/workflows/research/workflow.ts). Steps and evaluators in the order "
        "it calls them: web_search, rank_results, draft_report, polish_report, check_accuracy, "
        "judge_clarity.",
        "output-reset init could not follow everything; check these by hand:",
        '- src/workflows/research/steps/unused.ts:4: step "translate_report" is never called',
    ):
        assert expected in flat, expected


@pytest.mark.parametrize("project", [EXAMPLES, MULTI], ids=["examples", "multi"])
def test_every_rule_matches_an_existing_file(project: Path) -> None:
    config = load(render_config(scan_project(project), config_dir=project), project)
    matcher = Matcher(config)
    mapped = matcher.mapped_files()
    for w, workflow in enumerate(config.workflows):
        for r, rule in enumerate(workflow.rules):
            hits = [rel for rel in mapped if RuleRef(w, r) in matcher.rules_for(rel)]
            assert hits, f"{workflow.label}: {rule.files} matches nothing"


def test_some_workflows_pinned_by_id_others_by_type() -> None:
    text = render_config(scan_project(MULTI), config_dir=MULTI, pins={"generate_text": "gt-1"})
    assert [(w.id, w.type) for w in load(text, MULTI).workflows] == [
        (None, "agent_demo"),
        ("gt-1", None),
        (None, "deep_research"),
    ]


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


def test_a_config_folder_outside_the_project_is_refused() -> None:
    with pytest.raises(UsageError, match="is outside"):
        render_config(scan_project(EXAMPLES), config_dir=EXAMPLES / "src")


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


def test_a_workflow_without_steps_is_left_out(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "src/workflows/empty/workflow.ts": workflow_ts("empty", "return input;"),
            "src/workflows/full/workflow.ts": workflow_ts(
                "full", "await a();", "import { a } from './steps.js';"
            ),
            "src/workflows/full/steps.ts": step_ts(("a", "step_a", None)),
        },
    )
    project = scan_project(tmp_path)
    assert project.warnings == (
        "src/workflows/empty/workflow.ts: empty calls no step or evaluator that could be found; "
        "not listed",
    )
    text = render_config(project, config_dir=tmp_path)
    assert [w.type for w in load(text, tmp_path).workflows] == ["full"]
    assert text.endswith(
        "# Not listed (no step found that the workflow calls, or a name the API cannot filter "
        "on): empty.\n"
    )


def test_nothing_to_write_is_a_usage_error(tmp_path: Path) -> None:
    write(tmp_path, {"src/workflows/empty/workflow.ts": workflow_ts("empty", "return 1;")})
    with pytest.raises(UsageError) as caught:
        render_config(scan_project(tmp_path), config_dir=tmp_path)
    assert str(caught.value) == (
        f"none of the workflows under {tmp_path.resolve()} (empty) calls a step or evaluator "
        "that output-reset could find; nothing to write"
    )


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
        "src/workflows/none/workflow.ts: no workflow({ ... }) call found; skipped",
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


def test_child_workflows_are_named_in_a_comment(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "src/workflows/parent/workflow.ts": workflow_ts(
                "parent",
                "await first(); await child(input);",
                "import { first } from './steps.js';\nimport child from '../child/workflow.js';",
            ),
            "src/workflows/parent/steps.ts": step_ts(("first", "first_step", None)),
            "src/workflows/child/workflow.ts": workflow_ts(
                "the_child", "await inner();", "import { inner } from './steps.js';"
            ),
            "src/workflows/child/steps.ts": step_ts(("inner", "inner_step", None)),
        },
    )
    project = scan_project(tmp_path)
    parent = next(w for w in project.workflows if w.name == "parent")
    assert parent.children == ("the_child",)
    assert [s.name for s in parent.steps] == ["first_step"]
    text = render_config(project, config_dir=tmp_path)
    assert "# It starts child workflow the_child; each has its own entry for its files." in text
    load(text, tmp_path)


def test_names_that_yaml_would_misread_are_quoted(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "src/workflows/w/workflow.ts": workflow_ts(
                "1.5", "await a(); await b();", "import { a, b } from './steps.js';"
            ),
            "src/workflows/w/steps.ts": step_ts(("a", "yes", "no"), ("b", "null", None)),
            "src/workflows/w/no.prompt": PROMPT,
        },
    )
    text = render_config(scan_project(tmp_path), config_dir=tmp_path)
    assert '  - type: "1.5"' in text
    assert rules(load(text, tmp_path)) == {
        "latest 1.5": [
            ("src/workflows/w/no.prompt", "rerun", "yes"),
            ("src/workflows/w/steps.ts", "rerun", "yes"),
            ("src/workflows/w/workflow.ts", "rerun", "yes"),
        ]
    }


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


# -- the lexer never crashes ----------------------------------------------------------------

FRAGMENTS = [
    "export const s = step({ name: 'n', fn: async () => generateText({ prompt: 'p@v1' }) });",
    "step(",
    "({",
    "})",
    "}",
    "{",
    "'",
    '"',
    "`",
    "${",
    "/*",
    "*/",
    "//",
    "/",
    "/[/]/g",
    "\\",
    "\n",
    "name:",
    "prompt:",
    "import { a as b } from './x.js';",
    "import",
    "export {",
    "const",
    "function f(",
    "<T>",
    "=>",
    "?.",
    ",",
    " ",
    "x",
]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=5), max_size=40))
def test_any_steps_file_is_scanned_without_crashing(parts: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = write(
            Path(tmp),
            {
                "src/workflows/w/workflow.ts": workflow_ts(
                    "w", "await s();" + "".join(parts), "import { s } from './steps.js';"
                ),
                "src/workflows/w/steps.ts": "".join(parts),
                "src/workflows/w/p@v1.prompt": PROMPT,
            },
        )
        project = scan_project(root)
        assert isinstance(project, Project)
        assert all("\n" not in w for w in project.warnings)
