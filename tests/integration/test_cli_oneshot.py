"""validate, status, log and reset as a user runs them, against the API double on loopback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_process import run_main
from tests.fakeapi import FakeOutputApi, Step
from tests.fakeapi.program import Child, Parallel

NEVER_RAN = [f"never_{i}" for i in range(12)]


def project(tmp_path: Path, fake: FakeOutputApi, entries: str) -> Path:
    (tmp_path / "prompts").mkdir()
    for name in ("draft", "polish", "prep", "other"):
        (tmp_path / "prompts" / f"{name}.prompt").write_text(f"{name} v1\n")
    config = tmp_path / "output-reset.yaml"
    config.write_text(f"api:\n  url: {fake.url}\nworkflows:\n{entries}")
    return config


def never_ran_entries() -> str:
    return "".join(
        f"  - type: {name}\n    rules:\n      - files: prompts/other.prompt\n        rerun: s\n"
        for name in NEVER_RAN
    )


def probe_entry(rerun: str = "draftOutline", steps: str = "") -> str:
    return (
        f"  - type: probe_three\n{steps}    rules:\n"
        f"      - files: prompts/draft.prompt\n        rerun: {rerun}\n"
    )


def started(fake: FakeOutputApi) -> str:
    run_id = fake.start_run("probe_three", "probe-1", {"text": "a b"})
    fake.wait_closed("probe-1", run_id)
    return run_id


# -- validate ---------------------------------------------------------------------------------


def test_validate_gives_one_verdict(
    tmp_path: Path, fake: FakeOutputApi, capsys: pytest.CaptureFixture[str]
) -> None:
    started(fake)
    config = project(tmp_path, fake, probe_entry("draftOutlin"))
    code, out, err = run_main(["validate", "-c", str(config)], capsys)
    assert code == 2
    assert out == f"{config}: 1 problem (1 workflow, 1 rule, 1 mapped file)\n"
    assert "ok" not in out
    assert err.endswith('(the run never ran it); did you mean "draftOutline"?\n')


def test_validate_checks_every_entry_when_most_workflows_never_ran(
    tmp_path: Path, fake: FakeOutputApi, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in NEVER_RAN:
        fake.define_workflow(name, [Step("s")])
    started(fake)
    # The typo sits after twelve entries that have no run yet.
    config = project(tmp_path, fake, never_ran_entries() + probe_entry("polishDraftt"))
    code, out, err = run_main(["validate", "-c", str(config)], capsys)
    assert code == 2
    assert out == f"{config}: 1 problem (13 workflows, 13 rules, 2 mapped files)\n"
    lines = err.splitlines()
    assert lines[0] == (
        "warning: no run yet of never_0, never_1, never_2, never_3, never_4, never_5, never_6, "
        "never_7, never_8, never_9, never_10, never_11: their step names are not checked"
    )
    assert lines[1].startswith(f'error: {config}:54: rerun: step "polishDraftt" is not in run ')
    assert lines[1].endswith('did you mean "polishDraft"?')
    assert len(lines) == 2


def test_a_side_effects_step_name_that_is_not_a_step_is_an_error(
    tmp_path: Path, fake: FakeOutputApi, capsys: pytest.CaptureFixture[str]
) -> None:
    started(fake)
    steps = "    steps:\n      polishDraf: {side_effects: true}\n"
    config = project(tmp_path, fake, probe_entry(steps=steps))
    code, _, err = run_main(["validate", "-c", str(config)], capsys)
    assert code == 2
    assert f'error: {config}:4: steps: step "polishDraf" is not in run ' in err
    assert err.rstrip().endswith('did you mean "polishDraft"?')


def test_a_rule_that_matches_the_config_itself_is_warned_about(
    tmp_path: Path, fake: FakeOutputApi, capsys: pytest.CaptureFixture[str]
) -> None:
    entry = "  - id: x\n    rules:\n      - files: '*.yaml'\n        rerun: s\n"
    config = project(tmp_path, fake, entry)
    code, out, err = run_main(["validate", "--offline", "-c", str(config)], capsys)
    assert code == 0
    assert out == f"{config}: ok (1 workflow, 1 rule, 1 mapped file)\n"
    assert err == (
        f"warning: {config}:6: *.yaml matches the config file itself; an edit of the config "
        "reloads it, it does not reset\n"
    )


def test_a_refused_token_fails_validate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OUTPUT_API_AUTH_TOKEN", raising=False)
    monkeypatch.delenv("OUTPUT_API_URL", raising=False)
    with FakeOutputApi(token="s3cret") as fake:
        config = project(tmp_path, fake, probe_entry())
        code, out, err = run_main(["validate", "-c", str(config)], capsys)
    assert code == 1
    assert "ok" not in out
    assert "(401 Unauthorized): set OUTPUT_API_AUTH_TOKEN" in err


# -- status -----------------------------------------------------------------------------------


def test_status_shows_workflows_without_a_run_and_reports_the_rest(
    tmp_path: Path, fake: FakeOutputApi, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in NEVER_RAN[:2]:
        fake.define_workflow(name, [Step("s")])
    run_id = started(fake)
    config = project(
        tmp_path, fake, never_ran_entries().split("  - type: never_2")[0] + probe_entry()
    )
    code, out, _ = run_main(["status", "-c", str(config)], capsys)
    assert code == 0
    assert out.splitlines()[:3] == [
        "latest never_0  no run yet",
        "latest never_1  no run yet",
        f"probe-1  run {run_id}  completed  (latest run)",
    ]
    code, out, _ = run_main(["status", "--json", "-c", str(config)], capsys)
    document = json.loads(out)
    assert [w["status"] for w in document["workflows"]] == ["no run yet", "no run yet", "completed"]


def parent_ran(fake: FakeOutputApi) -> str:
    """A completed run of `parent-1`, which starts a prep_child run between two steps."""
    fake.define_workflow("prep_child", [Step("childPrep"), Step("childWork")])
    fake.define_workflow("parent", [Step("parentStep"), Child("prep_child"), Step("judge")])
    run_id = fake.start_run("parent", "parent-1", {})
    fake.wait_closed("parent-1", run_id)
    return run_id


def test_status_shows_a_child_workflows_steps_from_the_child_run(
    tmp_path: Path, fake: FakeOutputApi, capsys: pytest.CaptureFixture[str]
) -> None:
    parent_ran(fake)
    entry = (
        "  - id: parent-1\n    rules:\n      - files: prompts/prep.prompt\n"
        "        rerun: childPrep\n"
    )
    config = project(tmp_path, fake, entry)
    code, out, _ = run_main(["status", "-c", str(config)], capsys)
    assert code == 0
    assert "  ✓ childPrep   completed  prompts/prep.prompt" in out.splitlines()


def test_validate_warns_that_a_child_run_pinned_by_itself_would_run_alone(
    tmp_path: Path, fake: FakeOutputApi, capsys: pytest.CaptureFixture[str]
) -> None:
    run_id = parent_ran(fake)
    (child_id,) = {
        attrs["workflowExecution"]["workflowId"]
        for event in fake.history("parent-1", run_id)
        for key, attrs in event.items()
        if key == "childWorkflowExecutionStartedEventAttributes"
    }
    # An entry pinned to the child's own id (as init once wrote).
    entry = (
        f"  - id: {child_id}\n    rules:\n      - files: prompts/prep.prompt\n"
        "        rerun: childPrep\n"
    )
    config = project(tmp_path, fake, entry)
    code, _, err = run_main(["validate", "-c", str(config)], capsys)
    assert code == 0, err
    assert "is a child run of parent-1: a reset re-runs it alone and parent-1 keeps its" in err
    assert "map these files under the entry of parent-1 instead" in err


# -- reset --step -----------------------------------------------------------------------------


def test_reset_after_the_first_finished_sibling_says_the_other_runs_again(
    tmp_path: Path, fake: FakeOutputApi, capsys: pytest.CaptureFixture[str]
) -> None:
    slow, fast = Step("fetchSlow", duration_s=0.3), Step("fetchFast")
    fake.define_workflow("probe_parallel", [Parallel([slow, fast]), Step("combine")])
    run_id = fake.start_run("probe_parallel", "par-1", {})
    fake.wait_closed("par-1", run_id, timeout=10)
    entry = (
        "  - id: par-1\n    rules:\n      - files: prompts/draft.prompt\n        rerun: combine\n"
    )
    config = project(tmp_path, fake, entry)
    code, out, _ = run_main(["reset", "--step", "fetchFast", "-c", str(config)], capsys)
    assert code == 0
    assert "Reset after step: fetchFast" in out
    assert "Runs again: fetchSlow (it had not finished at the reset point)" in out.splitlines()


# -- log --------------------------------------------------------------------------------------


def test_log_says_no_reset_once(
    tmp_path: Path, fake: FakeOutputApi, capsys: pytest.CaptureFixture[str]
) -> None:
    started(fake)
    config = project(tmp_path, fake, probe_entry("neverThere"))
    draft = str(tmp_path / "prompts/draft.prompt")
    run_main(["reset", "--file", draft, "-c", str(config)], capsys)
    code, out, _ = run_main(["log", "-c", str(config)], capsys)
    assert code == 0
    (line,) = out.splitlines()
    assert line.count("no reset") == 1


# -- small promises of the hardening issue -----------------------------------------------------


def test_log_and_status_skip_a_bad_byte_in_the_audit_log_with_one_warning(
    tmp_path: Path, fake: FakeOutputApi, capsys: pytest.CaptureFixture[str]
) -> None:
    started(fake)
    config = project(tmp_path, fake, probe_entry())
    code, _, err = run_main(["reset", "--step", "extractTopics", "-c", str(config)], capsys)
    assert code == 0, err
    with (tmp_path / ".output-reset" / "resets.jsonl").open("ab") as log:
        log.write(b"\xff\xfe not json\n")
    code, out, err = run_main(["log", "-c", str(config)], capsys)
    assert code == 0
    assert len(out.splitlines()) == 1  # the good entry
    assert err.count("warning: ") == 1
    assert "skipped" in err
    code, out, err = run_main(["status", "-c", str(config)], capsys)
    assert code == 0, err


def test_a_one_shot_reset_whose_answer_is_lost_does_not_promise_a_pending_change(
    tmp_path: Path, fake: FakeOutputApi, capsys: pytest.CaptureFixture[str]
) -> None:
    started(fake)
    config = project(tmp_path, fake, probe_entry())
    fake.inject("POST", r"/reset$", status=500, body={"error": "Error", "message": "boom"})
    code, _, err = run_main(["reset", "--step", "extractTopics", "-c", str(config)], capsys)
    assert code == 1
    assert "it may have happened" in err
    assert "stays pending" not in err  # nothing waits: a one-shot command has no next edit
    assert "Traceback" not in err


def test_a_rule_repeated_by_a_yaml_alias_is_warned_about_once(
    tmp_path: Path, fake: FakeOutputApi, capsys: pytest.CaptureFixture[str]
) -> None:
    entry = (
        "  - id: a-1\n    rules:\n      - &ghost\n        files: prompts/ghost.prompt\n"
        "        rerun: draftOutline\n      - *ghost\n"
    )
    config = project(tmp_path, fake, entry)
    code, _, err = run_main(["validate", "--offline", "-c", str(config)], capsys)
    assert code == 0, err
    assert err.count("matches no file yet") == 1
