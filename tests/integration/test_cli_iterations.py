"""log, compare, restore and save-datasets as a user runs them, on a real project folder
whose iterations are recorded through the store's own API (as the daemon will)."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from runner.auditlog import AuditLog
from runner.iterations import Iterations
from tests.cli_process import run_cli, run_main
from tests.recordings import eval_output

CLI = Path(__file__).resolve().parents[1] / "fixtures" / "evals" / "cli"
DATASETS = "src/workflows/simple/tests/datasets"
CONFIG = (
    "workflows:\n"
    "  - type: simple\n"
    "    datasets: all\n"
    "    rules:\n"
    "      - files: prompts/*.prompt\n"
    "        rerun: draft\n"
)


def project(root: Path, config: str = CONFIG) -> Path:
    (root / "prompts").mkdir()
    workflow = root / "src" / "workflows" / "simple"
    (workflow / "tests" / "datasets").mkdir(parents=True)
    (workflow / "workflow.ts").write_text("export default workflow({ name: 'simple' });\n")
    (root / DATASETS / "multi.yml").write_text((CLI / "multi_before.yml").read_text())
    (root / "output-reset.yaml").write_text(config)
    return root / "output-reset.yaml"


def iteration(
    root: Path,
    time: str,
    texts: dict[str, str | None],
    outputs: dict[str, Any],
    verdicts: dict[str, str] | None,
    status: str = "completed",
) -> int:
    """Edit the files as a user would, then record the burst as the daemon will."""
    store = Iterations(root / ".output-reset")
    for path, text in texts.items():
        if text is None:
            (root / path).unlink()
        else:
            (root / path).write_text(text)
    n = len(store.read()) + 1
    cases = [
        {
            "case": case,
            "workflowId": f"simple-case-{case}",
            "oldRunId": f"{case}-{n - 1}",
            "newRunId": f"{case}-{n}",
            "status": status,
            "output": store.keep_json(output) if status == "completed" else None,
            "executionTimeMs": 100 * n,
        }
        for case, output in outputs.items()
    ]
    return store.record(
        {
            "time": time,
            "workflow": "simple",
            "files": [store.snapshot(root, path) for path in texts],
            "cases": cases,
            "eval": store.eval_record("simple", eval_output(**verdicts)) if verdicts else None,
        }
    )


def three_iterations(root: Path) -> None:
    iteration(
        root,
        "2026-12-03T09:00:00.000Z",
        {"prompts/draft.prompt": "Add {{a}} and {{b}}.\n"},
        {"case_a": {"result": 4}, "case_b": {"result": 60}},
        {"case_a": "fail", "case_b": "pass"},
    )
    iteration(
        root,
        "2026-12-03T09:05:00.000Z",
        {"prompts/draft.prompt": "Add {{a}} and {{b}}.\nCheck the sum.\n"},
        {"case_a": {"result": 5}, "case_b": {"result": 60}},
        {"case_a": "pass", "case_b": "pass"},
    )
    iteration(
        root,
        "2026-12-03T09:10:00.000Z",
        {"prompts/draft.prompt": "Sum them.\n", "prompts/tone.prompt": "Be brief.\n"},
        {"case_a": {"result": 6}, "case_b": {"result": 61}},
        {"case_a": "fail", "case_b": "partial"},
    )


# -- log --------------------------------------------------------------------------------------


def audit(root: Path, time: str, new_run: str | None, **more: Any) -> None:
    AuditLog(root / ".output-reset").append(
        {
            "time": time,
            "workflow": "simple/case_a",
            "workflowId": "simple-case-case_a",
            "files": ["prompts/draft.prompt"],
            "action": "reset",
            "anchor": "draft",
            "outcome": "done" if new_run else "no reset",
            "oldRunId": "r0",
            "newRunId": new_run,
            **more,
        }
    )


def test_log_shows_iterations_and_the_resets_outside_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = project(tmp_path)
    audit(tmp_path, "2026-12-03T08:59:00.000+00:00", "case_a-1")  # part of #1
    three_iterations(tmp_path)
    audit(tmp_path, "2026-12-03T09:12:00.000+00:00", "by-hand")  # `output-reset reset`
    code, out, err = run_main(["log", "-c", str(config)], capsys)
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "2026-12-03 09:00:00  #1  simple  2 cases  1 pass, 1 fail  (prompts/draft.prompt)",
        "2026-12-03 09:05:00  #2  simple  2 cases  2 pass (was 1 pass, 1 fail): better  "
        "(prompts/draft.prompt)",
        "2026-12-03 09:10:00  #3  simple  2 cases  1 partial, 1 fail (was 2 pass): worse  "
        "(prompts/draft.prompt, prompts/tone.prompt)",
        "2026-12-03 09:12:00  simple/case_a  done  reset after draft  r0 -> by-hand  "
        "(prompts/draft.prompt)",
    ]
    code, out, _ = run_main(["log", "-n", "2", "-c", str(config)], capsys)
    assert [line.split("  ")[1] for line in out.splitlines()] == ["#3", "simple/case_a"]


def test_log_says_when_an_iteration_had_no_eval_or_a_run_did_not_complete(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = project(tmp_path)
    iteration(
        tmp_path,
        "2026-12-03T09:00:00.000Z",
        {"prompts/draft.prompt": "x\n"},
        {"case_a": None, "case_b": None},
        None,
        status="failed",
    )
    _, out, _ = run_main(["log", "-c", str(config)], capsys)
    assert out == (
        "2026-12-03 09:00:00  #1  simple  2 cases (2 did not complete)  no eval  "
        "(prompts/draft.prompt)\n"
    )


def test_log_without_iterations_reads_as_before_and_json_has_both(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = project(tmp_path)
    code, out, _ = run_main(["log", "-c", str(config)], capsys)
    assert (code, out) == (0, "no resets logged yet\n")
    audit(tmp_path, "2026-12-03T08:59:00.000+00:00", None, why="no rule matched")
    _, out, _ = run_main(["log", "-c", str(config)], capsys)
    assert out == "2026-12-03 08:59:00  simple/case_a  no reset  r0  (prompts/draft.prompt)\n"
    three_iterations(tmp_path)
    _, out, _ = run_main(["log", "--json", "-c", str(config)], capsys)
    document = json.loads(out)
    assert [e["outcome"] for e in document["entries"]] == ["no reset"]
    assert [i["n"] for i in document["iterations"]] == [1, 2, 3]
    assert document["iterations"][1]["eval"]["cases"]["case_a"] == {
        "verdict": "pass",
        "evaluators": {"evaluate_sum": "pass"},
    }


# -- compare ----------------------------------------------------------------------------------


def test_compare_shows_files_outputs_and_verdicts_from_a_to_b(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = project(tmp_path)
    three_iterations(tmp_path)
    code, out, err = run_main(["compare", "2", "3", "-c", str(config)], capsys)
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "#2 -> #3",
        "Files",
        "  prompts/draft.prompt",
        "    @@ -1,2 +1 @@",
        "    -Add {{a}} and {{b}}.",
        "    -Check the sum.",
        "    +Sum them.",
        "  prompts/tone.prompt: not recorded by #2",
        "Outputs of simple",
        "  case_a  (run case_a-2 -> case_a-3)",
        "    @@ -1,3 +1,3 @@",
        "     {",
        '    -  "result": 5',
        '    +  "result": 6',
        "     }",
        "  case_b  (run case_b-2 -> case_b-3)",
        "    @@ -1,3 +1,3 @@",
        "     {",
        '    -  "result": 60',
        '    +  "result": 61',
        "     }",
        "Verdicts of simple: 1 partial, 1 fail (was 2 pass): worse",
        "  case_a: pass -> fail (regressed)",
        "    evaluate_sum: pass -> fail",
        "  case_b: pass -> partial (regressed)",
        "    evaluate_sum: pass -> partial",
    ]


def test_compare_of_iterations_that_left_things_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = project(tmp_path)
    three_iterations(tmp_path)
    iteration(
        tmp_path,
        "2026-12-03T09:15:00.000Z",
        {"prompts/tone.prompt": None},
        {"case_a": {"result": 6}},
        None,
    )
    _, out, _ = run_main(["compare", "3", "4", "-c", str(config)], capsys)
    assert out.splitlines() == [
        "#3 -> #4",
        "Files",
        "  prompts/tone.prompt (deleted)",
        "    @@ -1 +0,0 @@",
        "    -Be brief.",
        "Outputs of simple",
        "  case_a: same output  (run case_a-3 -> case_a-4)",
        "  case_b: same output  (run case_b-3)",
        "Verdicts of simple: 1 partial, 1 fail (was 1 partial, 1 fail): same",
        "  2 cases the same",
    ]


@pytest.mark.parametrize(
    ("recorded", "message"),
    [
        (True, "error: no iteration 9 (the log has #1 to #3)\n"),
        (False, "error: no iteration 1: none is recorded yet\n"),
    ],
)
def test_compare_with_an_unknown_iteration_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], recorded: bool, message: str
) -> None:
    config = project(tmp_path)
    if recorded:
        three_iterations(tmp_path)
    code, out, err = run_main(["compare", "1", "9", "-c", str(config)], capsys)
    assert (code, out, err) == (2, "", message)


# -- restore ----------------------------------------------------------------------------------


class Terminal(io.StringIO):
    """Standard input as a person at a terminal answers."""

    def isatty(self) -> bool:
        return True


def test_restore_writes_the_mapped_files_back_to_their_text_at_n(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = project(tmp_path)
    (tmp_path / "notes.txt").write_text("mine\n")
    three_iterations(tmp_path)
    iteration(  # notes.txt is recorded, but no rule maps it
        tmp_path, "2026-12-03T09:20:00.000Z", {"notes.txt": "theirs\n"}, {}, None
    )
    before = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*"))
    code, out, err = run_main(["restore", "2", "--yes", "-c", str(config)], capsys)
    assert (code, out) == (0, "wrote prompts/draft.prompt\n")
    # tone.prompt was first changed after #2: its text at #2 is not kept (said); notes.txt too,
    # but no rule maps it.
    assert err == (
        "warning: prompts/tone.prompt: first changed after #2, so its text at #2 is not kept; "
        "left as it is\n"
    )
    assert (
        tmp_path / "prompts/draft.prompt"
    ).read_text() == "Add {{a}} and {{b}}.\nCheck the sum.\n"
    assert (tmp_path / "prompts/tone.prompt").read_text() == "Be brief.\n"  # not there at #2
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == before
    code, out, err = run_main(["restore", "4", "--yes", "-c", str(config)], capsys)
    assert (code, out) == (0, "wrote prompts/draft.prompt\n")
    assert err == "warning: notes.txt: no rule in output-reset.yaml maps it now; left as it is\n"
    assert (tmp_path / "prompts/draft.prompt").read_text() == "Sum them.\n"
    assert (tmp_path / "notes.txt").read_text() == "theirs\n"
    code, out, _ = run_main(["restore", "4", "--yes", "-c", str(config)], capsys)
    assert (code, out) == (0, "Nothing to restore: the files already have their text of #4.\n")


def test_restore_leaves_dataset_files_and_deleted_files_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = project(tmp_path, CONFIG.replace("prompts/*.prompt", "['prompts/*.prompt', 'src/**']"))
    dataset = f"{DATASETS}/multi.yml"
    iteration(
        tmp_path,
        "2026-12-03T09:00:00.000Z",
        {"prompts/draft.prompt": "v1\n", "prompts/tone.prompt": "Be brief.\n", dataset: "x:\n"},
        {},
        None,
    )
    iteration(tmp_path, "2026-12-03T09:05:00.000Z", {"prompts/tone.prompt": None}, {}, None)
    (tmp_path / "prompts/draft.prompt").write_text("v3\n")
    (tmp_path / dataset).write_text("changed:\n")
    (tmp_path / "prompts/tone.prompt").write_text("Be long.\n")
    code, out, err = run_main(["restore", "2", "--yes", "-c", str(config)], capsys)
    assert (code, out) == (0, "wrote prompts/draft.prompt\n")
    assert err == (
        "warning: prompts/tone.prompt: it was deleted by then; left as it is\n"
        f"warning: {dataset}: a dataset file; only save-datasets writes those\n"
    )
    assert (tmp_path / dataset).read_text() == "changed:\n"
    assert (tmp_path / "prompts/tone.prompt").read_text() == "Be long.\n"


def test_restore_asks_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = project(tmp_path)
    three_iterations(tmp_path)
    code, out, err = run_main(["restore", "1", "-c", str(config)], capsys)
    assert (code, out) == (2, "")
    assert err == (
        "warning: prompts/tone.prompt: first changed after #1, so its text at #1 is not kept; "
        "left as it is\n"
        "error: restore writes prompts/draft.prompt; pass --yes to confirm\n"
    )
    monkeypatch.setattr(sys, "stdin", Terminal("n\n"))
    code, out, _ = run_main(["restore", "1", "-c", str(config)], capsys)
    assert (code, out) == (
        1,
        "Restore prompts/draft.prompt as at #1? [y/N]: Nothing written.\n",
    )
    assert (tmp_path / "prompts/draft.prompt").read_text() == "Sum them.\n"
    monkeypatch.setattr(sys, "stdin", Terminal("y\n"))
    code, out, _ = run_main(["restore", "1", "-c", str(config)], capsys)
    assert code == 0
    assert out.endswith("[y/N]: wrote prompts/draft.prompt\n")
    assert (tmp_path / "prompts/draft.prompt").read_text() == "Add {{a}} and {{b}}.\n"


# -- save-datasets ----------------------------------------------------------------------------


def test_save_datasets_writes_the_latest_outputs_and_verdicts_into_the_cases_file(
    tmp_path: Path,
) -> None:
    project(tmp_path)
    three_iterations(tmp_path)
    done = run_cli("save-datasets", cwd=tmp_path)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == f"{DATASETS}/multi.yml: case_a, case_b (from #3)\n"
    text = (tmp_path / DATASETS / "multi.yml").read_text()
    before = (CLI / "multi_before.yml").read_text()
    assert text.startswith(before.split("case_b:")[0])  # the comment and flow style too
    assert "case_b:\n  input:\n    values: [10, 20, 30]\n  extra_top_level: keep me\n" in text
    written = yaml.safe_load(text)
    assert written["case_a"]["last_output"] == {
        "output": {"result": 6},
        "executionTimeMs": 300,
        "date": "2026-12-03T09:10:00.000Z",
    }
    assert written["case_b"]["last_eval"] == {
        "output": eval_output(case_a="fail", case_b="partial")["cases"][1],
        "date": "2026-12-03T09:10:00.000Z",
    }
    # The fields and their order are those Output's --save writes.
    output_saved = yaml.safe_load((CLI / "multi_after_save.yml").read_text())
    for case in ("case_a", "case_b"):
        assert list(written[case]) == list(output_saved[case])
        for key in ("last_output", "last_eval"):
            assert list(written[case][key]) == list(output_saved[case][key])
        assert list(written[case]["last_eval"]["output"]) == [
            "datasetName",
            "verdict",
            "evaluators",
        ]
    again = run_cli("save-datasets", cwd=tmp_path)
    assert (again.returncode, again.stdout) == (0, f"{DATASETS}/multi.yml: up to date\n")


def test_save_datasets_takes_each_cases_newest_output_and_says_what_it_left(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = project(tmp_path)
    (tmp_path / DATASETS / "more.yml").write_text("# later\ncase_c:\n  input: {values: [1]}\n")
    three_iterations(tmp_path)
    iteration(  # case_a again, its eval failed to run
        tmp_path, "2026-12-03T09:20:00.000Z", {"prompts/draft.prompt": "v5\n"}, {"case_a": 7}, None
    )
    code, out, err = run_main(["save-datasets", "-c", str(config)], capsys)
    assert code == 0
    assert out == f"{DATASETS}/multi.yml: case_a, case_b (from #3, #4)\n"
    assert err == (
        "warning: simple/case_c: no output recorded yet; not written\n"
        "warning: simple/case_a: #4 has no eval of it; last_eval left as it was\n"
    )
    written = yaml.safe_load((tmp_path / DATASETS / "multi.yml").read_text())
    assert written["case_a"]["last_output"]["output"] == 7
    assert "last_eval" not in written["case_a"]
    assert written["case_b"]["last_output"]["output"] == {"result": 61}
    assert (
        tmp_path / DATASETS / "more.yml"
    ).read_text() == "# later\ncase_c:\n  input: {values: [1]}\n"


def test_save_datasets_needs_an_entry_with_datasets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = project(tmp_path, CONFIG.replace("    datasets: all\n", ""))
    code, out, err = run_main(["save-datasets", "-c", str(config)], capsys)
    assert (code, out, err) == (2, "", f"error: no workflow in {config} has datasets:\n")


def test_a_dataset_file_that_cannot_be_written_is_said_and_the_others_still_are(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = project(tmp_path)
    (tmp_path / DATASETS / "shared.yml").write_text(
        "base: &same\n  input: {values: [1]}\nalias: *same\n"
    )
    three_iterations(tmp_path)
    iteration(tmp_path, "2026-12-03T09:20:00.000Z", {}, {"base": 1}, {"base": "pass"})
    code, out, err = run_main(["save-datasets", "-c", str(config)], capsys)
    assert code == 1
    assert out == f"{DATASETS}/multi.yml: case_a, case_b (from #3)\n"
    assert err == (
        "warning: simple/alias: no output recorded yet; not written\n"
        f"error: {DATASETS}/shared.yml: left as it was: the change would not read back as "
        "written (a case shares its text with another through a YAML anchor?)\n"
    )
    assert (tmp_path / DATASETS / "shared.yml").read_text() == (
        "base: &same\n  input: {values: [1]}\nalias: *same\n"
    )


def test_save_datasets_leaves_a_read_only_dataset_file_as_it_was(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = project(tmp_path)
    three_iterations(tmp_path)
    cases = tmp_path / DATASETS / "multi.yml"
    before = cases.read_bytes()
    cases.chmod(0o444)
    code, out, err = run_main(["save-datasets", "-c", str(config)], capsys)
    assert (code, out) == (1, "")
    assert err == f"error: {DATASETS}/multi.yml: cannot write it (Permission denied)\n"
    assert cases.read_bytes() == before
    assert sorted(p.name for p in cases.parent.iterdir()) == ["multi.yml"]


def test_restore_with_a_read_only_file_writes_none_of_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = project(tmp_path)
    three_iterations(tmp_path)
    iteration(
        tmp_path,
        "2026-12-03T09:20:00.000Z",
        {"prompts/draft.prompt": "Sum all.\n", "prompts/tone.prompt": "Be long.\n"},
        {},
        None,
    )
    (tmp_path / "prompts/tone.prompt").chmod(0o444)
    code, out, err = run_main(["restore", "3", "--yes", "-c", str(config)], capsys)
    assert (code, out) == (1, "")
    assert err == "error: cannot write prompts/tone.prompt: Permission denied; nothing written\n"
    assert (tmp_path / "prompts/draft.prompt").read_text() == "Sum all.\n"
    assert (tmp_path / "prompts/tone.prompt").read_text() == "Be long.\n"


def test_restore_whose_text_is_lost_says_nothing_was_restored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # It said "the files already have their text of #1" (exit 0) when that text was gone.
    config = project(tmp_path)
    three_iterations(tmp_path)
    for blob in (tmp_path / ".output-reset" / "objects").iterdir():
        blob.unlink()
    code, out, err = run_main(["restore", "1", "--yes", "-c", str(config)], capsys)
    assert (code, out) == (1, "")
    assert err == (
        "warning: prompts/tone.prompt: first changed after #1, so its text at #1 is not kept; "
        "left as it is\n"
        "error: nothing restored: the text of prompts/draft.prompt at #1 is lost\n"
    )
    assert (tmp_path / "prompts/draft.prompt").read_text() == "Sum them.\n"


def test_restore_with_one_text_lost_writes_none_of_the_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Half a restore is a state that never was: the kept text is not written either.
    config = project(tmp_path)
    three_iterations(tmp_path)
    texts: dict[str, str | None] = {
        "prompts/draft.prompt": "Add.\n",
        "prompts/tone.prompt": "Be long.\n",
    }
    iteration(tmp_path, "2026-12-03T09:15:00.000Z", texts, {"case_a": {"result": 1}}, None)
    for blob in (tmp_path / ".output-reset" / "objects").rglob("*"):
        if blob.is_file() and blob.read_bytes() == b"Be brief.\n":
            blob.unlink()
    code, out, err = run_main(["restore", "3", "--yes", "-c", str(config)], capsys)
    assert (code, out) == (1, "")
    assert err == "error: nothing restored: the text of prompts/tone.prompt at #3 is lost\n"
    assert (tmp_path / "prompts/draft.prompt").read_text() == "Add.\n"
    assert (tmp_path / "prompts/tone.prompt").read_text() == "Be long.\n"


def test_log_of_a_record_whose_lists_are_damaged_shows_what_it_can(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A record with `files` that is not a list of objects (hand-edited, or from another
    # version) made log end on a traceback (exit 3).
    config = project(tmp_path)
    three_iterations(tmp_path)
    with (tmp_path / ".output-reset" / "iterations.jsonl").open("a") as log:
        log.write('{"n": 4, "time": "2026-12-03T09:20:00.000Z", "workflow": "simple", ')
        log.write('"files": "prompts/draft.prompt", "cases": [null, 1], "eval": "pass"}\n')
    code, out, err = run_main(["log", "-c", str(config)], capsys)
    assert (code, err) == (0, "")
    assert out.splitlines()[-1] == "2026-12-03 09:20:00  #4  simple  0 cases  no eval  ()"
