"""The `big` project (tests/fixtures/projects/big, 34 workflows) served for real: its workflows
defined in the API double with the steps and children `init` reads from the sources, about half
of them run, then `init`, `validate`, `status`, `plan` and `watch` as a user runs them."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli_process import Cli, run_cli
from tests.fakeapi import Child, Evaluator, FakeOutputApi, Interpret, Loop, Parallel, Program, Step
from tests.unit.init_support import ROOT

BIG = ROOT / "tests" / "fixtures" / "projects" / "big"
W = "src/workflows"
S = Step

# Each workflow as its sources have it (the project's README): steps in run order, the children
# it starts where it starts them, loops unrolled as the run has them.
PROGRAMS: dict[str, Program] = {
    "batch_score": [S("load_items"), Loop(S("score_item"), 10), S("aggregate_scores")],
    "changelog_writer": [S("list_commits"), S("write_changelog")],
    "code_review": [S("fetch_diff"), S("review_diff"), S("judge_review"), S("judge_readability")],
    "content_pipeline": [Child("research_topic"), Child("write_draft"), Child("review_draft")],
    "research_topic": [S("search_web"), Child("rank_sources")],
    "rank_sources": [S("rank_sources"), *(Child("fetch_source") for _ in range(3))],
    "fetch_source": [S("fetch_source"), S("extract_facts")],
    "write_draft": [S("outline_draft"), S("write_sections"), S("normalize_text")],
    "review_draft": [S("check_facts"), S("judge_draft"), Child("notify_team")],
    "notify_team": [S("send_notification")],
    "digest_builder": [S("collect_items"), Child("section_writer"), Child("section_writer")],
    "section_writer": [S("write_section_body")],
    "email_triage": [S("classify_email"), S("draft_answer")],
    "faq_builder": [S("gather_questions"), S("answer_questions")],
    "image_caption": [Parallel([S("caption_image"), S("alt_text")])],
    "keyword_report": [S("collect_keywords"), S("build_report")],
    "lead_scoring": [S("enrich_lead"), S("normalize_text"), S("score_lead")],
    "translate_text": [S("detect_language"), S("translate_text")],
    "meeting_notes": [S("transcribe"), S("extract_actions"), S("write_minutes")],
    "product_description": [S("draft_description"), S("polish_description")],
    "publish_post": [
        S("prepare_post"),
        Child("generate_images"),
        S("publish"),
        Child("notify_team"),
    ],
    "generate_images": [S("generate_image")],
    "quick_reply": [S("draft_reply"), S("send_reply")],
    "sentiment": [S("score_sentiment")],
    "seo_audit": [S("crawl_page"), S("audit_page")],
    "sql_explainer": [S("parse_sql"), S("explain_sql")],
    "summarize_article": [S("fetch_article"), S("normalize_text"), S("summarize_article")],
    "classify_ticket": [S("classify_ticket"), S("route_ticket")],
    "tag_suggester": [S("suggest_tags"), S("judge_readability")],
    "title_generator": [S("generate_titles"), S("pick_title")],
}
EVALS = {
    "summarize_article_eval": ["judge_faithfulness", "length_ok", "judge_style"],
    "translate_text_eval": ["keeps_terms", "judge_fluency"],
    "classify_ticket_eval": ["label_matches", "judge_routing"],
}
RAN = [
    "batch_score",
    "code_review",
    "content_pipeline",
    "digest_builder",
    "email_triage",
    "image_caption",
    "lead_scoring",
    "meeting_notes",
    "publish_post",
    "quick_reply",
    "sentiment",
    "title_generator",
]
# The entries with no run, in the order init writes them (summarize_article, a dataset entry,
# is its case's: summarize_article/basic).
NO_RUN = [
    "changelog_writer",
    "faq_builder",
    "keyword_report",
    "translate_text_eval",
    "translate_text",
    "product_description",
    "seo_audit",
    "sql_explainer",
    "summarize_article_eval",
    "summarize_article",
    "classify_ticket_eval",
    "classify_ticket",
    "tag_suggester",
]
ENTRIES = 25


def passes(input: object, output: object, truth: dict[str, object]) -> bool:
    return True


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, FakeOutputApi]]:
    """A copy of the project, `init` run on it against the double where RAN have a run each."""
    project = tmp_path / "big"
    shutil.copytree(BIG, project)
    with FakeOutputApi(long_poll_cap_ms=500) as api:
        for name, program in PROGRAMS.items():
            api.define_workflow(name, program, disable_trace=name == "quick_reply")
        for name, evaluators in EVALS.items():
            api.define_eval(name, [Evaluator(e, passes, Interpret.boolean()) for e in evaluators])
        for name in RAN:
            run_id = api.start_run(name, f"{name}-1", {"topic": name})
            assert api.wait_closed(f"{name}-1", run_id) == "completed"
        (project / ".env").write_text(f"OUTPUT_API_URL={api.url}\n")
        done = run_cli("init", cwd=project)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith(f"wrote output-reset.yaml: {ENTRIES} workflows, 121 rules;")
        yield project, api


def test_init_pins_each_workflow_that_ran_and_leaves_the_others_to_their_type(
    served: tuple[Path, FakeOutputApi],
) -> None:
    project, _ = served
    written = (project / "output-reset.yaml").read_text()
    for name in RAN:
        assert f"  - id: {name}-1  # latest run of {name} when this file was written\n" in written
    for name in NO_RUN:
        assert f"  - id: {name}-1" not in written
    # (summarize_article is a dataset entry: watch starts its case.)
    assert written.lower().count("no run yet: watch pins the first run") == len(NO_RUN) - 1
    # Child executions are never pinned, whatever their ids.
    assert "  - id: research_topic" not in written
    assert "  - id: notify_team" not in written


def test_validate_checks_every_entry_that_ran_and_names_the_others_once(
    served: tuple[Path, FakeOutputApi],
) -> None:
    project, api = served
    checked = run_cli("validate", cwd=project)
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout == (
        f"output-reset.yaml: ok ({ENTRIES} workflows, 121 rules, 116 mapped files, 1 dataset "
        f"case); step names checked against the pinned runs (Output API at {api.url})\n"
    )
    assert checked.stderr == (
        f"warning: no run yet of {', '.join(NO_RUN)}: their step names are not checked\n"
    )


def test_validate_catches_step_typos_among_25_entries(
    served: tuple[Path, FakeOutputApi],
) -> None:
    project, _ = served
    config = project / "output-reset.yaml"
    text = config.read_text()
    # A typo in an entry's own step, one in a step of a grandchild of content_pipeline, one in
    # the child part of a child's step (plan and watch match `child#step` whole: no reset).
    for right, wrong in (
        ("rerun: score_item\n", "rerun: score_itme\n"),
        ("rerun: fetch_source#extract_facts\n", "rerun: fetch_source#extract_fact\n"),
        (
            "outline@v1.prompt\n        rerun: write_draft#",
            "outline@v1.prompt\n        rerun: write_drafts#",
        ),
    ):
        assert text.count(right) == 1
        text = text.replace(right, wrong)
    config.write_text(text)
    lines = text.splitlines()
    checked = run_cli("validate", cwd=project)
    assert checked.returncode == 2
    assert checked.stdout.startswith("output-reset.yaml: 3 problems (25 workflows, 121 rules,")
    errors = checked.stderr.splitlines()
    assert errors[0].startswith("warning: no run yet of changelog_writer, ")
    assert len(errors) == 4, checked.stderr
    # Each error names the line of its rule (`- files:`, the line above `rerun:`).
    at = {
        wrong: lines.index(f"        rerun: {wrong}")
        for wrong in ("score_itme", "fetch_source#extract_fact", "write_drafts#outline_draft")
    }
    pipeline = "content_pipeline-1 (the run never ran it)"
    assert errors[1:] == [
        f'error: output-reset.yaml:{at["score_itme"]}: rerun: step "score_itme" is not in run '
        f"{api_run(served, 'batch_score-1')} of batch_score-1 (the run never ran it); did you "
        'mean "score_item"?',
        f"error: output-reset.yaml:{at['fetch_source#extract_fact']}: rerun: step "
        f'"fetch_source#extract_fact" is not in run {api_run(served, "content_pipeline-1")} of '
        f'{pipeline}; did you mean "fetch_source#extract_facts"?',
        f"error: output-reset.yaml:{at['write_drafts#outline_draft']}: rerun: step "
        f'"write_drafts#outline_draft" is not in run {api_run(served, "content_pipeline-1")} of '
        f'{pipeline}; did you mean "write_draft#outline_draft"?',
    ]
    planned = run_cli("plan", f"{W}/content_pipeline/write/prompts/outline@v1.prompt", cwd=project)
    assert "no reset: write_drafts#outline_draft never ran" in planned.stdout


def api_run(served: tuple[Path, FakeOutputApi], workflow_id: str) -> str:
    return served[1].latest_run(workflow_id)


def test_status_lists_every_entry(served: tuple[Path, FakeOutputApi]) -> None:
    project, api = served
    shown = run_cli("status", cwd=project)
    assert shown.returncode == 0, shown.stderr
    assert shown.stderr == ""
    heads = [line for line in shown.stdout.splitlines() if not line.startswith("  ")]
    assert len(heads) == ENTRIES
    for name in RAN:
        assert f"{name}-1  run {api.latest_run(f'{name}-1')}  completed  (latest run)" in heads, (
            name
        )
    no_run = [line for line in heads if line.endswith("  no run yet")]
    assert no_run == [
        "summarize_article/basic  no run yet"
        if name == "summarize_article"
        else f"latest {name}  no run yet"
        for name in NO_RUN
    ]
    rows = shown.stdout.split("content_pipeline-1  run ")[1].split("\ndigest_builder-1")[0]
    assert [row.split()[1] for row in rows.splitlines()[1:]] == [
        "search_web",
        "rank_sources",
        "fetch_source",
        "extract_facts",
        "outline_draft",
        "write_sections",
        "normalize_text",
        "check_facts",
        "judge_draft",
        "send_notification",
    ]


def test_status_shows_a_child_s_steps_where_the_parent_started_it(
    served: tuple[Path, FakeOutputApi],
) -> None:
    project, _ = served
    shown = run_cli("status", cwd=project).stdout
    rows = shown.split("publish_post-1  run ")[1].split("\nquick_reply-1")[0].splitlines()[1:]
    assert [row.split()[1] for row in rows] == [
        "prepare_post",
        "generate_image",
        "publish",
        "send_notification",
    ]


def test_plan_of_a_prompt_names_the_one_workflow_and_its_reset_point(
    served: tuple[Path, FakeOutputApi],
) -> None:
    project, api = served
    prompt = f"{W}/meeting_notes/steps/extract_actions@v1.prompt"
    planned = run_cli("plan", prompt, cwd=project)
    assert planned.returncode == 0, planned.stderr
    run_id = api.latest_run("meeting_notes-1")
    assert planned.stdout == (
        f"meeting_notes-1 (run {run_id}): reset after transcribe "
        "(transcribe finished last before extract_actions first ran)\n"
    )
    shared = run_cli("plan", "src/shared/steps/text.ts", cwd=project)
    assert shared.returncode == 0, shared.stderr
    assert shared.stdout.splitlines() == [
        f"content_pipeline-1 (run {api.latest_run('content_pipeline-1')}): reset after "
        "getTraceDestinations (write_draft#normalize_text in child workflow write_draft is the "
        "first step; getTraceDestinations keeps the workflow input)",
        f"lead_scoring-1 (run {api.latest_run('lead_scoring-1')}): reset after enrich_lead "
        "(enrich_lead finished last before normalize_text first ran)",
        "summarize_article/basic: nothing to plan: no run of this case under "
        "summarize_article-case-basic yet; `output-reset watch` starts its run",
    ]


def test_watch_resets_only_the_edited_workflow(served: tuple[Path, FakeOutputApi]) -> None:
    project, api = served
    pinned = api.latest_run("meeting_notes-1")
    cli = Cli("watch", "--no-wait-worker", cwd=project)
    try:
        cli.expect(f"watching 116 files for {ENTRIES} workflows;", timeout=20)
        prompt = project / W / "meeting_notes" / "steps" / "extract_actions@v1.prompt"
        prompt.write_text(prompt.read_text() + "\nList owners too.\n")
        decided = cli.expect("meeting_notes-1: ")
        cli.expect("iteration 1 kept")
    finally:
        code, _ = cli.stop()
    assert code == 0, cli.errors
    new_run = api.latest_run("meeting_notes-1")
    assert decided.endswith(
        f"meeting_notes-1: {W}/meeting_notes/steps/extract_actions@v1.prompt changed: "
        f"reset after transcribe; new run {new_run}"
    )
    assert [r.path for r in api.reset_requests()] == [
        f"/workflow/meeting_notes-1/runs/{pinned}/reset"
    ]
    assert api.invocations(new_run) == ["extract_actions", "write_minutes"]
    waiting = [line for line in cli.output if "no run yet" in line]
    assert len(waiting) == 1
    assert waiting[0].endswith(
        "no run yet of changelog_writer, faq_builder, keyword_report, translate_text_eval, "
        "translate_text and 7 more: each is pinned when its first run appears (start one with "
        "`npx output workflow run <type>`)"
    )
    assert api.run_ids("meeting_notes-1") == [pinned, new_run]
    assert all(len(api.run_ids(f"{name}-1")) == 1 for name in RAN if name != "meeting_notes")
    assert not [line for line in cli.errors if line.startswith("error")]
