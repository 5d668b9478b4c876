"""The daemon on real files: inotify events through watchdog, real saves, real git.

The engine is an in-memory double (tests/engines.py), so these tests are about what counts as
a change; the HTTP side is covered against the API double elsewhere.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from runner.daemon import Options
from runner.reports import Changed, ConfigReloaded, Notice, WaitingForWorker
from runner.wording import decision_line, lines
from tests.daemon_harness import Running, make_project
from tests.engines import RecordingEngine, ResetCall

FAST = Options(wait_worker=False, follow=False)
ORIGINAL_RUN = "01a2120c-2695-70a1-83f6-9d9ec4cacd75"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path)


def prompt(config: Path, name: str = "polish@v1.prompt") -> Path:
    return config.parent / "src" / "workflows" / "probe_three" / "prompts" / name


def next_reset(engine: RecordingEngine, timeout: float = 5.0) -> ResetCall:
    return engine.resets.get(timeout=timeout)


def test_a_plain_write_resets_once_and_moves_the_pin(project: Path) -> None:
    engine = RecordingEngine()
    with Running(project, engine, FAST) as running:
        prompt(project).write_text("<user>polish v2</user>\n")
        call = next_reset(engine)
        decided = running.decision()
    assert (call.run_id, call.step) == (ORIGINAL_RUN, "draftOutline")
    assert "src/workflows/probe_three/prompts/polish@v1.prompt changed (rerun polishDraft)" in (
        call.reason
    )
    assert decided.outcome is not None
    assert decided.outcome.new_run_id == call.new_run_id
    state = json.loads((project.parent / ".output-reset" / "state.json").read_text())
    assert state["workflows"]["rec-three-1"]["run_id"] == call.new_run_id
    assert engine.resets.empty()


def test_the_next_edit_resets_the_new_run(project: Path) -> None:
    engine = RecordingEngine()
    with Running(project, engine, FAST):
        prompt(project).write_text("v2\n")
        first = next_reset(engine)
        prompt(project).write_text("v3\n")
        second = next_reset(engine)
    assert second.run_id == first.new_run_id


def test_an_atomic_save_is_one_change(project: Path) -> None:
    engine = RecordingEngine()
    target = prompt(project)
    with Running(project, engine, FAST):
        tmp = target.with_name(".polish@v1.prompt.tmp-123")
        tmp.write_text("v2 atomically\n")
        os.replace(tmp, target)
        call = next_reset(engine)
        # A later, different edit is the next reset: nothing fired in between.
        prompt(project, "draft@v1.prompt").write_text("draft v2\n")
        after = next_reset(engine)
    assert call.step == "draftOutline"
    assert after.step == "extractTopics"


def test_a_vim_style_save_is_one_change(project: Path) -> None:
    engine = RecordingEngine()
    target = prompt(project)
    with Running(project, engine, FAST):
        swap = target.with_name(".polish@v1.prompt.swp")
        swap.write_bytes(b"swap")
        backup = target.with_name("polish@v1.prompt~")
        os.rename(target, backup)
        target.write_text("v2 from vim\n")
        backup.unlink()
        swap.unlink()
        call = next_reset(engine)
        prompt(project, "draft@v1.prompt").write_text("draft v2\n")
        after = next_reset(engine)
    assert call.step == "draftOutline"
    assert after.step == "extractTopics"


def test_a_delete_is_a_change(project: Path) -> None:
    engine = RecordingEngine()
    with Running(project, engine, FAST):
        prompt(project).unlink()
        call = next_reset(engine)
    assert call.step == "draftOutline"


def test_saving_the_same_bytes_or_touching_does_nothing(project: Path) -> None:
    engine = RecordingEngine()
    target = prompt(project)
    with Running(project, engine, FAST):
        target.write_bytes(target.read_bytes())
        os.utime(target)
        (project.parent / "README.md").write_text("unmapped edit\n")
        # Then a real edit elsewhere: it must be the first and only reset.
        prompt(project, "draft@v1.prompt").write_text("draft v2\n")
        call = next_reset(engine)
    assert call.step == "extractTopics"
    assert "polish" not in call.reason
    assert engine.resets.empty()


def test_edits_to_several_rules_in_one_burst_reset_once_at_the_earliest_anchor(
    tmp_path: Path,
) -> None:
    config = make_project(tmp_path, debounce_ms=300)
    engine = RecordingEngine()
    with Running(config, engine, FAST) as running:
        prompt(config).write_text("polish v2\n")
        prompt(config, "draft@v1.prompt").write_text("draft v2\n")
        call = next_reset(engine)
        decided = running.decision()
        prompt(config).write_text("polish v3\n")
        after = next_reset(engine)
    assert call.step == "extractTopics"
    assert len(decided.decision.outcomes) == 2
    assert after.step == "draftOutline"


def two_branches(config: Path, files: int) -> tuple[Path, Callable[..., None]]:
    """A git repository whose branches `main` (checked out) and `other` differ in `files`
    JSON files under the workflow's data/ folder and in the polish prompt."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    root = config.parent
    bulk = root / "src" / "workflows" / "probe_three" / "data"
    bulk.mkdir()

    def git(*args: str) -> None:
        subprocess.run(
            ["git", "-c", "user.email=t@t", "-c", "user.name=t", *args],
            cwd=root,
            check=True,
            capture_output=True,
        )

    git("init", "-q", "-b", "main")
    for i in range(files):
        (bulk / f"part{i:04}.json").write_text(f'{{"i": {i}, "branch": "main"}}\n')
    git("add", "-A")
    git("commit", "-q", "-m", "main")
    git("checkout", "-q", "-b", "other")
    for i in range(files):
        (bulk / f"part{i:04}.json").write_text(f'{{"i": {i}, "branch": "other"}}\n')
    prompt(config).write_text("polish from the other branch\n")
    git("commit", "-q", "-am", "other")
    git("checkout", "-q", "main")
    return bulk, git


def test_a_git_checkout_of_thousands_of_files_resets_once(tmp_path: Path) -> None:
    config = make_project(tmp_path, debounce_ms=300)
    _, git = two_branches(config, 3000)
    engine = RecordingEngine()
    with Running(config, engine, FAST):
        git("checkout", "-q", "other")
        call = next_reset(engine, timeout=15)
        prompt(config, "draft@v1.prompt").write_text("sentinel\n")
        after = next_reset(engine, timeout=10)
    assert call.step == "draftOutline"
    assert "sentinel" not in call.reason
    assert after.step == "extractTopics"


def test_a_checkout_of_thousands_of_mapped_files_names_a_few_and_counts_the_rest(
    tmp_path: Path,
) -> None:
    config = make_project(tmp_path, debounce_ms=300)
    config.write_text(
        config.read_text()
        + "      - files: src/workflows/probe_three/data/*.json\n        rerun: polishDraft\n"
    )
    _, git = two_branches(config, 4000)
    engine = RecordingEngine()
    with Running(config, engine, FAST) as running:
        git("checkout", "-q", "other")
        call = next_reset(engine, timeout=15)
        changed = running.wait_for(Changed)
        decided = running.decision()
    data = "src/workflows/probe_three/data"
    sorted_names = f"{data}/part0000.json, {data}/part0001.json and 3,999 more"
    assert lines(changed, verbose=True) == [(f"changed: {sorted_names}", False)]
    named = f"{prompt(config)}, {data}/part0000.json and 3,999 more"  # in rule order
    named = named.removeprefix(f"{tmp_path}/")
    line = decision_line(decided.label, decided.decision, decided.outcome)
    assert line == (
        f"rec-three-1: {named} changed: reset after draftOutline; new run {call.new_run_id}"
    )
    assert len(line) < 300
    assert call.reason.startswith(f"output-reset: {named} changed (rerun polishDraft) [or-")
    assert len(call.reason) < 300
    logged = json.loads((tmp_path / ".output-reset" / "resets.jsonl").read_text())
    assert logged["reason"] == call.reason
    assert len(logged["files"]) == 4001  # the log keeps every file


def add_rule(config: Path, pattern: str) -> Path:
    config.write_text(
        config.read_text() + f"      - files: {pattern}\n        rerun: polishDraft\n"
    )
    return config.parent / pattern.rpartition("/")[0]


def test_a_reason_is_cut_to_300_characters_and_keeps_its_token(tmp_path: Path) -> None:
    config = make_project(tmp_path)
    folder = add_rule(config, "src/workflows/probe_three/prompts/long/*.prompt")
    folder.mkdir()
    names = [folder / f"{c * 200}.prompt" for c in "ab"]
    for name in names:
        name.write_text("v1\n")
    engine = RecordingEngine()
    with Running(config, engine, FAST):
        for name in names:
            name.write_text("v2\n")
        call = next_reset(engine)
    assert len(call.reason) == 300
    long = "src/workflows/probe_three/prompts/long"
    assert re.fullmatch(
        rf"output-reset: {long}/a{{200}}\.prompt, src/[^ ]+… \[or-[0-9a-f]{{8}}\]", call.reason
    )


def test_a_skipped_reset_of_many_files_says_how_to_do_it_by_step(tmp_path: Path) -> None:
    config = make_project(tmp_path)
    config.write_text(
        config.read_text().replace(
            "  - id: rec-three-1\n",
            "  - id: rec-three-1\n    steps:\n      polishDraft: {side_effects: true}\n",
        )
    )
    folder = add_rule(config, "src/workflows/probe_three/data/*.json")
    folder.mkdir()
    parts = [folder / f"part{i}.json" for i in range(4)]
    for part in parts:
        part.write_text("{}\n")
    engine = RecordingEngine()
    with Running(config, engine, FAST) as running:
        for part in parts:
            part.write_text('{"v": 2}\n')
        skipped = running.wait_for(Notice)
    assert skipped.message == (
        "rec-three-1: skipped: this reset would run polishDraft again, which is marked "
        "side_effects: true; to do it anyway: output-reset reset --step draftOutline --yes"
    )


def test_catch_up_resets_for_edits_made_while_stopped(project: Path) -> None:
    engine = RecordingEngine()
    with Running(project, engine, FAST):
        prompt(project).write_text("v2\n")
        first = next_reset(engine)
    prompt(project, "draft@v1.prompt").write_text("edited while stopped\n")
    with Running(project, engine, FAST) as running:
        changed = running.wait_for(Changed)
        call = next_reset(engine)
    assert changed.catch_up
    assert changed.files == ("src/workflows/probe_three/prompts/draft@v1.prompt",)
    assert (call.run_id, call.step) == (first.new_run_id, "extractTopics")


def test_no_catch_up_ignores_edits_made_while_stopped(project: Path) -> None:
    engine = RecordingEngine()
    with Running(project, engine, FAST):
        prompt(project).write_text("v2\n")
        next_reset(engine)
    prompt(project, "draft@v1.prompt").write_text("edited while stopped\n")
    options = Options(wait_worker=False, follow=False, catch_up=False)
    with Running(project, engine, options):
        prompt(project).write_text("v3\n")
        call = next_reset(engine)
    assert call.step == "draftOutline"


def test_a_restart_without_edits_does_not_reset(project: Path) -> None:
    engine = RecordingEngine()
    with Running(project, engine, FAST):
        pass
    with Running(project, engine, FAST):
        prompt(project).write_text("v2\n")
        call = next_reset(engine)
    assert call.step == "draftOutline"
    with pytest.raises(queue.Empty):
        engine.resets.get_nowait()


def test_an_invalid_config_edit_keeps_the_old_config(project: Path) -> None:
    engine = RecordingEngine()
    with Running(project, engine, FAST) as running:
        good = project.read_text()
        project.write_text(good + "  - id: [broken\n")
        notice = running.wait_for(Notice)
        prompt(project).write_text("v2\n")
        call = next_reset(engine)
    assert notice.message.startswith("output-reset.yaml:")
    assert notice.message.endswith("(still using the previous config)")
    assert call.step == "draftOutline"


def test_a_config_edit_is_picked_up(project: Path) -> None:
    engine = RecordingEngine()
    with Running(project, engine, FAST) as running:
        project.write_text(
            project.read_text().replace("rerun: polishDraft", "reset_after: extractTopics")
        )
        reloaded = running.wait_for(ConfigReloaded)
        assert engine.resets.empty()
        prompt(project).write_text("v2\n")
        call = next_reset(engine)
    assert reloaded.path == "output-reset.yaml"
    assert call.step == "extractTopics"


def test_waits_for_the_worker_before_resetting(project: Path) -> None:
    engine = RecordingEngine()
    options = Options(wait_worker=True, follow=False)
    with Running(project, engine, options) as running:
        prompt(project).write_text("v2\n")
        waiting = running.wait_for(WaitingForWorker)
        assert engine.resets.empty()
        engine.marker = "catalog-2"  # the worker reloaded
        call = next_reset(engine)
    assert waiting.files == ("src/workflows/probe_three/prompts/polish@v1.prompt",)
    assert not waiting.md_only
    assert call.step == "draftOutline"


def test_an_api_outage_keeps_the_edit_pending(project: Path) -> None:
    engine = RecordingEngine()
    with Running(project, engine, FAST) as running:
        engine.down = True
        prompt(project).write_text("v2\n")
        notice = running.wait_for(Notice)
        assert "will keep retrying" in notice.message
        engine.down = False
        call = next_reset(engine, timeout=10)
    assert call.step == "draftOutline"


def test_edits_during_the_worker_wait_join_the_pending_reset(project: Path) -> None:
    engine = RecordingEngine()
    with Running(project, engine, Options(wait_worker=True, follow=False)) as running:
        prompt(project).write_text("polish v2\n")
        running.wait_for(WaitingForWorker)
        prompt(project, "draft@v1.prompt").write_text("draft v2\n")
        running.wait_for(Changed)
        running.wait_for(Changed)
        engine.marker = "catalog-2"
        call = next_reset(engine)
        decided = running.decision()
        prompt(project).write_text("polish v3\n")
        running.wait_for(WaitingForWorker)
        engine.marker = "catalog-3"
        after = next_reset(engine)
    assert call.step == "extractTopics"  # the earlier of the two anchors
    assert set(decided.decision.files) == {
        "src/workflows/probe_three/prompts/polish@v1.prompt",
        "src/workflows/probe_three/prompts/draft@v1.prompt",
    }
    assert after.step == "draftOutline"


def test_the_worker_wait_times_out_with_a_warning(project: Path) -> None:
    engine = RecordingEngine()
    options = Options(wait_worker=True, follow=False, worker_timeout_s=0.3)
    with Running(project, engine, options) as running:
        prompt(project).write_text("v2\n")
        notice = running.wait_for(Notice)
        call = next_reset(engine)
    assert notice.message == (
        "rec-three-1: Output's worker did not report new code within 0.3 s; resetting anyway"
    )
    assert call.step == "draftOutline"


def test_an_md_only_edit_waits_for_the_catalog_to_answer(tmp_path: Path) -> None:
    config = make_project(tmp_path)
    skills = tmp_path / "src" / "workflows" / "probe_three" / "prompts" / "skills"
    skills.mkdir()
    (skills / "tone.md").write_text("be kind\n")
    config.write_text(
        config.read_text()
        + "      - files: src/workflows/probe_three/prompts/skills/*.md\n"
        + "        rerun: polishDraft\n"
    )
    engine = RecordingEngine()
    answered = threading.Event()
    real = engine.wait_worker_answers

    def wait_worker_answers() -> None:
        real()
        answered.set()

    engine.wait_worker_answers = wait_worker_answers  # type: ignore[method-assign]
    with Running(config, engine, Options(wait_worker=True, follow=False)) as running:
        (skills / "tone.md").write_text("be kinder\n")
        waiting = running.wait_for(WaitingForWorker)
        call = next_reset(engine)
    assert waiting.md_only
    assert answered.is_set()  # the catalog query answered before the reset went out
    assert call.step == "draftOutline"
    assert engine.marker == "catalog-1"  # an .md edit does not change the catalog run


def test_dry_run_decides_but_changes_nothing(project: Path) -> None:
    engine = RecordingEngine()
    options = Options(dry_run=True, follow=False)
    with Running(project, engine, options) as running:
        prompt(project).write_text("v2\n")
        decided = running.decision()
    assert decided.outcome is None
    assert (decided.decision.kind, decided.decision.anchor) == ("reset", "draftOutline")
    assert engine.resets.empty()
    assert not (project.parent / ".output-reset" / "state.json").exists()


def test_savings_use_the_usage_read_from_the_trace_before_the_reset(project: Path) -> None:
    engine = RecordingEngine()
    engine.trace_tree = {
        "kind": "workflow",
        "name": "probe_three",
        "children": [
            {
                "id": "2",
                "kind": "step",
                "name": "probe_three#extractTopics",
                "children": [
                    {
                        "kind": "llm",
                        "name": "generateText",
                        "attributes": {"llm:usage": {"total": 0.0125, "tokensUsed": 1500}},
                        "children": [],
                    }
                ],
            }
        ],
    }
    with Running(project, engine, FAST) as running:
        prompt(project).write_text("v2\n")
        decided = running.decision()
    assert decided.outcome is not None
    savings = decided.outcome.savings
    assert savings is not None
    assert savings.steps == ("extractTopics", "draftOutline")
    assert savings.tokens == 1500
    assert savings.cost is None  # draftOutline's cost is unknown, so no total is claimed
    assert savings.seconds == pytest.approx(1.041, abs=0.01)  # 0.522 s + 0.519 s recorded


def test_a_reset_that_would_rerun_a_side_effect_step_is_skipped_in_watch(project: Path) -> None:
    config = project.read_text().replace(
        "  - id: rec-three-1\n",
        "  - id: rec-three-1\n    steps:\n      polishDraft: {side_effects: true}\n"
        "      extractTopics: {side_effects: true}\n",
    )
    project.write_text(config)
    engine = RecordingEngine()
    with Running(project, engine, FAST) as running:
        prompt(project).write_text("v2\n")
        skipped = running.wait_for(Notice)
        prompt(project, "draft@v1.prompt").write_text("draft v2\n")
        also_skipped = running.wait_for(Notice)
    assert skipped.message == (
        "rec-three-1: skipped: this reset would run polishDraft again, which is marked "
        "side_effects: true; to do it anyway: output-reset reset "
        "--file src/workflows/probe_three/prompts/polish@v1.prompt --yes"
    )
    assert "would run polishDraft again" in also_skipped.message
    assert engine.resets.empty()
    log = (project.parent / ".output-reset" / "resets.jsonl").read_text().splitlines()
    assert [json.loads(line)["outcome"] for line in log] == ["skipped", "skipped"]
