"""`output-reset init`, rendering: configs that load cleanly, with the exact rules and comments."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from runner.config import RuleRef, load_config
from runner.errors import UsageError
from runner.init import render_config, scan_project
from runner.paths import Matcher
from tests.unit.init_support import (
    EXAMPLES,
    MULTI,
    PROMPT,
    ROOT,
    RuleRow,
    load,
    rules,
    step_ts,
    workflow_ts,
    write,
)

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


EVALS = "src/workflows/blog_evaluator/tests/evals"


def test_the_example_config_has_the_exact_rules() -> None:
    text = render_config(scan_project(EXAMPLES), config_dir=EXAMPLES)
    assert rules(load(text, EXAMPLES)) == {
        "latest blog_evaluator_eval": [
            (f"{EVALS}/evaluators.ts", "rerun", "enough_claims"),
            (f"{EVALS}/workflow.ts", "rerun", "enough_claims"),
        ],
        "latest blog_evaluator": EXAMPLE_RULES,
    }
    # Its datasets: one pinned run per case.
    assert (
        "  - type: blog_evaluator  # one pinned run per dataset case\n    datasets: all\n" in text
    )
    assert "hold 3 cases: temporal_post,\n  # opinion_piece, short_note." in text


def test_paths_are_relative_to_the_config_folder() -> None:
    text = render_config(scan_project(EXAMPLES), config_dir=ROOT)
    got = rules(load(text, ROOT))["latest blog_evaluator"]
    assert got == [(f"examples/{f}", a, s) for f, a, s in EXAMPLE_RULES]
    # The hand-written config at the repository root maps the same files to the same steps.
    written = rules(load_config(ROOT / "output-reset.yaml"))["latest blog_evaluator"]
    assert {(f, s) for f, _, s in written} <= {(f, s) for f, _, s in got}
    assert "# Written by `output-reset init` from the sources in examples/src/workflows;" in text


def test_pins_write_the_workflow_id_with_a_comment(tmp_path: Path) -> None:
    # The example without its datasets and evals: a workflow with datasets pins one run per case.
    project = tmp_path / "examples"
    shutil.copytree(EXAMPLES, project, ignore=shutil.ignore_patterns("tests"))
    text = render_config(
        scan_project(project), config_dir=project, pins={"blog_evaluator": "blog_evaluator-7"}
    )
    assert (
        "  - id: blog_evaluator-7  # latest run of blog_evaluator when this file was written\n"
        in text
    )
    (workflow,) = load(text, project).workflows
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


def test_a_config_folder_outside_the_project_is_refused() -> None:
    with pytest.raises(UsageError, match="is outside"):
        render_config(scan_project(EXAMPLES), config_dir=EXAMPLES / "src")


def test_a_workflow_without_steps_is_left_out_and_said_once(tmp_path: Path) -> None:
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
        "src/workflows/empty/workflow.ts: empty calls no step, evaluator or child workflow that "
        "could be found; not listed",
    )
    text = render_config(project, config_dir=tmp_path)
    assert [w.type for w in load(text, tmp_path).workflows] == ["full"]
    assert text.count("empty calls no step") == 1
    assert "Not listed" not in text
    assert text.endswith("        rerun: step_a\n")


def test_nothing_to_write_is_a_usage_error(tmp_path: Path) -> None:
    write(tmp_path, {"src/workflows/empty/workflow.ts": workflow_ts("empty", "return 1;")})
    with pytest.raises(UsageError) as caught:
        render_config(scan_project(tmp_path), config_dir=tmp_path)
    assert str(caught.value) == (
        f"none of the workflows under {tmp_path.resolve()} (empty) calls a step or evaluator "
        "that output-reset could find; nothing to write"
    )


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


def test_with_the_api_asked_a_workflow_without_a_run_says_so(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "src/workflows/a/workflow.ts": workflow_ts(
                "ran", "await a();", "import { a } from './steps.js';"
            ),
            "src/workflows/a/steps.ts": step_ts(("a", "a", None)),
            "src/workflows/b/workflow.ts": workflow_ts(
                "never_ran", "await b();", "import { b } from './steps.js';"
            ),
            "src/workflows/b/steps.ts": step_ts(("b", "b", None)),
        },
    )
    project = scan_project(tmp_path)
    text = render_config(project, config_dir=tmp_path, pins={"ran": "ran-1"})
    assert "  - id: ran-1  # latest run of ran when this file was written\n" in text
    assert (
        "  - type: never_ran  # no run yet: watch pins the first run of this type when one "
        "appears\n"
    ) in text
    assert [(w.id, w.type) for w in load(text, tmp_path).workflows] == [
        ("ran-1", None),
        (None, "never_ran"),
    ]
    asked_nothing = render_config(project, config_dir=tmp_path, pins={})
    assert asked_nothing.count("# no run yet: watch pins the first run") == 2
    not_asked = render_config(project, config_dir=tmp_path)
    assert not_asked.count("# pin the most recent run of this type") == 2
