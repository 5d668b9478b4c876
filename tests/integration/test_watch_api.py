"""The daemon against the API double: when it resets, which runs it follows (real files, real
HTTP on loopback)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from runner.config import ApiConfig
from runner.daemon import Options
from runner.output_api import OutputApi, resolve_settings
from runner.reports import Decided, Pinned, RunFinished, WaitingForWorker
from tests.daemon_harness import Running, make_project
from tests.fakeapi import FakeOutputApi, Step

POLISH = "src/workflows/probe_three/prompts/polish@v1.prompt"


def api(fake: FakeOutputApi) -> OutputApi:
    return OutputApi(resolve_settings(ApiConfig(url=fake.url), {}), long_poll_ms=500)


def pinned_run(fake: FakeOutputApi, config: Path, workflow_id: str = "rec-three-1") -> str:
    config.write_text(config.read_text().replace("rec-three-1", workflow_id))
    run_id = fake.start_run("probe_three", workflow_id, {"text": "a b"})
    fake.wait_closed(workflow_id, run_id)
    return run_id


def test_an_edit_while_the_api_is_down_waits_for_the_reload_after_it_comes_back(
    tmp_path: Path, fake: FakeOutputApi
) -> None:
    config = make_project(tmp_path)
    first = pinned_run(fake, config)
    engine = api(fake)
    try:
        with Running(config, engine, Options(follow=False)) as running:
            fake.set_down(True)
            (tmp_path / POLISH).write_text("<user>polish v2</user>\n")
            running.wait_for(WaitingForWorker)
            time.sleep(0.3)  # the probe finds the API down (no reset may come of it)
            fake.set_down(False)
            # It answers again, with the worker that started before the edit: no reset yet.
            with pytest.raises(TimeoutError):
                fake.wait_for_request(lambda r: r.method == "POST", timeout=1.5)
            reloaded_at = time.monotonic()
            fake.reload_worker(0.3, new_code_version=2)
            decided = running.decision(timeout=10)
    finally:
        engine.close()
    (reset,) = fake.reset_requests()
    assert reset.path == f"/workflow/rec-three-1/runs/{first}/reset"
    assert reset.received_at > reloaded_at + 0.3  # after the new worker was up
    assert decided.outcome is not None
    assert fake.invocations(decided.outcome.new_run_id or "") == ["polishDraft"]


def test_a_running_run_pinned_by_a_config_reload_is_followed(
    tmp_path: Path, fake: FakeOutputApi
) -> None:
    gate = threading.Event()
    fake.define_workflow("slow_three", [Step("one"), Step("two", gate=gate)])
    config = make_project(tmp_path)
    pinned_run(fake, config)
    engine = api(fake)
    try:
        with Running(config, engine, Options(wait_worker=False)) as running:
            running_run = fake.start_run("slow_three", "slow-1", {})
            config.write_text(
                config.read_text()
                + "  - id: slow-1\n    rules:\n      - files: docs/slow.md\n        rerun: two\n"
            )
            pinned = running.wait_for(Pinned)  # the first entry's, at start
            pinned = running.wait_for(Pinned)
            assert (pinned.workflow_id, pinned.status) == ("slow-1", "running")
            gate.set()
            finished = running.wait_for(RunFinished, timeout=10)
    finally:
        engine.close()
    assert (finished.workflow_id, finished.run_id, finished.status) == (
        "slow-1",
        running_run,
        "completed",
    )


def test_watch_says_the_reset_went_out_once_for_two_workflows_in_one_burst(
    tmp_path: Path, fake: FakeOutputApi
) -> None:
    config = make_project(tmp_path)
    first = pinned_run(fake, config)
    second = fake.start_run("probe_three", "rec-three-2", {"text": "c d"})
    fake.wait_closed("rec-three-2", second)
    text = config.read_text()
    rules = text[text.index("    rules:") :]
    config.write_text(text + "  - id: rec-three-2\n" + rules)
    engine = api(fake)
    try:
        with Running(config, engine, Options(wait_worker=False, follow=False)) as running:
            (tmp_path / POLISH).write_text("<user>polish v2</user>\n")
            one, two = running.wait_for(Decided), running.wait_for(Decided)
    finally:
        engine.close()
    assert {one.label, two.label} == {"rec-three-1", "rec-three-2"}
    assert sorted(r.path for r in fake.reset_requests()) == sorted(
        [f"/workflow/rec-three-1/runs/{first}/reset", f"/workflow/rec-three-2/runs/{second}/reset"]
    )
