"""What keeps a watch from doing harm: one daemon per config, no reset twice for one content,
a state folder it can write, Ctrl-C at once whatever the API does, and a steps: typo said."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from runner.auditlog import AuditLog
from runner.config import load_config
from runner.daemon import Options
from runner.plan import Change
from runner.reports import Notice
from runner.resetter import Resetter
from runner.runs import Runs
from runner.state import StateStore
from tests.cli_process import Cli
from tests.daemon_harness import Running, make_project
from tests.engines import RecordingEngine
from tests.fakeapi import FakeOutputApi

PROMPT = "src/workflows/probe_three/prompts/polish@v1.prompt"
API = "api:\n  url: {url}\n"


def api_project(tmp_path: Path, fake: FakeOutputApi) -> Path:
    config = make_project(tmp_path)
    config.write_text(API.format(url=fake.url) + config.read_text())
    run_id = fake.start_run("probe_three", "rec-three-1", {"text": "a b"})
    fake.wait_closed("rec-three-1", run_id)
    return config


def test_a_second_watch_on_the_same_config_is_refused(tmp_path: Path, fake: FakeOutputApi) -> None:
    api_project(tmp_path, fake)
    first = Cli("watch", "--no-wait-worker", "--no-follow", cwd=tmp_path)
    try:
        first.expect("watching ")
        second = Cli("watch", "--no-wait-worker", "--no-follow", cwd=tmp_path)
        code = second.wait(timeout=10)
        assert code == 2
        assert second.errors == [
            f"error: another output-reset watch (pid {first.process.pid}) is watching "
            f"{tmp_path}; stop it first (only one may reset these runs)"
        ]
        # The first one still works: one edit, one reset.
        (tmp_path / PROMPT).write_text("<user>polish v2</user>\n")
        first.expect("new run")
    finally:
        first.stop()
    assert len(fake.reset_requests()) == 1


def test_content_another_output_reset_already_reset_for_is_not_reset_again(
    tmp_path: Path,
) -> None:
    # Two resetters on one state folder (a one-shot `reset` beside `watch`, or a daemon that
    # missed the other's answer): the second sees the pin already built on this content.
    config = load_config(make_project(tmp_path))
    workflow = config.workflows[0]
    engine = RecordingEngine()
    store = StateStore(config.state_dir)
    one = Resetter(engine, Runs(engine, store), AuditLog(config.state_dir))
    two = Resetter(engine, Runs(engine, StateStore(config.state_dir)), AuditLog(config.state_dir))
    pin = one.resolve(workflow, {PROMPT: "h1"}).pin
    change = [Change(rule=workflow.rules[0], files=(PROMPT,))]
    first = one.apply(workflow, change, pin=pin, hashes={PROMPT: "h2"})
    second = two.apply(workflow, change, pin=pin, hashes={PROMPT: "h2"})
    assert first.new_run_id is not None
    assert second.new_run_id is None
    assert second.pin.run_id == first.new_run_id
    assert "already ran on this content" in second.decision.why
    assert engine.resets.qsize() == 1


def test_a_state_folder_that_cannot_be_written_is_refused_at_start(tmp_path: Path) -> None:
    make_project(tmp_path)
    (tmp_path / ".output-reset").write_text("a file where the state folder goes\n")
    cli = Cli("watch", "--no-wait-worker", cwd=tmp_path)
    assert cli.wait(timeout=10) == 2
    assert len(cli.errors) == 1
    assert cli.errors[0].startswith(
        "error: cannot write .output-reset/watch.lock beside the config"
    )
    assert cli.errors[0].endswith("or only watch with --dry-run")


@pytest.mark.parametrize("when", ["while pinning at start", "while resetting after an edit"])
def test_ctrl_c_ends_watch_at_once_whatever_the_api_does(
    tmp_path: Path, fake: FakeOutputApi, when: str
) -> None:
    api_project(tmp_path, fake)
    if when == "while pinning at start":
        fake.inject_delay("GET", r"/workflow/runs|/status$|/history", 3600.0, times=None)
        cli = Cli("watch", "--no-wait-worker", "--no-follow", cwd=tmp_path)
        fake.wait_for_request(lambda r: r.method == "GET" and "/workflow/" in r.path)
    else:
        fake.inject_delay("POST", r"/reset$", 3600.0, times=None)
        cli = Cli("watch", "--no-wait-worker", "--no-follow", cwd=tmp_path)
        cli.expect("watching ")
        (tmp_path / PROMPT).write_text("<user>polish v2</user>\n")
        fake.wait_for_request(lambda r: r.method == "POST")
    time.sleep(0.2)  # well inside the request the API never answers
    code, took = cli.stop(signal.SIGINT)
    assert code == 0
    assert took < 0.5


def test_a_steps_name_that_is_no_step_of_the_run_is_warned_about_at_start(
    tmp_path: Path,
) -> None:
    config = make_project(tmp_path)
    text = config.read_text().replace(
        "  - id: rec-three-1\n",
        "  - id: rec-three-1\n    steps:\n      polishDraf: {side_effects: true}\n",
    )
    config.write_text(text)
    with Running(config, RecordingEngine(), Options(wait_worker=False)) as running:
        notice = running.wait_for(Notice)
    assert notice.message == (
        "rec-three-1: steps: polishDraf is not a step of run 01a2120c-2695-70a1-83f6-9d9ec4cacd75, "
        "so its side_effects guard guards nothing (see output-reset validate)"
    )
