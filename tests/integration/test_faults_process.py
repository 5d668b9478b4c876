"""Fault suite, process side: signals mid-reset, kill -9 and restart, a broken state file,
and secrets that must never reach the terminal or the disk."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from tests.cli_process import Cli
from tests.fakeapi import FakeOutputApi, Step

PROMPT = "prompts/polish@v1.prompt"
CONFIG = """\
api:
  url: {url}
debounce_ms: 50
workflows:
  - id: wf-1
    rules:
      - files: prompts/polish@v1.prompt
        rerun: polishDraft
      - files: prompts/draft@v1.prompt
        rerun: draftOutline
"""
TOKEN = "tok-9f2c41d7e0b3a8655c1d"


@pytest.fixture
def project(tmp_path: Path, fake: FakeOutputApi) -> Path:
    (tmp_path / "prompts").mkdir()
    (tmp_path / PROMPT).write_text("polish v1\n")
    (tmp_path / "prompts/draft@v1.prompt").write_text("draft v1\n")
    (tmp_path / "output-reset.yaml").write_text(CONFIG.format(url=fake.url))
    return tmp_path


@pytest.fixture
def first_run(fake: FakeOutputApi) -> str:
    run_id = fake.start_run("probe_three", "wf-1", {"text": "a b"})
    fake.wait_closed("wf-1", run_id)
    return run_id


def state(project: Path) -> dict[str, object]:
    document: dict[str, object] = json.loads((project / ".output-reset" / "state.json").read_text())
    return document


def pin(project: Path) -> str:
    workflows = state(project)["workflows"]
    assert isinstance(workflows, dict)
    run_id: str = workflows["wf-1"]["run_id"]
    return run_id


def is_reset(request_path: str) -> bool:
    return request_path.endswith("/reset")


def test_sigterm_during_a_reset_request_exits_at_once_and_the_next_start_finds_the_run(
    project: Path, fake: FakeOutputApi, first_run: str
) -> None:
    # Ctrl-C does not wait for a slow API: the reset was recorded before it went out, so the
    # next start finds the run it created (by its token) instead of sending it again.
    fake.inject_delay("POST", r"/reset$", 1.0)
    cli = Cli("watch", "--no-wait-worker", "--no-follow", cwd=project)
    cli.expect("watching")
    (project / PROMPT).write_text("polish v2\n")
    fake.wait_for_request(lambda r: r.method == "POST" and is_reset(r.path))
    code, took = cli.stop(signal.SIGTERM)
    assert code == 0
    assert took < 0.5
    flight = state(project)["workflows"]
    assert isinstance(flight, dict)
    assert flight["wf-1"]["run_id"] == first_run
    token = flight["wf-1"]["in_flight"]["token"]
    assert token in fake.reset_requests()[0].json["reason"]
    new_run = _wait_new_run(fake, first_run)
    again = Cli("watch", "--no-wait-worker", "--no-follow", cwd=project)
    try:
        again.expect(f"wf-1: run {new_run} (pinned, ")
        again.expect("watching")
    finally:
        again.stop()
    assert pin(project) == new_run
    assert len(fake.reset_requests()) == 1
    workflows = state(project)["workflows"]
    assert isinstance(workflows, dict)
    assert "in_flight" not in workflows["wf-1"]


def test_kill_9_during_a_reset_then_restart_finds_the_new_run_and_does_not_reset_again(
    project: Path, fake: FakeOutputApi, first_run: str
) -> None:
    fake.inject_delay("POST", r"/reset$", 0.5)
    cli = Cli("watch", "--no-wait-worker", "--no-follow", cwd=project)
    cli.expect("watching")
    (project / PROMPT).write_text("polish v2\n")
    fake.wait_for_request(lambda r: r.method == "POST" and is_reset(r.path))
    cli.stop(signal.SIGKILL)
    # The request had reached the API, which goes on and creates the run.
    fake.wait_for_event(
        "wf-1", first_run, lambda e: e["eventTypeName"] == "WORKFLOW_EXECUTION_COMPLETED"
    )
    saved = state(project)["workflows"]
    assert isinstance(saved, dict)
    assert saved["wf-1"]["in_flight"]["base_run_id"] == first_run  # the write-ahead record
    deadline_run = _wait_new_run(fake, first_run)

    again = Cli("watch", "--no-wait-worker", "--no-follow", cwd=project)
    try:
        again.expect(f"wf-1: run {deadline_run} (pinned, ")
        again.expect("watching")
        (project / "prompts/draft@v1.prompt").write_text("draft v2\n")
        again.expect("new run")
    finally:
        again.stop()
    resets = fake.reset_requests()
    assert [r.path.split("/")[4] for r in resets] == [first_run, deadline_run]
    assert [r.json["stepName"] for r in resets] == ["draftOutline", "extractTopics"]
    workflows = state(project)["workflows"]
    assert isinstance(workflows, dict)
    assert "in_flight" not in workflows["wf-1"]


def _wait_new_run(fake: FakeOutputApi, old: str) -> str:
    import time

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        latest = fake.latest_run("wf-1")
        if latest != old:
            return latest
        time.sleep(0.02)
    raise AssertionError("the delayed reset never created a run")


def test_kill_9_after_a_reset_then_restart_repins_from_the_state_file(
    project: Path, fake: FakeOutputApi, first_run: str
) -> None:
    cli = Cli("watch", "--no-wait-worker", "--no-follow", cwd=project)
    cli.expect("watching")
    (project / PROMPT).write_text("polish v2\n")
    cli.expect("new run")
    cli.stop(signal.SIGKILL)
    new_run = pin(project)
    (project / "prompts/draft@v1.prompt").write_text("edited while it was dead\n")
    again = Cli("watch", "--no-wait-worker", "--no-follow", cwd=project)
    try:
        again.expect(f"wf-1: run {new_run} (pinned, completed)")
        again.expect("changed while output-reset was not running: prompts/draft@v1.prompt")
        again.expect("new run")
    finally:
        again.stop()
    assert [r.json["stepName"] for r in fake.reset_requests()] == ["draftOutline", "extractTopics"]
    assert fake.reset_requests()[1].path == f"/workflow/wf-1/runs/{new_run}/reset"


def test_a_corrupt_state_file_is_set_aside_with_a_warning(
    project: Path, fake: FakeOutputApi, first_run: str
) -> None:
    folder = project / ".output-reset"
    folder.mkdir()
    (folder / "state.json").write_text('{"version": 1, "workflows": {"wf-1": {"run_id": ')
    cli = Cli("watch", "--no-wait-worker", "--no-follow", cwd=project)
    try:
        warning = cli.expect("was corrupt")
        cli.expect(f"wf-1: run {first_run} (latest run, completed)")
    finally:
        code, _ = cli.stop()
    assert "moved it to state.json.corrupt-" in warning
    assert any(p.name.startswith("state.json.corrupt-") for p in folder.iterdir())
    assert pin(project) == first_run
    assert code == 0


def test_an_unreadable_state_file_is_worked_around(
    project: Path, fake: FakeOutputApi, first_run: str
) -> None:
    folder = project / ".output-reset"
    (folder / "state.json").mkdir(parents=True)  # unreadable as a file, even for root
    cli = Cli("watch", "--no-wait-worker", "--no-follow", cwd=project)
    try:
        warning = cli.expect("cannot read .output-reset/state.json")
        cli.expect(f"wf-1: run {first_run}")
    finally:
        code, _ = cli.stop()
    assert "pins will be looked up again" in warning
    assert code == 0


def test_the_token_never_appears_in_any_output_or_file(project: Path) -> None:
    with FakeOutputApi(token=TOKEN, long_poll_cap_ms=500) as secured:
        secured.define_workflow(
            "probe_three", [Step("extractTopics"), Step("draftOutline"), Step("polishDraft")]
        )
        first = secured.start_run("probe_three", "wf-1", {"text": "a"})
        secured.wait_closed("wf-1", first)
        (project / "output-reset.yaml").write_text(CONFIG.format(url=secured.url))
        (project / ".env").write_text(f"OUTPUT_API_AUTH_TOKEN={TOKEN}\n")
        cli = Cli("watch", "--no-wait-worker", "-v", cwd=project)
        try:
            cli.expect("watching")
            (project / PROMPT).write_text("polish v2\n")
            cli.expect("new run")
            cli.expect("completed after")
        finally:
            cli.stop()
        sent = [r.headers.get("authorization") for r in secured.requests]
    assert set(sent) == {f"Basic {TOKEN}"}  # it was used ...
    outputs = "\n".join(cli.output + cli.errors)
    assert TOKEN not in outputs  # ... and never shown
    for path in (project / ".output-reset").iterdir():
        if path.is_file():
            assert TOKEN not in path.read_text(errors="replace"), path.name


def test_watch_with_a_fifo_matching_a_rule_starts_and_ends_on_ctrl_c(
    project: Path, fake: FakeOutputApi, first_run: str
) -> None:
    config = project / "output-reset.yaml"
    config.write_text(
        config.read_text() + "      - files: prompts/*.prompt\n        rerun: polishDraft\n"
    )
    os.mkfifo(project / "prompts/pipe.prompt")
    cli = Cli("watch", "--no-wait-worker", "--no-follow", cwd=project)
    try:
        warning = cli.expect("pipe.prompt")
        cli.expect("watching 2 files for 1 workflow")
    finally:
        code, took = cli.stop(signal.SIGINT)
    assert warning.endswith(
        " warning: prompts/pipe.prompt is a FIFO, not a regular file; it is ignored"
    )
    assert (code, took < 1.0) == (0, True)
