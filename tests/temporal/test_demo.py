"""`run_demo`: its own dev server and worker process, an edit, a reset, nothing left behind."""

from __future__ import annotations

import os
import queue
import signal
import threading
import time
from importlib import resources
from pathlib import Path

import pytest

from runner.config import case_workflow_id, load_config
from runner.demo.flow import run_demo
from runner.demo.processes import find_temporal
from runner.demo.worker.steps import read_invocations
from runner.paths import Matcher
from tests.cli_process import Cli, processes_naming
from tests.temporal.support import DIGEST_STEPS

pytestmark = pytest.mark.skipif(
    find_temporal() is None, reason="the `temporal` CLI is neither next to Python nor on PATH"
)


class Demo:
    """`run_demo` on a thread; as a context manager, started and then stopped (like Ctrl-C)."""

    def __init__(self, folder: Path) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self.stop = threading.Event()
        self.code: list[int] = []
        self.thread = threading.Thread(
            target=lambda: self.code.append(
                run_demo(folder, report=self.lines.put, stop=self.stop)
            ),
            name="test-demo",
        )

    def __enter__(self) -> Demo:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(30)
        assert not self.thread.is_alive()

    def wait_line(self, needle: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no line with {needle!r} in {timeout} s; saw {self.seen}")
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                continue
            self.seen.append(line)
            if needle in line:
                return line


CASES = ("weekly_digest", "key_points", "resets")


def test_the_demo_judges_its_dataset_and_an_edit_turns_a_case_to_pass(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    prompt = folder / "prompts" / "polish_digest.prompt"
    with Demo(folder) as demo:
        demo.wait_line("starting 2 dataset runs of blog_digest: a full run each, this once")
        # The cases as shipped, judged before any edit; then what to edit.
        assert demo.wait_line("blog_digest_eval, ") == (
            "blog_digest_eval, before any edit: 1 pass, 1 partial, 1 fail"
        )
        assert [demo.wait_line("") for _ in range(4)] == [
            "  case           mentions_topic  digest_length  plain_words (info)  verdict",
            "  weekly_digest  pass            pass           pass                PASS",
            "  key_points     pass            partial        pass                PARTIAL",
            "  resets         fail            pass           pass                FAIL",
        ]
        assert demo.wait_line("") == (
            f'add the word "reset" to {prompt} and save: every case\'s run resets from '
            "polish_digest, then blog_digest_eval judges the cases again (the resets case goes "
            "from fail to pass: better)"
        )
        assert demo.wait_line("") == (
            "(or edit fetch_article.prompt, extract_points.prompt or draft_digest.prompt there: "
            "each resets every case from its own step; Ctrl-C stops the demo)"
        )
        assert len(processes_naming(str(folder))) == 2, "the demo's server and worker"
        before = read_invocations(folder / "invocations.jsonl")
        assert sorted(i.workflow_id for i in before if i.step == "polish_digest") == sorted(
            case_workflow_id("blog_digest", case) for case in CASES
        ), "one full run per case"

        # The edit the hint asks for, as an editor saves it.
        assert prompt.read_text() == "Polish the digest: short sentences, no jargon.\n"
        prompt.write_text("Polish the digest: short sentences, no jargon, reset.\n")
        assert demo.wait_line("blog_digest: ") == (
            "blog_digest: prompts/polish_digest.prompt changed; weekly_digest, key_points and "
            "resets: reset after draft_digest"
        )
        assert demo.wait_line("blog_digest_eval: ") == (
            "blog_digest_eval: 2 pass, 1 partial (was 1 pass, 1 partial, 1 fail): better"
        )
        rows = [demo.wait_line("") for _ in range(4)]
        assert rows[3] == (
            "  resets         pass ↑          pass           pass                "
            "PASS (was FAIL)  improved"
        )
    assert demo.code == [0]
    assert processes_naming(str(folder)) == []

    # Each case was reset once, and only polish_digest ran again, with the edited prompt.
    after = read_invocations(folder / "invocations.jsonl")[len(before) :]
    steps = [i for i in after if i.workflow_type == "blog_digest"]
    assert sorted((i.workflow_id, i.step, i.prompt) for i in steps) == sorted(
        (
            case_workflow_id("blog_digest", case),
            "polish_digest",
            "Polish the digest: short sentences, no jargon, reset.",
        )
        for case in CASES
    )
    assert len({i.run_id for i in steps}) == 3
    assert {i.workflow_type for i in after} == {"blog_digest", "blog_digest_eval"}


def test_the_demo_folder_holds_the_dataset_and_a_config_that_fans_out(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    with Demo(folder) as demo:
        demo.wait_line(" and save: ")
    dataset = folder / "src/workflows/blog_digest/tests/datasets/digests.yml"
    shipped = resources.files("runner.demo.worker").joinpath(
        "src/workflows/blog_digest/tests/datasets/digests.yml"
    )
    assert dataset.read_bytes() == shipped.read_bytes()
    config = load_config(folder / "output-reset.yaml")
    assert config.engine.kind == "temporal"
    (workflow,) = config.workflows
    assert (workflow.id, workflow.type, workflow.datasets) == (None, "blog_digest", "all")
    # Every prompt the demo put in the folder re-runs the step that reads it.
    matcher = Matcher(config)
    rerun = {
        path.name: [
            workflow.rules[ref.rule].step for ref in matcher.rules_for(f"prompts/{path.name}")
        ]
        for path in (folder / "prompts").iterdir()
    }
    assert rerun == {f"{step}.prompt": [step] for step in DIGEST_STEPS}


def test_a_second_demo_keeps_an_edited_dataset(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    dataset = folder / "src/workflows/blog_digest/tests/datasets/digests.yml"
    with Demo(folder) as demo:
        demo.wait_line(" and save: ")
    dataset.write_text("only:\n  input:\n    topic: one case\n")
    with Demo(folder) as demo:
        assert demo.wait_line("example worker up; ").endswith(
            "of blog_digest-case-only (blog_digest on dataset case only)"
        )
        assert demo.wait_line("blog_digest_eval, ") == ("blog_digest_eval, before any edit: 1 fail")
    assert demo.code == [0]
    assert dataset.read_text() == "only:\n  input:\n    topic: one case\n"


def test_stopping_the_demo_while_it_starts_leaves_nothing_behind(tmp_path: Path) -> None:
    stop = threading.Event()
    stop.set()
    # Twice: the second demo uses the folder the first one made (its marker says so).
    for _ in range(2):
        assert run_demo(tmp_path / "demo", report=lambda line: None, stop=stop) == 0
    assert processes_naming(str(tmp_path / "demo")) == []
    assert (tmp_path / "demo" / ".output-reset-demo").read_text() == ""  # no demo holds it


def demo_cli(folder: str, *, cwd: Path) -> tuple[int, list[str], list[str]]:
    """`output-reset demo --dir folder` that is expected to refuse at once: its exit code,
    stdout and stderr. A demo that starts instead is stopped (Ctrl-C) after 30 s."""
    cli = Cli("demo", "--dir", folder, cwd=cwd)
    try:
        code = cli.wait(timeout=30)
    finally:
        cli.stop(signal.SIGINT, timeout=10)
    return code, cli.output, cli.errors


def tree(folder: Path) -> dict[str, bytes | None]:
    """Every path below `folder` with the bytes of each file (None for a folder)."""
    return {
        str(path.relative_to(folder)): path.read_bytes() if path.is_file() else None
        for path in sorted(folder.rglob("*"))
    }


def test_the_demo_leaves_a_folder_it_did_not_make_alone(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / ".output-reset").mkdir(parents=True)
    (project / "output-reset.yaml").write_text("api:\n  url: http://localhost:3001\n")
    (project / ".output-reset" / "resets.jsonl").write_text('{"workflowId": "blog-1"}\n')
    before = tree(project)
    assert demo_cli(".", cwd=project) == (
        2,
        [],
        [
            f"error: {project} was not made by the demo (it has no .output-reset-demo file), "
            "so the demo will not write into it; name a new folder with --dir"
        ],
    )
    assert tree(project) == before


@pytest.mark.parametrize("below", ["", "demo"], ids=["the file", "a folder below it"])
def test_a_dir_that_is_a_file_is_one_line(tmp_path: Path, below: str) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("mine\n")
    folder = notes / below if below else notes
    said = (
        f"error: --dir {folder}: {notes} is a file, not a folder; name a new folder with --dir"
        if below
        else f"error: --dir {notes} is a file, not a folder; name a new folder with --dir"
    )
    assert demo_cli(str(folder), cwd=tmp_path) == (2, [], [said])
    assert tree(tmp_path) == {"notes.txt": b"mine\n"}


def test_a_second_demo_in_its_folder_refuses_and_leaves_the_first_running(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    with Demo(folder) as demo:
        demo.wait_line(" and save: ")
        (database,) = (folder / ".temporal").glob("*.db")
        assert demo_cli(str(folder), cwd=tmp_path) == (
            2,
            [],
            [
                f"error: another output-reset demo (pid {os.getpid()}) is running in {folder}; "
                "stop it first, or name a new folder with --dir"
            ],
        )
        assert database.is_file()
        (folder / "prompts" / "polish_digest.prompt").write_text("Polish it as a sonnet.\n")
        demo.wait_line("    polish_digest: Polish it as a sonnet.")
    assert demo.code == [0]
