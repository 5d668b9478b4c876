"""plan, status, reset and validate on entries that pin several runs (an id list, dataset
cases), as a user runs them, against the API double on loopback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_process import run_main
from tests.fakeapi import FakeOutputApi
from tests.integration.test_cli_oneshot import project

IDS_ENTRY = (
    "  - id: [probe-a, probe-b]\n    rules:\n      - files: prompts/draft.prompt\n"
    "        rerun: polishDraft\n"
)
CASES_ENTRY = (
    "  - type: probe_three\n    datasets: all\n    rules:\n      - files: prompts/draft.prompt\n"
    "        rerun: polishDraft\n"
)
DATASET = """\
basic:
  input:
    text: alpha beta
long:
  input:
    text: alpha beta gamma delta
"""


def ran(fake: FakeOutputApi, workflow_id: str, text: str = "a b") -> str:
    run_id = fake.start_run("probe_three", workflow_id, {"text": text})
    fake.wait_closed(workflow_id, run_id)
    return run_id


def with_datasets(tmp_path: Path, fake: FakeOutputApi, entry: str = CASES_ENTRY) -> Path:
    folder = tmp_path / "src" / "workflows" / "probe_three"
    (folder / "tests" / "datasets").mkdir(parents=True)
    (folder / "workflow.ts").write_text("export default workflow({ name: 'probe_three' });\n")
    (folder / "tests" / "datasets" / "cases.yml").write_text(DATASET)
    return project(tmp_path, fake, entry)


# -- an id list ---------------------------------------------------------------------------------


def test_status_shows_each_run_of_an_id_list(
    tmp_path: Path, fake: FakeOutputApi, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = ran(fake, "probe-a"), ran(fake, "probe-b")
    config = project(tmp_path, fake, IDS_ENTRY)
    code, out, err = run_main(["status", "-c", str(config)], capsys)
    assert (code, err) == (0, "")
    heads = [line for line in out.splitlines() if not line.startswith(" ")]
    assert heads == [
        f"probe-a  run {a}  completed  (latest run)",
        f"probe-b  run {b}  completed  (latest run)",
    ]


def test_plan_says_a_line_per_run_of_an_id_list(
    tmp_path: Path, fake: FakeOutputApi, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = ran(fake, "probe-a"), ran(fake, "probe-b")
    config = project(tmp_path, fake, IDS_ENTRY)
    draft = str(tmp_path / "prompts" / "draft.prompt")
    code, out, _ = run_main(["plan", draft, "-c", str(config)], capsys)
    assert code == 0
    assert out.splitlines() == [
        f"probe-a (run {a}): reset after draftOutline (draftOutline finished last before "
        "polishDraft first ran)",
        f"probe-b (run {b}): reset after draftOutline (draftOutline finished last before "
        "polishDraft first ran)",
    ]


def test_reset_resets_every_run_of_an_id_list_or_the_one_named(
    tmp_path: Path, fake: FakeOutputApi, capsys: pytest.CaptureFixture[str]
) -> None:
    ran(fake, "probe-a")
    ran(fake, "probe-b")
    config = project(tmp_path, fake, IDS_ENTRY)
    code, out, _ = run_main(["reset", "--step", "draftOutline", "-c", str(config)], capsys)
    assert code == 0
    assert out.count("Workflow reset successfully") == 2
    assert [line for line in out.splitlines() if line.endswith(":")] == ["probe-a:", "probe-b:"]
    code, out, _ = run_main(
        ["reset", "--step", "draftOutline", "-w", "probe-b", "-c", str(config)], capsys
    )
    assert code == 0
    assert out.count("Workflow reset successfully") == 1
    assert "Workflow ID: probe-b" in out.splitlines()


# -- dataset cases ------------------------------------------------------------------------------


def test_status_shows_each_case_and_the_cases_without_a_run(
    tmp_path: Path, fake: FakeOutputApi, capsys: pytest.CaptureFixture[str]
) -> None:
    basic = ran(fake, "probe_three-case-basic", "alpha beta")
    config = with_datasets(tmp_path, fake)
    code, out, _ = run_main(["status", "--json", "-c", str(config)], capsys)
    assert code == 0
    rows = json.loads(out)["workflows"]
    assert [(r["workflow"], r.get("runId"), r["status"]) for r in rows] == [
        ("probe_three/basic", basic, "completed"),
        ("probe_three/long", None, "no run yet"),
    ]


def test_a_case_whose_input_changed_has_no_run_to_plan_from(
    tmp_path: Path, fake: FakeOutputApi, capsys: pytest.CaptureFixture[str]
) -> None:
    ran(fake, "probe_three-case-basic", "an older input")
    long = ran(fake, "probe_three-case-long", "alpha beta gamma delta")
    config = with_datasets(tmp_path, fake)
    draft = str(tmp_path / "prompts" / "draft.prompt")
    code, out, _ = run_main(["plan", draft, "-c", str(config)], capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("probe_three/basic: nothing to plan: its input changed since run")
    assert lines[0].endswith("`output-reset watch` starts its run")
    assert lines[1].startswith(f"probe_three/long (run {long}): reset after draftOutline")


def test_validate_counts_the_cases_and_checks_steps_against_a_case_run(
    tmp_path: Path, fake: FakeOutputApi, capsys: pytest.CaptureFixture[str]
) -> None:
    ran(fake, "probe_three-case-long", "alpha beta gamma delta")
    config = with_datasets(tmp_path, fake, CASES_ENTRY.replace("polishDraft", "polishDraf"))
    code, out, err = run_main(["validate", "-c", str(config)], capsys)
    assert code == 2
    assert out == f"{config}: 1 problem (1 workflow, 1 rule, 1 mapped file, 2 dataset cases)\n"
    assert 'did you mean "polishDraft"?' in err


def test_validate_names_a_case_that_is_not_in_the_datasets(
    tmp_path: Path, fake: FakeOutputApi, capsys: pytest.CaptureFixture[str]
) -> None:
    config = with_datasets(tmp_path, fake, CASES_ENTRY.replace("all", "[basic, lnog]"))
    code, out, err = run_main(["validate", "--offline", "-c", str(config)], capsys)
    assert code == 2
    assert out == ""
    assert err == (
        f"error: {config}:5:15: workflows[0].datasets: no case 'lnog' in the datasets of "
        'probe_three; did you mean "long"?\n'
    )


def test_reset_of_a_dataset_entry_resets_the_cases_that_ran_and_names_the_others(
    tmp_path: Path, fake: FakeOutputApi, capsys: pytest.CaptureFixture[str]
) -> None:
    ran(fake, "probe_three-case-basic", "alpha beta")
    config = with_datasets(tmp_path, fake)
    code, out, err = run_main(["reset", "--step", "draftOutline", "-c", str(config)], capsys)
    assert code == 1
    assert out.count("Workflow reset successfully") == 1
    assert "Workflow ID: probe_three-case-basic" in out.splitlines()
    assert err == (
        "error: probe_three/long: no run of this case under probe_three-case-long yet; "
        "`output-reset watch` starts its run\n"
    )
