"""Reading a workflow's datasets as Output's CLI does (docs/output-api.md §8), from real files."""

from __future__ import annotations

import os
from pathlib import Path

from runner.datasets import eval_input, read_datasets, workflow_folder
from tests.recordings import eval_recording

CLI = Path(__file__).resolve().parents[1] / "fixtures" / "evals" / "cli"
WORKFLOW = "import { workflow } from '@outputai/core';\nexport default workflow({ name: '%s' });\n"


def workflow(root: Path, folder: str, name: str) -> Path:
    path = root / folder
    path.mkdir(parents=True)
    (path / "workflow.ts").write_text(WORKFLOW % name)
    return path


def datasets(folder: Path, files: dict[str, str]) -> None:
    target = folder / "tests" / "datasets"
    target.mkdir(parents=True)
    for name, text in files.items():
        (target / name).write_text(text)


def test_the_flat_folder_first_then_the_folder_that_declares_the_name(tmp_path: Path) -> None:
    flat = workflow(tmp_path, "src/workflows/simple", "simple")
    nested = workflow(tmp_path, "src/workflows/llm/blog_generator", "blog_generator")
    renamed = workflow(tmp_path, "src/workflows/simple_sleep", "sleep")
    workflow(tmp_path, "src/workflows/node_modules/x", "hidden")
    assert workflow_folder(tmp_path, "simple") == flat
    assert workflow_folder(tmp_path, "blog_generator") == nested
    assert workflow_folder(tmp_path, "sleep") == renamed
    assert workflow_folder(tmp_path, "hidden") is None
    assert workflow_folder(tmp_path, "nope") is None
    # A folder of the name is enough, as for Output's CLI: no workflow.ts in it (the example
    # worker's layout: its code elsewhere, its datasets beside its prompts).
    bare = tmp_path / "src" / "workflows" / "blog_digest"
    bare.mkdir()
    assert workflow_folder(tmp_path, "blog_digest") == bare


def test_the_example_workers_datasets_are_found() -> None:
    example = Path(__file__).resolve().parents[2] / "runner" / "demo" / "worker"
    found = read_datasets(example, "blog_digest")
    assert found.problems == ()
    assert found.names() == ["weekly_digest", "key_points", "resets"]


def test_cases_in_byte_order_of_files_and_file_order_within(tmp_path: Path) -> None:
    folder = workflow(tmp_path, "src/workflows/simple", "simple")
    datasets(
        folder,
        {
            "alpha.yml": "zeta:\n  input: {values: [1]}\nalpha_case:\n  input: {values: [2]}\n",
            "Beta.yaml": "beta:\n  input: {values: [3]}\n",
            "notes.txt": "not a dataset\n",
        },
    )
    read = read_datasets(tmp_path, "simple")
    assert read.names() == ["beta", "zeta", "alpha_case"]  # "Beta" < "alpha" in bytes
    assert read.problems == ()
    assert read.cases[0].input == {"values": [3]}
    assert read.cases[0].input_json == '{"values": [3]}'


def test_a_broken_file_is_one_line_and_the_other_cases_still_count(tmp_path: Path) -> None:
    folder = workflow(tmp_path, "src/workflows/simple", "simple")
    datasets(
        folder,
        {
            "a.yml": "good:\n  input: {values: [1]}\nno_input:\n  ground_truth: {x: 1}\n",
            "b.yml": "bad: [unclosed\n",
            "c.yml": "- a list\n",
            "d.yml": "good:\n  input: {values: [9]}\n",
        },
    )
    read = read_datasets(tmp_path, "simple")
    assert read.names() == ["good"]
    assert read.problems == (
        'src/workflows/simple/tests/datasets/a.yml: case "no_input" has no "input" mapping; '
        "ignored",
        "src/workflows/simple/tests/datasets/b.yml:2:1: not a dataset file (expected ',' or "
        "']', but got '<stream end>')",
        "src/workflows/simple/tests/datasets/c.yml: not a dataset file (the top level must map "
        "case names to cases)",
        'src/workflows/simple/tests/datasets/d.yml: case "good" is also in another file; ignored',
    )


def test_a_symlink_loop_or_a_fifo_among_the_files_leaves_the_other_files_cases(
    tmp_path: Path,
) -> None:
    # A link that loops made the whole folder unreadable: every case of every file was
    # dropped, and nothing said why.
    folder = workflow(tmp_path, "src/workflows/simple", "simple")
    datasets(folder, {"a.yml": "good:\n  input: {values: [1]}\n"})
    target = folder / "tests" / "datasets"
    (target / "loop.yml").symlink_to("loop.yml")
    (target / "folder.yml").mkdir()
    os.mkfifo(target / "pipe.yml")
    read = read_datasets(tmp_path, "simple")
    assert read.names() == ["good"]
    assert read.problems == (
        "src/workflows/simple/tests/datasets/loop.yml: cannot read it (Too many levels of "
        "symbolic links)",
    )


def test_a_case_name_twice_in_one_file_is_said(tmp_path: Path) -> None:
    # The second silently won (the first one's input was never run), and save-datasets then
    # refused the file as "not a dataset file".
    folder = workflow(tmp_path, "src/workflows/simple", "simple")
    datasets(folder, {"a.yml": "x:\n  input: {n: 1}\ny:\n  input: {n: 2}\nx:\n  input: {n: 3}\n"})
    read = read_datasets(tmp_path, "simple")
    assert read.names() == ["x", "y"]
    assert read.cases[0].input == {"n": 3}
    assert read.problems == (
        'src/workflows/simple/tests/datasets/a.yml: case "x" is in it twice; the last one counts',
    )


def test_no_folder_is_one_problem(tmp_path: Path) -> None:
    read = read_datasets(tmp_path, "ghost")
    assert read.cases == ()
    assert read.problems == (
        "no folder under src/workflows declares workflow ghost (the config must sit in the "
        "Output project's folder, beside its src/)",
    )


def test_the_real_multi_case_file(tmp_path: Path) -> None:
    folder = workflow(tmp_path, "src/workflows/simple", "simple")
    datasets(folder, {"multi.yml": (CLI / "multi_before.yml").read_text()})
    read = read_datasets(tmp_path, "simple")
    assert read.names() == ["case_a", "case_b"]
    assert read.cases[1].body["extra_top_level"] == "keep me"


def test_the_eval_input_is_what_the_cli_sends_with_cached_outputs(tmp_path: Path) -> None:
    folder = workflow(tmp_path, "src/workflows/simple", "simple")
    datasets(folder, {"basic_input.yml": "basic_input:\n  input: {values: [1, 2, 3, 4, 5]}\n"})
    (case,) = read_datasets(tmp_path, "simple").cases
    output = {"result": 15, "workflowId": "test-cached"}
    sent = eval_input([case], {"basic_input": output}, "2026-02-13T00:00:00.000Z")
    recorded = eval_recording("e-04")["request"]["body"]["input"]
    (want,) = recorded["datasets"]
    assert sent == {
        "datasets": [
            {
                "name": want["name"],
                "input": want["input"],
                "last_output": {
                    "output": want["last_output"]["output"],
                    "date": want["last_output"]["date"],
                },
            }
        ]
    }
