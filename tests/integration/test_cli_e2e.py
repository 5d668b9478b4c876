"""`output-reset` as a user runs it: a subprocess, real files, the API double over loopback."""

from __future__ import annotations

import json
import shutil
import signal
from pathlib import Path

import pytest

from tests.cli_process import Cli, run_cli
from tests.fakeapi import Child, FakeOutputApi, Step

PROMPTS = "src/workflows/probe_three/prompts"
CONFIG = """\
api:
  url: {url}
debounce_ms: 100
workflows:
  - id: wf-1
    rules:
      - files: {prompts}/polish@v1.prompt
        rerun: polishDraft
      - files: {prompts}/draft@v1.prompt
        rerun: draftOutline
"""


@pytest.fixture
def project(tmp_path: Path, fake: FakeOutputApi) -> Path:
    prompts = tmp_path / PROMPTS
    prompts.mkdir(parents=True)
    (prompts / "polish@v1.prompt").write_text("<user>polish v1</user>\n")
    (prompts / "draft@v1.prompt").write_text("<user>draft v1</user>\n")
    (tmp_path / "output-reset.yaml").write_text(CONFIG.format(url=fake.url, prompts=PROMPTS))
    return tmp_path


def started(fake: FakeOutputApi) -> str:
    run_id = fake.start_run("probe_three", "wf-1", {"text": "alpha beta"})
    fake.wait_closed("wf-1", run_id)
    return run_id


def state_pin(project: Path) -> str:
    state = json.loads((project / ".output-reset" / "state.json").read_text())
    run_id: str = state["workflows"]["wf-1"]["run_id"]
    return run_id


def test_an_edit_gives_one_reset_the_pin_moves_and_the_run_is_followed(
    project: Path, fake: FakeOutputApi
) -> None:
    first = started(fake)
    cli = Cli("watch", "--no-wait-worker", cwd=project)
    try:
        cli.expect(f"wf-1: run {first} (latest run, completed)")
        cli.expect("watching 2 files for 1 workflow")
        fake.code_version = 2  # the worker runs the edited code
        (project / PROMPTS / "polish@v1.prompt").write_text("<user>polish v2</user>\n")
        line = cli.expect("new run")
        new_run = fake.latest_run("wf-1")
        step_line = cli.expect("✓ ")
        cli.expect(f"run {new_run} completed")
        cli.expect("polishDraft changed (- run")
        cli.expect("@@")
        diff = [cli.expect("    -"), cli.expect("    +")]
    finally:
        code, took = cli.stop(signal.SIGINT)
    assert line.endswith(
        f"wf-1: {PROMPTS}/polish@v1.prompt changed: reset after draftOutline; new run {new_run}"
    )
    resets = fake.reset_requests()
    assert len(resets) == 1
    assert resets[0].path == f"/workflow/wf-1/runs/{first}/reset"
    assert resets[0].json["stepName"] == "draftOutline"
    assert f"{PROMPTS}/polish@v1.prompt changed (rerun polishDraft)" in resets[0].json["reason"]
    assert fake.invocations(new_run) == ["polishDraft"]
    assert "✓ polishDraft" in step_line  # replayed steps are not reported as run
    assert "polishDraft:v1" in diff[0]
    assert "polishDraft:v2" in diff[1]
    assert state_pin(project) == new_run
    assert (code, took < 2.0) == (0, True)
    assert not any("Traceback" in line for line in cli.errors)


def test_waits_for_the_worker_reload_before_resetting(project: Path, fake: FakeOutputApi) -> None:
    started(fake)
    before = fake.catalog_run_id()
    cli = Cli("watch", "--no-follow", cwd=project)
    try:
        cli.expect("watching 2 files")
        (project / PROMPTS / "draft@v1.prompt").write_text("<user>draft v2</user>\n")
        fake.reload_worker(1.0, new_code_version=2)
        cli.expect("waiting for Output's worker to load the new code")
        cli.expect("new run")
    finally:
        code, _ = cli.stop()
    after = fake.catalog_run_id()
    assert before != after
    polls = [r for r in fake.requests if r.path == "/workflow/main/status"]
    reset = fake.reset_requests()[0]
    # The reset went out after a status poll had seen the new catalog run.
    assert any(r.received_at < reset.received_at for r in polls[1:])
    assert code == 0


def test_a_file_name_with_a_newline_cannot_forge_a_line(project: Path, fake: FakeOutputApi) -> None:
    first = started(fake)
    config = project / "output-reset.yaml"
    config.write_text(
        config.read_text() + "      - files: '**/*.prompt'\n        rerun: polishDraft\n"
    )
    name = "x\n08:00:00 blog-1: FAKE LINE injected.prompt"
    shown = f"{PROMPTS}/x\\n08:00:00 blog-1: FAKE LINE injected.prompt"
    cli = Cli("watch", "--no-wait-worker", "--no-follow", "--verbose", cwd=project)
    try:
        cli.expect("watching 2 files")
        fake.code_version = 2
        (project / PROMPTS / name).write_text("<user>new</user>\n")
        line = cli.expect("new run")
    finally:
        cli.stop(signal.SIGINT)
    new_run = fake.latest_run("wf-1")
    assert line.endswith(f"wf-1: {shown} changed: reset after draftOutline; new run {new_run}")
    assert [x.partition(" ")[2] for x in cli.output if "FAKE" in x] == [
        f"changed: {shown}",
        line.partition(" ")[2],
    ]
    reason = fake.reset_requests()[0].json["reason"]
    assert reason.startswith(f"output-reset: {shown} changed (rerun polishDraft) [or-")
    (logged,) = (project / ".output-reset" / "resets.jsonl").read_text().splitlines()
    assert json.loads(logged)["files"] == [f"{PROMPTS}/{name}"]
    assert json.loads(logged)["oldRunId"] == first


def test_sigterm_ends_it_with_exit_0(project: Path, fake: FakeOutputApi) -> None:
    started(fake)
    cli = Cli("watch", cwd=project)
    cli.expect("watching")
    code, took = cli.stop(signal.SIGTERM)
    assert code == 0
    assert took < 2.0


def test_a_bad_config_exits_2_with_one_line(project: Path) -> None:
    (project / "output-reset.yaml").write_text("workflows:\n  - id: wf-1\n    rulez: []\n")
    result = run_cli("watch", cwd=project)
    assert result.returncode == 2
    assert result.stderr == (
        'error: output-reset.yaml:3:5: workflows[0].rulez: unknown key; did you mean "rules"?\n'
    )
    assert result.stdout == ""


def test_api_down_at_start_keeps_watching_and_resets_once_it_is_up(
    project: Path, fake: FakeOutputApi
) -> None:
    first = started(fake)
    fake.set_down(True)
    cli = Cli("watch", "--no-wait-worker", "--no-follow", cwd=project)
    try:
        cli.expect("cannot pin a run yet")
        cli.expect("watching 2 files")
        (project / PROMPTS / "polish@v1.prompt").write_text("<user>edited while down</user>\n")
        cli.expect(
            f"wf-1: {PROMPTS}/polish@v1.prompt changed; no run is pinned yet, so the change "
            "waits until one is"
        )
        fake.set_down(False)
        cli.expect("new run", timeout=20)
    finally:
        code, _ = cli.stop()
    resets = fake.reset_requests()
    assert [r.path for r in resets] == [f"/workflow/wf-1/runs/{first}/reset"]
    assert code == 0


def test_plan_and_status_and_reset_one_shot(project: Path, fake: FakeOutputApi) -> None:
    first = started(fake)
    prompt = f"{PROMPTS}/draft@v1.prompt"
    planned = run_cli("plan", prompt, cwd=project)
    assert planned.returncode == 0, planned.stderr
    assert planned.stdout == (
        f"wf-1 (run {first}): reset after extractTopics (extractTopics finished last before "
        "draftOutline first ran)\n"
    )
    assert fake.reset_requests() == []

    status = run_cli("status", cwd=project)
    assert status.returncode == 0, status.stderr
    assert status.stdout.splitlines()[0] == f"wf-1  run {first}  completed  (latest run)"
    rows = [" ".join(line.split()) for line in status.stdout.splitlines()[1:]]
    assert rows == [
        "✓ extractTopics completed",
        "✓ draftOutline completed src/workflows/probe_three/prompts/draft@v1.prompt",
        "✓ polishDraft completed src/workflows/probe_three/prompts/polish@v1.prompt",
    ]

    done = run_cli("reset", "--step", "extractTopics", "--reason", "by hand", cwd=project)
    assert done.returncode == 0, done.stderr
    new_run = fake.latest_run("wf-1")
    lines = done.stdout.splitlines()
    assert lines[:5] == [
        "Workflow reset successfully",
        "",
        "Workflow ID: wf-1",
        f"New Run ID: {new_run}",
        "Reset after step: extractTopics",
    ]
    assert lines[5].startswith("Reason: by hand [or-")
    assert state_pin(project) == new_run

    log = run_cli("log", "--json", cwd=project)
    entries = json.loads(log.stdout)["entries"]
    assert [(e["outcome"], e["oldRunId"], e["newRunId"]) for e in entries] == [
        ("done", first, new_run)
    ]


def test_reset_of_an_unknown_step_says_what_exists(project: Path, fake: FakeOutputApi) -> None:
    first = started(fake)
    result = run_cli("reset", "--step", "polishDraf", cwd=project)
    assert result.returncode == 1
    assert result.stderr == (
        f"error: no reset: polishDraf never ran in run {first}; the last step it reached is "
        "polishDraft (completed)\n"
    )
    assert fake.reset_requests() == []


def test_validate_checks_step_names_with_a_did_you_mean(project: Path, fake: FakeOutputApi) -> None:
    started(fake)
    config = project / "output-reset.yaml"
    config.write_text(config.read_text().replace("rerun: draftOutline", "rerun: draftOutlin"))
    result = run_cli("validate", cwd=project)
    assert result.returncode == 2
    assert result.stdout == "output-reset.yaml: 1 problem (1 workflow, 2 rules, 2 mapped files)\n"
    assert result.stderr.strip().endswith('(the run never ran it); did you mean "draftOutline"?')


def test_init_writes_a_config_pinned_to_the_latest_runs(tmp_path: Path) -> None:
    examples = Path(__file__).resolve().parents[2] / "examples"
    project = tmp_path / "blog"
    # Without its datasets and evals (those pin one run per dataset case, not the latest run).
    shutil.copytree(examples, project, ignore=shutil.ignore_patterns("tests"))
    with FakeOutputApi() as api:
        api.define_workflow("blog_evaluator", [Step("fetch_blog_content"), Step("extract_claims")])
        run_id = api.start_run("blog_evaluator", "blog-42", {"url": "https://example.com"})
        api.wait_closed("blog-42", run_id)
        (project / ".env").write_text(f"OUTPUT_API_URL={api.url}\n")
        done = run_cli("init", str(project), cwd=tmp_path)
        again = run_cli("init", str(project), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"wrote {project}/output-reset.yaml: 1 workflow, 7 rules; pinned")
    written = (project / "output-reset.yaml").read_text()
    assert "  - id: blog-42  # latest run of blog_evaluator when this file was written" in written
    assert "        rerun: score_claims\n" in written
    assert again.returncode == 2
    assert again.stderr == (
        f"error: {project}/output-reset.yaml already exists; pass --force to overwrite it\n"
    )
    checked = run_cli("validate", "--offline", cwd=project)
    assert checked.returncode == 0, checked.stderr


INIT_STEPS = """\
import { step } from '@outputai/core';
export const %s = step({ name: '%s', fn: async () => ({}) });
"""


def init_workflow(name: str, body: str, imports: str) -> str:
    return (
        f"import {{ workflow }} from '@outputai/core';\n{imports}\n"
        f"export default workflow({{ name: '{name}', fn: async (input) => {{ {body} }} }});\n"
    )


def test_init_pins_the_runs_there_are_never_a_child_and_says_which_have_none(
    tmp_path: Path,
) -> None:
    files = {
        "parent/workflow.ts": init_workflow(
            "parent",
            "await prepare(input); return child(input);",
            "import { prepare } from './steps.js';\nimport child from '../child/workflow.js';",
        ),
        "parent/steps.ts": INIT_STEPS % ("prepare", "prepare"),
        "child/workflow.ts": init_workflow(
            "the_child", "return inner(input);", "import { inner } from './steps.js';"
        ),
        "child/steps.ts": INIT_STEPS % ("inner", "inner"),
        "idle/workflow.ts": init_workflow(
            "idle", "return wait(input);", "import { wait } from './steps.js';"
        ),
        "idle/steps.ts": INIT_STEPS % ("wait", "wait"),
    }
    for rel, text in files.items():
        path = tmp_path / "src" / "workflows" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    with FakeOutputApi() as api:
        api.define_workflow("parent", [Step("prepare"), Child("the_child")])
        api.define_workflow("the_child", [Step("inner")])
        run_id = api.start_run("parent", "par-1", {})
        api.wait_closed("par-1", run_id)
        (tmp_path / ".env").write_text(f"OUTPUT_API_URL={api.url}\n")
        done = run_cli("init", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("wrote output-reset.yaml: 2 workflows, 6 rules; pinned")
    written = (tmp_path / "output-reset.yaml").read_text()
    assert "  - type: idle  # no run yet: watch pins the first run of this type when one" in written
    assert "  - id: par-1  # latest run of parent when this file was written\n" in written
    assert "the_child-" not in written
    assert "par-1-" not in written
    assert "        rerun: the_child#inner\n" in written
    checked = run_cli("validate", "--offline", cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr


def test_init_outside_an_output_project(tmp_path: Path) -> None:
    result = run_cli("init", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("error: no src/workflows/**/workflow.ts found under ")


def test_watch_json_emits_one_object_per_event(project: Path, fake: FakeOutputApi) -> None:
    first = started(fake)
    cli = Cli("watch", "--json", "--no-wait-worker", cwd=project)
    try:
        cli.expect('"event": "ready"')
        (project / PROMPTS / "polish@v1.prompt").write_text("<user>polish v2</user>\n")
        cli.expect('"event": "compared"')
    finally:
        code, _ = cli.stop()
    events = [json.loads(line) for line in cli.output]
    kinds = [e["event"] for e in events]
    assert kinds[:2] == ["pinned", "ready"]
    assert kinds[2:] == ["change", "decision", "step", "run_finished", "compared", "summary"]
    decision = next(e for e in events if e["event"] == "decision")
    assert decision["runId"] == first
    assert decision["anchor"] == "draftOutline"
    assert decision["newRunId"] == fake.latest_run("wf-1")
    assert decision["kept"] == ["extractTopics", "draftOutline"]
    assert decision["rerun"] == ["polishDraft"]
    assert all("time" in e for e in events)
    assert code == 0


def test_plan_and_status_json(project: Path, fake: FakeOutputApi) -> None:
    first = started(fake)
    planned = run_cli("plan", "--json", f"{PROMPTS}/polish@v1.prompt", "README.md", cwd=project)
    status = run_cli("status", "--json", cwd=project)
    plan = json.loads(planned.stdout)
    assert plan["unmapped"] == ["README.md"]
    assert [(p["workflowId"], p["runId"], p["action"], p["anchor"]) for p in plan["plans"]] == [
        ("wf-1", first, "reset", "draftOutline")
    ]
    workflows = json.loads(status.stdout)["workflows"]
    assert workflows[0]["status"] == "completed"
    assert [s["step"] for s in workflows[0]["steps"]] == [
        "extractTopics",
        "draftOutline",
        "polishDraft",
    ]


def test_reset_asks_before_rerunning_a_side_effect_step(project: Path, fake: FakeOutputApi) -> None:
    started(fake)
    config = project / "output-reset.yaml"
    config.write_text(
        config.read_text().replace(
            "  - id: wf-1\n", "  - id: wf-1\n    steps:\n      polishDraft: {side_effects: true}\n"
        )
    )
    refused = run_cli("reset", "--step", "draftOutline", cwd=project)
    assert refused.returncode == 2
    assert refused.stderr == (
        "error: this reset runs polishDraft again, which has side effects; pass --yes to confirm\n"
    )
    assert fake.reset_requests() == []
    done = run_cli("reset", "--step", "draftOutline", "--yes", cwd=project)
    assert done.returncode == 0, done.stderr
    assert len(fake.reset_requests()) == 1


def test_reset_warns_when_a_replay_skips_a_side_effect_step(
    project: Path, fake: FakeOutputApi
) -> None:
    started(fake)
    config = project / "output-reset.yaml"
    config.write_text(
        config.read_text().replace(
            "  - id: wf-1\n",
            "  - id: wf-1\n    steps:\n      extractTopics: {side_effects: true}\n",
        )
    )
    done = run_cli("reset", "--step", "draftOutline", cwd=project)
    assert done.returncode == 0, done.stderr
    assert done.stderr == (
        "warning: extractTopics is replayed from history, not run again: its side effects are "
        "not repeated\n"
    )
