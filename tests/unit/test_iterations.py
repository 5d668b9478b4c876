"""The iteration store (.output-reset/iterations.jsonl and objects/), on real files."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from runner.compare import MISSING
from runner.config import WorkflowConfig
from runner.errors import BadAnswer
from runner.iterations import (
    Iterations,
    blob_digest,
    case_results_at,
    file_hashes_at,
    latest_eval,
    workflow_name,
)
from runner.paths import digest
from tests.recordings import eval_output


@pytest.fixture
def store(tmp_path: Path) -> Iterations:
    return Iterations(tmp_path / ".output-reset")


# -- blobs ------------------------------------------------------------------------------------


def test_a_blob_is_named_by_the_projects_content_hash(tmp_path: Path, store: Iterations) -> None:
    (tmp_path / "draft.prompt").write_bytes(b"Write about {{topic}}\n")
    hashed = digest(tmp_path / "draft.prompt")
    assert hashed == blob_digest(b"Write about {{topic}}\n")
    store.keep(hashed, b"Write about {{topic}}\n")
    assert store.blob(hashed) == b"Write about {{topic}}\n"
    assert (store.folder / "objects" / hashed).read_bytes() == b"Write about {{topic}}\n"
    assert (store.folder / ".gitignore").exists()  # the state folder, made as StateStore does


def test_a_blob_kept_twice_is_written_once(store: Iterations) -> None:
    data = b"same text\n"
    store.keep(blob_digest(data), data)
    before = (store.objects / blob_digest(data)).stat()
    store.keep(blob_digest(data), data)
    after = (store.objects / blob_digest(data)).stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert [p.name for p in store.objects.iterdir()] == [blob_digest(data)]


def test_a_digest_that_does_not_match_the_data_is_refused(store: Iterations) -> None:
    with pytest.raises(ValueError, match="is not the digest of the data given"):
        store.keep(blob_digest(b"one"), b"two")
    assert not store.objects.exists()


def test_a_missing_damaged_or_forged_blob_is_none(store: Iterations) -> None:
    digest_ = store.keep_json({"result": 5})
    assert store.blob("0" * 32) is None
    assert store.blob("../state.json") is None  # a hand-edited record names no other file
    (store.objects / digest_).write_bytes(b'{"result": 6}')
    assert store.blob(digest_) is None
    assert store.json_blob(digest_) is MISSING
    assert store.json_blob(None) is MISSING


def test_json_is_kept_in_the_order_given(store: Iterations) -> None:
    case = {"datasetName": "a", "verdict": "pass", "evaluators": []}
    digest_ = store.keep_json(case)
    assert store.blob(digest_) == b'{"datasetName":"a","verdict":"pass","evaluators":[]}'
    assert list(store.json_blob(digest_)) == ["datasetName", "verdict", "evaluators"]
    assert store.keep_json(case) == digest_


def test_a_snapshot_keeps_the_text_and_a_deleted_file_has_no_hash(
    tmp_path: Path, store: Iterations
) -> None:
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "draft.prompt").write_text("v1\n")
    item = store.snapshot(tmp_path, "prompts/draft.prompt")
    assert item == {
        "path": "prompts/draft.prompt",
        "hash": digest(tmp_path / "prompts/draft.prompt"),
    }
    assert store.text(item["hash"]) == "v1\n"
    assert store.snapshot(tmp_path, "prompts/gone.prompt") == {
        "path": "prompts/gone.prompt",
        "hash": None,
    }


# -- records ----------------------------------------------------------------------------------


def test_records_are_numbered_from_one_with_the_time(store: Iterations) -> None:
    assert store.read() == []
    assert store.record({"workflow": "simple", "files": [], "cases": [], "eval": None}) == 1
    assert store.record({"n": 99, "workflow": "simple", "time": "2026-12-03T09:00:00.000Z"}) == 2
    first, second = store.read()
    assert first["n"] == 1
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["time"])
    assert (second["n"], second["time"]) == (2, "2026-12-03T09:00:00.000Z")
    assert store.get(2) == second
    assert store.get(3) is None


def test_two_writers_never_take_one_number(store: Iterations) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        numbers = list(pool.map(lambda i: store.record({"workflow": f"w{i}"}), range(40)))
    assert sorted(numbers) == list(range(1, 41))
    assert sorted(r["n"] for r in store.read()) == list(range(1, 41))


def test_a_bad_line_is_skipped_with_one_warning_and_its_number_is_not_reused(
    store: Iterations,
) -> None:
    store.record({"workflow": "simple"})
    store.record({"workflow": "simple"})
    with store.path.open("ab") as handle:
        handle.write(b'{"n": 3, "workflow": "simp\n')  # cut short by a crash
    assert store.record({"workflow": "simple"}) == 4
    assert [r["n"] for r in store.read()] == [1, 2, 4]
    assert store.warnings == [".output-reset/iterations.jsonl: skipped unreadable line(s) 3"]


def test_a_last_line_cut_before_its_newline_does_not_swallow_the_next_record(
    store: Iterations,
) -> None:
    # A write cut short (a crash, a full disk) leaves no newline: the next record went on
    # the same line, and read back as part of one bad line: that iteration was lost.
    store.record({"workflow": "simple"})
    with store.path.open("ab") as handle:
        handle.write(b'{"n": 2, "workflow": "simp')
    assert store.record({"workflow": "simple"}) == 3
    assert [r["n"] for r in store.read()] == [1, 3]
    assert store.warnings == [".output-reset/iterations.jsonl: skipped unreadable line(s) 2"]


def test_the_eval_item_says_better_or_worse_than_the_last_eval_of_that_workflow(
    store: Iterations,
) -> None:
    first = store.eval_record("simple", eval_output(case_a="fail", case_b="pass"))
    assert first["line"] == "1 pass, 1 fail"
    assert first["cases"] == {
        "case_a": {"verdict": "fail", "evaluators": {"evaluate_sum": "fail"}},
        "case_b": {"verdict": "pass", "evaluators": {"evaluate_sum": "pass"}},
    }
    assert store.json_blob(first["output"]) == eval_output(case_a="fail", case_b="pass")
    store.record({"workflow": "simple", "eval": first})
    store.record({"workflow": "other", "eval": store.eval_record("other", eval_output(x="fail"))})
    second = store.eval_record("simple", eval_output(case_a="pass", case_b="pass"))
    assert second["line"] == "2 pass (was 1 pass, 1 fail): better"
    with pytest.raises(BadAnswer, match="not an EvalOutput"):
        store.eval_record("simple", {"verdict": "pass"})


# -- reading records back ---------------------------------------------------------------------


def case(name: str, output: str | None, run: str) -> dict[str, Any]:
    return {"case": name, "workflowId": f"simple-case-{name}", "newRunId": run, "output": output}


def test_a_files_text_at_n_is_its_newest_snapshot_at_or_before_n() -> None:
    records = [
        {"n": 1, "files": [{"path": "a.prompt", "hash": "h1"}]},
        {"n": 2, "files": [{"path": "b.prompt", "hash": "h2"}]},
        {"n": 3, "files": [{"path": "a.prompt", "hash": "h3"}, {"path": "b.prompt", "hash": None}]},
    ]
    assert file_hashes_at(records, 1) == {"a.prompt": "h1"}
    assert file_hashes_at(records, 2) == {"a.prompt": "h1", "b.prompt": "h2"}
    assert file_hashes_at(records, 3) == {"a.prompt": "h3", "b.prompt": None}


def test_a_cases_result_at_n_is_its_newest_run_of_that_workflow() -> None:
    records = [
        {"n": 1, "workflow": "simple", "time": "t1", "cases": [case("a", "o1", "r1")]},
        {"n": 2, "workflow": "other", "time": "t2", "cases": [case("a", "x", "x1")]},
        {
            "n": 3,
            "workflow": "simple",
            "time": "t3",
            "cases": [case("a", None, "r3"), case("b", "o3", "r3b")],
            "eval": {"output": "e3"},
        },
    ]
    at_two = case_results_at(records, 2, "simple")
    assert {k: (v.n, v.case["newRunId"]) for k, v in at_two.items()} == {"a": (1, "r1")}
    at_three = case_results_at(records, 3, "simple")
    assert {k: (v.n, v.eval_output) for k, v in at_three.items()} == {
        "a": (3, "e3"),
        "b": (3, "e3"),
    }
    with_output = case_results_at(records, 3, "simple", with_output=True)
    assert {k: (v.n, v.time) for k, v in with_output.items()} == {"a": (1, "t1"), "b": (3, "t3")}


def test_the_latest_eval_at_n(store: Iterations) -> None:
    for verdict in ("fail", "pass"):
        store.record(
            {"workflow": "simple", "eval": store.eval_record("simple", eval_output(a=verdict))}
        )
    records = store.read()
    assert [c.verdict for c in latest_eval(store, records, "simple", 1)] == ["fail"]
    assert [c.verdict for c in latest_eval(store, records, "simple")] == ["pass"]
    assert latest_eval(store, records, "other") == []


def test_a_records_workflow_is_the_type_or_the_id() -> None:
    entry = WorkflowConfig(id=None, type="simple", run=None, rules=(), line=1, datasets="all")
    assert workflow_name(entry) == "simple"
    assert [workflow_name(s) for s in entry.slots([("case_a", "{}")])] == ["simple"]
    pinned = WorkflowConfig(id="probe-1", type=None, run=None, rules=(), line=1)
    assert workflow_name(pinned) == "probe-1"
