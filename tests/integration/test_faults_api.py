"""Fault suite, API side: the daemon against a misbehaving API double. Nothing is lost:
every real edit ends in exactly one correct reset or a clear message."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from runner.config import ApiConfig
from runner.daemon import Options
from runner.output_api import OutputApi, resolve_settings
from runner.reports import Decided, Notice, RunFinished, StepDone
from tests.daemon_harness import Running
from tests.fakeapi import FakeOutputApi, Step

PROMPT = "prompts/polish@v1.prompt"
CONFIG = """\
debounce_ms: 30
workflows:
  - id: wf-1
    rules:
      - files: prompts/polish@v1.prompt
        rerun: polishDraft
      - files: prompts/draft@v1.prompt
        rerun: draftOutline
"""
NO_WAIT = Options(wait_worker=False, follow=False)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "prompts").mkdir()
    (tmp_path / PROMPT).write_text("polish v1\n")
    (tmp_path / "prompts/draft@v1.prompt").write_text("draft v1\n")
    config = tmp_path / "output-reset.yaml"
    config.write_text(CONFIG)
    return config


@pytest.fixture
def first_run(fake: FakeOutputApi) -> str:
    run_id = fake.start_run("probe_three", "wf-1", {"text": "a b"})
    fake.wait_closed("wf-1", run_id)
    return run_id


def engine(fake: FakeOutputApi, *, timeout_s: float = 5.0, token: str | None = None) -> OutputApi:
    env = {"OUTPUT_API_URL": fake.url}
    if token:
        env["OUTPUT_API_AUTH_TOKEN"] = token
    return OutputApi(resolve_settings(ApiConfig(), env), timeout_s=timeout_s, long_poll_ms=300)


def edit(project: Path, text: str, name: str = PROMPT) -> None:
    (project.parent / name).write_text(text)


def pinned_run(project: Path) -> str:
    state = json.loads((project.parent / ".output-reset" / "state.json").read_text())
    run_id: str = state["workflows"]["wf-1"]["run_id"]
    return run_id


def test_500s_are_retried_and_the_edit_applied_once(
    project: Path, fake: FakeOutputApi, first_run: str
) -> None:
    api = engine(fake)
    with Running(project, api, NO_WAIT) as running:
        fake.inject(
            "GET", r"/status$", status=500, body={"error": "Error", "message": "boom"}, times=2
        )
        edit(project, "polish v2\n")
        warning = running.wait_for(Notice)
        decided = running.wait_for(Decided, timeout=15)
    api.close()
    assert warning.message.endswith(
        "reset not done: the Output API answered GET /workflow/wf-1/status with 500 Internal "
        "Server Error: Error: boom; will keep retrying"
    )
    assert decided.outcome is not None
    assert len(fake.reset_requests()) == 1
    assert pinned_run(project) == decided.outcome.new_run_id


def test_a_response_slower_than_the_timeout_is_retried(
    project: Path, fake: FakeOutputApi, first_run: str
) -> None:
    api = engine(fake, timeout_s=0.3)
    with Running(project, api, NO_WAIT) as running:
        fake.inject_delay("GET", r"/status$", 1.0)
        edit(project, "polish v2\n")
        warning = running.wait_for(Notice)
        running.wait_for(Decided, timeout=15)
    api.close()
    assert "timed out" in warning.message
    assert len(fake.reset_requests()) == 1


def test_invalid_json_is_a_clear_retryable_error(
    project: Path, fake: FakeOutputApi, first_run: str
) -> None:
    api = engine(fake)
    with Running(project, api, NO_WAIT) as running:
        fake.inject(
            "GET", r"/status$", status=200, body="<html>proxy</html>", content_type="text/html"
        )
        edit(project, "polish v2\n")
        warning = running.wait_for(Notice)
        running.wait_for(Decided, timeout=15)
    api.close()
    assert "with something that is not JSON" in warning.message
    assert len(fake.reset_requests()) == 1


def test_plain_text_404_from_an_old_api_is_not_retried(
    project: Path, fake: FakeOutputApi, first_run: str
) -> None:
    api = engine(fake)
    with Running(project, api, NO_WAIT) as running:
        fake.inject("POST", r"/reset$", status=404, body="Not Found", content_type="text/plain")
        edit(project, "polish v2\n")
        error = running.wait_for(Notice)
        # The edit stays pending: the next edit carries it (earliest anchor wins).
        edit(project, "draft v2\n", "prompts/draft@v1.prompt")
        decided = running.wait_for(Decided)
    api.close()
    assert error.level == "error"
    assert error.message.endswith(
        f"the Output API answered POST /workflow/wf-1/runs/{first_run}/reset with 404 Not Found: "
        "Not Found; the change stays pending"
    )
    assert decided.decision.anchor == "extractTopics"
    assert set(decided.decision.files) == {PROMPT, "prompts/draft@v1.prompt"}
    assert len(fake.reset_requests()) == 2


def test_401_names_the_variable_and_the_daemon_keeps_going(project: Path, first_run: str) -> None:
    with FakeOutputApi(token="s3cret-value") as secured:
        api = engine(secured)
        with Running(project, api, NO_WAIT) as running:
            notice = running.wait_for(Notice)
        api.close()
    assert (
        notice.message.endswith(
            "set OUTPUT_API_AUTH_TOKEN to the API's OUTPUT_API_AUTH_TOKEN; the change stays pending"
        )
        or "set OUTPUT_API_AUTH_TOKEN" in notice.message
    )


def test_a_lost_reset_answer_is_recovered_without_a_second_post(
    project: Path, fake: FakeOutputApi, first_run: str
) -> None:
    api = engine(fake)
    with Running(project, api, NO_WAIT) as running:
        fake.drop_response("POST", r"/reset$")
        edit(project, "polish v2\n")
        decided = running.wait_for(Decided, timeout=15)
    api.close()
    assert decided.outcome is not None
    assert decided.outcome.recovered
    assert decided.outcome.new_run_id == fake.latest_run("wf-1")
    assert len(fake.reset_requests()) == 1
    assert pinned_run(project) == decided.outcome.new_run_id


def test_a_lost_reset_answer_is_looked_for_again_when_the_api_is_back_never_sent_twice(
    project: Path, fake: FakeOutputApi, first_run: str
) -> None:
    """The reset goes through, its answer is lost, and the API stops answering before the run
    it made can be looked for: not "it did not happen". Once the API answers again, the run
    is found by its token and pinned; the reset is never sent a second time."""
    api = engine(fake, timeout_s=2.0)
    with Running(project, api, NO_WAIT) as running:
        fake.inject_delay("POST", r"/reset$", 0.5)
        fake.drop_response("POST", r"/reset$")
        edit(project, "polish v2\n")
        fake.wait_for_request(lambda r: r.method == "POST" and r.path.endswith("/reset"))
        fake.inject(
            "GET", r"/workflow/wf-1/", status=503, body={"error": "Unavailable"}, times=None
        )
        said = running.wait_for(Notice, timeout=15)
        fake.clear_faults()
        decided = running.wait_for(Decided, timeout=30)
    api.close()
    assert "got no answer" in said.message
    assert "will look for" in said.message
    assert len(fake.reset_requests()) == 1
    assert decided.outcome is not None
    assert decided.outcome.recovered
    assert decided.outcome.new_run_id == fake.latest_run("wf-1") != first_run
    assert pinned_run(project) == decided.outcome.new_run_id


def test_another_run_running_under_the_id_is_not_terminated(
    project: Path, fake: FakeOutputApi, first_run: str
) -> None:
    gate = threading.Event()
    fake.define_workflow("slow", [Step("a", gate=gate)])
    api = engine(fake)
    try:
        with Running(project, api, NO_WAIT) as running:
            other = fake.start_run("slow", "wf-1", {})  # someone else, in another terminal
            edit(project, "polish v2\n")
            notice = running.wait_for(Notice)
    finally:
        gate.set()
        api.close()
    assert notice.message.startswith(f"wf-1: run {other} is running (started outside output-reset)")
    assert fake.reset_requests() == []
    fake.wait_closed("wf-1", other)


def test_the_api_dying_during_a_follow_is_survived(
    project: Path, fake: FakeOutputApi, first_run: str
) -> None:
    gate = threading.Event()
    fake.define_workflow(
        "probe_three", [Step("extractTopics"), Step("draftOutline"), Step("polishDraft", gate=gate)]
    )
    api = engine(fake)
    options = Options(wait_worker=False, follow=True)
    try:
        with Running(project, api, options) as running:
            edit(project, "polish v2\n")
            running.wait_for(Decided)
            fake.wait_for_long_poll()
            fake.set_down(True)
            notice = running.wait_for(Notice)
            fake.set_down(False)
            gate.set()
            step = running.wait_for(StepDone, timeout=15)
            finished = running.wait_for(RunFinished, timeout=15)
    finally:
        gate.set()
        api.close()
    assert notice.message.startswith("lost the run ")
    assert notice.message.endswith("; retrying")
    assert step.activity.step == "polishDraft"
    assert finished.status == "completed"


def test_a_long_poll_answer_lost_mid_follow_is_picked_up_again(
    project: Path, fake: FakeOutputApi, first_run: str
) -> None:
    gate = threading.Event()
    fake.define_workflow(
        "probe_three", [Step("extractTopics"), Step("draftOutline"), Step("polishDraft", gate=gate)]
    )
    api = engine(fake)
    try:
        with Running(project, api, Options(wait_worker=False, follow=True)) as running:
            edit(project, "polish v2\n")
            running.wait_for(Decided)
            fake.wait_for_long_poll()
            fake.drop_response("GET", r"/history$")  # the next answer never arrives
            gate.set()
            lost = running.wait_for(Notice, timeout=15)
            step = running.wait_for(StepDone, timeout=15)
            finished = running.wait_for(RunFinished, timeout=15)
    finally:
        gate.set()
        api.close()
    assert lost.message.startswith("lost the run ")
    assert "the connection closed without an answer" in lost.message
    assert step.activity.step == "polishDraft"
    assert finished.status == "completed"
