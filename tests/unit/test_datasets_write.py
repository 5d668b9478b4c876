"""Writing last_output and last_eval into dataset files: the fields Output's `workflow test
--save` writes, every other line as it was (docs/output-api.md §8.7), on real files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from runner.datasets import (
    NotWritten,
    is_dataset_file,
    last_eval,
    last_output,
    read_datasets,
    write_cases,
)
from runner.datasets.write import updated_text

CLI = Path(__file__).resolve().parents[1] / "fixtures" / "evals" / "cli"
BEFORE = (CLI / "multi_before.yml").read_text()
AFTER = (CLI / "multi_after_save.yml").read_text()  # what Output's --save made of BEFORE
SAVED = yaml.safe_load(AFTER)


def saved_fields(case: str) -> dict[str, Any]:
    """The fields Output's --save wrote for a case, as our helpers build them."""
    written = SAVED[case]
    output = written["last_output"]
    return {
        "last_output": last_output(output["output"], output["date"], output["executionTimeMs"]),
        "last_eval": last_eval(written["last_eval"]["output"], written["last_eval"]["date"]),
    }


def dataset(root: Path, files: dict[str, str]) -> Path:
    folder = root / "src" / "workflows" / "simple"
    (folder / "tests" / "datasets").mkdir(parents=True)
    (folder / "workflow.ts").write_text("export default workflow({ name: 'simple' });\n")
    for name, text in files.items():
        (folder / "tests" / "datasets" / name).write_text(text, newline="")
    return folder / "tests" / "datasets"


def test_outputs_save_fields_land_in_the_file_with_its_comments_and_flow_style(
    tmp_path: Path,
) -> None:
    folder = dataset(tmp_path, {"multi.yml": BEFORE})
    updates = {"case_a": saved_fields("case_a"), "case_b": saved_fields("case_b")}
    assert write_cases(folder / "multi.yml", updates) is True
    text = (folder / "multi.yml").read_text()
    assert text == (
        "# hand-written comment (will it survive --save?)\n"
        "case_a:\n"
        "  input: {values: [2, 3]}\n"
        "  ground_truth:\n"
        '    notes: "global note"\n'
        "    evals:\n"
        "      evaluate_sum:\n"
        "        expected: 5\n"
        "  last_output:\n"
        "    output:\n"
        "      result: 5\n"
        "      workflowId: oWB7c81SYvw89GvRk5WBf\n"
        "    executionTimeMs: 291\n"
        "    date: '2026-12-03T09:09:49.164Z'\n"
        "  last_eval:\n"
        "    output:\n"
        "      datasetName: case_a\n"
        "      verdict: pass\n"
        "      evaluators:\n"
        "        - name: evaluate_sum\n"
        "          verdict: pass\n"
        "          criticality: required\n"
        "          confidence: 1\n"
        "          reasoning: 'Value equals expected: 5'\n"
        "    date: '2026-12-03T09:09:49.985Z'\n"
        "case_b:\n"
        "  input:\n"
        "    values: [10, 20, 30]\n"
        "  extra_top_level: keep me\n"
        "  last_output:\n"
        "    output:\n"
        "      result: 60\n"
        "      workflowId: -GH_nG5gVqTSSMJY-b6-9\n"
        "    executionTimeMs: 400\n"
        "    date: '2026-12-03T09:09:49.568Z'\n"
        "  last_eval:\n"
        "    output:\n"
        "      datasetName: case_b\n"
        "      verdict: pass\n"
        "      evaluators:\n"
        "        - name: evaluate_sum\n"
        "          verdict: pass\n"
        "          criticality: required\n"
        "          confidence: 1\n"
        "          reasoning: 'Value equals expected: 60'\n"
        "    date: '2026-12-03T09:09:49.985Z'\n"
    )
    # case_a's new lines are exactly the ones Output wrote.
    ours = text.split("  last_output:\n", 1)[1].split("case_b:")[0]
    outputs = AFTER.split("  last_output:\n", 1)[1].split("case_b:")[0]
    assert ours == outputs
    # Read back as output-reset (and Output) read datasets: the same values as Output's file.
    read = read_datasets(tmp_path, "simple")
    assert read.problems == ()
    for case in read.cases:
        assert case.body["last_output"] == SAVED[case.name]["last_output"]
        assert case.body["last_eval"] == SAVED[case.name]["last_eval"]
        assert case.input == SAVED[case.name]["input"]


def test_only_the_named_cases_of_a_file_change(tmp_path: Path) -> None:
    text = (
        "# three cases\n"
        "one:\n  input: {n: 1}\n\n"
        "# the second\n"
        "two:\n  input: {n: 2}   # why two\n  tags: [a, 'b']\n\n"
        "three:\n  input: {n: 3}\n"
    )
    folder = dataset(tmp_path, {"cases.yml": text})
    write_cases(folder / "cases.yml", {"two": {"last_output": last_output({"n": 4}, "d2", 12)}})
    assert (folder / "cases.yml").read_text() == (
        "# three cases\n"
        "one:\n  input: {n: 1}\n\n"
        "# the second\n"
        "two:\n  input: {n: 2}   # why two\n  tags: [a, 'b']\n"
        "  last_output:\n    output:\n      n: 4\n    executionTimeMs: 12\n    date: d2\n\n"
        "three:\n  input: {n: 3}\n"
    )
    assert [c.body.get("last_output") for c in read_datasets(tmp_path, "simple").cases] == [
        None,
        {"output": {"n": 4}, "executionTimeMs": 12, "date": "d2"},
        None,
    ]


def test_a_last_output_that_is_there_is_replaced_where_it_stands(tmp_path: Path) -> None:
    text = (
        "case_a:\n"
        "    input:\n"
        "        values: [1, 2]\n"
        "    last_output:\n"
        "        output: {result: 2}   # wrong, before the fix\n"
        "        date: '2026-01-01T00:00:00.000Z'\n"
        "    # kept: a note after it\n"
        "    ground_truth: {expected: 3}\n"
    )
    folder = dataset(tmp_path, {"a.yaml": text})
    update = {"last_output": last_output({"result": 3}, "2026-12-03T09:00:00.000Z")}
    write_cases(folder / "a.yaml", {"case_a": update})
    assert (folder / "a.yaml").read_text() == (
        "case_a:\n"
        "    input:\n"
        "        values: [1, 2]\n"
        "    last_output:\n"
        "      output:\n"
        "        result: 3\n"
        "      date: '2026-12-03T09:00:00.000Z'\n"
        "    # kept: a note after it\n"
        "    ground_truth: {expected: 3}\n"
    )
    (case,) = read_datasets(tmp_path, "simple").cases
    assert case.body["last_output"] == {"output": {"result": 3}, "date": "2026-12-03T09:00:00.000Z"}
    assert list(case.body) == ["input", "last_output", "ground_truth"]


def test_a_second_save_of_the_same_values_writes_nothing(tmp_path: Path) -> None:
    folder = dataset(tmp_path, {"multi.yml": BEFORE})
    updates = {"case_a": saved_fields("case_a")}
    assert write_cases(folder / "multi.yml", updates) is True
    before = (folder / "multi.yml").stat()
    assert write_cases(folder / "multi.yml", updates) is False
    after = (folder / "multi.yml").stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_a_case_in_flow_style_becomes_block_style_and_nothing_else_moves() -> None:
    text = "---\n# one-liners\nsmall: {input: {a: 1}}\nnext: {input: {a: 2}}\n"
    new = updated_text(text, {"small": {"last_output": last_output(None, "d")}})
    assert new == (
        "---\n# one-liners\n"
        "small:\n  input:\n    a: 1\n  last_output:\n    output: null\n    date: d\n"
        "next: {input: {a: 2}}\n"
    )


def test_line_endings_and_a_missing_last_newline_are_kept() -> None:
    text = "a:\r\n  input: {x: 1}\r\nb:\r\n  input: {x: 2}"
    new = updated_text(text, {"b": {"last_output": last_output("ok", "d")}})
    assert new == "a:\r\n  input: {x: 1}\r\nb:\r\n  input: {x: 2}\r\n  last_output:\r\n" + (
        "    output: ok\r\n    date: d\r\n"
    )


def test_text_output_reads_as_a_literal_block_and_back() -> None:
    story = "Once upon a time,\n  indented: not a key\n# not a comment\n"
    new = updated_text("s:\n  input: {}\n", {"s": {"last_output": last_output(story, "d")}})
    assert new == (
        "s:\n  input: {}\n  last_output:\n    output: |\n      Once upon a time,\n"
        "        indented: not a key\n      # not a comment\n    date: d\n"
    )
    assert yaml.safe_load(new)["s"]["last_output"]["output"] == story


@pytest.mark.parametrize(
    ("text", "updates", "message"),
    [
        ("a:\n  input: {}\n", {"b": {}}, 'case "b" is not in it any more'),
        ("- a\n", {"a": {}}, "not a dataset file (the top level must map case names to cases)"),
        (
            "a: [\n",
            {"a": {}},
            (
                "not a dataset file at line 2, column 1 (expected the node content, but found "
                "'<stream end>')"
            ),
        ),
        ("a: 1\n", {"a": {"last_output": {}}}, 'case "a" is not a mapping'),
        (
            "a:\n  input: {x: 1}\nb:\n  input: {}\na:\n  input: {x: 2}\n",
            {"b": {"last_output": {}}},
            'case "a" is in it twice; keep one of them',
        ),
        (
            "a: &same\n  input: {}\nb: *same\n",
            {"b": {"last_output": {}}},
            'case "b" is an alias of another case; write it out in full',
        ),
        (
            "<<: {x: {input: {}}, y: {input: {}}}\nbasic:\n  input: {}\n",  # a merge key
            {"basic": {"last_output": {"output": 1, "date": "d"}}},
            "not a dataset file (the top level must map case names to cases)",
        ),
        (
            "a: &same\n  input: {}\nb: *same\n",
            {"a": {"last_output": {"output": 1, "date": "d"}}},
            "left as it was: the change would not read back as written (a case shares its "
            "text with another through a YAML anchor?)",
        ),
    ],
)
def test_a_file_that_cannot_be_changed_this_way_is_left_as_it_was(
    tmp_path: Path, text: str, updates: dict[str, dict[str, Any]], message: str
) -> None:
    path = tmp_path / "cases.yml"
    path.write_text(text)
    with pytest.raises(NotWritten) as caught:
        write_cases(path, updates)
    assert str(caught.value) == message
    assert path.read_text() == text


@pytest.mark.parametrize(
    ("rel", "expected"),
    [
        ("src/workflows/simple/tests/datasets/multi.yml", True),
        ("src/workflows/simple/tests/datasets/multi.yaml", True),
        ("tests/datasets/a.yml", True),
        ("src/workflows/simple/tests/datasets/nested/multi.yml", False),  # Output reads no deeper
        ("src/workflows/simple/tests/datasets/notes.md", False),
        ("src/workflows/simple/datasets/multi.yml", False),
        ("prompts/multi.yml", False),
    ],
)
def test_which_files_are_dataset_files(rel: str, expected: bool) -> None:
    assert is_dataset_file(rel) is expected
