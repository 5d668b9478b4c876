"""`watch` as a real process with entries whose workflow never ran: said once, an edit to one of
their files acknowledged, and the first run pinned when it appears."""

from __future__ import annotations

from pathlib import Path

from tests.cli_process import Cli
from tests.fakeapi import FakeOutputApi, Step

IDLE = ("idle_a", "idle_b", "idle_c")


def project(root: Path, fake: FakeOutputApi) -> Path:
    prompts = root / "prompts"
    prompts.mkdir()
    for name in ("draft", *IDLE):
        (prompts / f"{name}.prompt").write_text(f"{name} v1\n")
    idle = "".join(
        f"  - type: {name}\n    rules:\n      - files: prompts/{name}.prompt\n"
        f"        rerun: {name}_write\n"
        for name in IDLE
    )
    (root / "output-reset.yaml").write_text(
        f"api:\n  url: {fake.url}\ndebounce_ms: 50\nworkflows:\n"
        "  - type: probe_three\n    rules:\n      - files: prompts/draft.prompt\n"
        "        rerun: draftOutline\n" + idle
    )
    return root


def test_watch_says_once_which_wait_and_pins_a_first_run_with_the_edit_kept(
    tmp_path: Path, fake: FakeOutputApi
) -> None:
    for name in IDLE:
        fake.define_workflow(name, [Step(f"{name}_read"), Step(f"{name}_write")])
    first = fake.start_run("probe_three", "probe-1", {"text": "a b"})
    fake.wait_closed("probe-1", first)
    root = project(tmp_path, fake)
    cli = Cli("watch", "--no-wait-worker", cwd=root)
    try:
        cli.expect("watching 4 files for 4 workflows;")
        cli.expect(
            "no run yet of idle_a, idle_b, idle_c: each is pinned when its first run appears "
            "(start one with `npx output workflow run <type>`)"
        )
        (root / "prompts" / "idle_b.prompt").write_text("idle_b v2\n")
        cli.expect(
            "latest idle_b: prompts/idle_b.prompt changed; no run is pinned yet, so the change "
            "waits until one is"
        )
        run_id = fake.start_run("idle_b", "idle-b-1", {"text": "c d"})
        fake.wait_closed("idle-b-1", run_id)
        # Looked for every 10 s (FIRST_RUN_POLL_S).
        pinned = cli.expect("latest idle_b: run ", timeout=30)
        decided = cli.expect("latest idle_b: prompts/idle_b.prompt changed: ")
        cli.expect("completed after")
    finally:
        code, _ = cli.stop()
    assert code == 0, cli.errors
    assert pinned.endswith(f"latest idle_b: run {run_id} (latest run, completed)")
    # The edit was kept, not dropped: it goes to the first run once there is one. (This run
    # started after the edit, so it already ran the new prompt and the reset repeats it.)
    new_run = fake.latest_run("idle-b-1")
    assert decided.endswith(f"reset after idle_b_read; new run {new_run}")
    assert [r.path for r in fake.reset_requests()] == [f"/workflow/idle-b-1/runs/{run_id}/reset"]
    waiting = [line for line in cli.output if "no run yet" in line]
    assert len(waiting) == 1
    assert sum("no run is pinned yet" in line for line in cli.output) == 1
    assert [line for line in cli.output if "idle_a" in line or "idle_c" in line] == waiting
