"""Fault suite, filesystem side: odd paths, folders that come and go, OS limits."""

from __future__ import annotations

import contextlib
import errno
import os
import queue
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from runner.auditlog import AuditLog
from runner.config import load_config
from runner.daemon import Options
from runner.errors import WatchError
from runner.paths import Matcher
from runner.reports import Changed, Notice
from runner.watch import Watcher
from runner.wording import decision_line
from tests.daemon_harness import Running
from tests.engines import RecordingEngine, ResetCall

FAST = Options(wait_worker=False, follow=False)


def project(root: Path, prompts: str = "prompts") -> Path:
    folder = root / prompts
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "polish@v1.prompt").write_text("v1\n")
    (folder / "draft@v1.prompt").write_text("v1\n")
    config = root / "output-reset.yaml"
    config.write_text(
        "debounce_ms: 50\nworkflows:\n  - id: rec-three-1\n    rules:\n"
        f"      - files: '{prompts}/polish@v1.prompt'\n        rerun: polishDraft\n"
        f"      - files: '{prompts}/draft@v1.prompt'\n        rerun: draftOutline\n"
    )
    return config


def next_reset(engine: RecordingEngine, timeout: float = 5.0) -> ResetCall:
    return engine.resets.get(timeout=timeout)


def test_paths_with_spaces_and_non_ascii_names(tmp_path: Path) -> None:
    config = project(tmp_path, "prompts/été 2026/épreuves")
    engine = RecordingEngine()
    with Running(config, engine, FAST):
        (tmp_path / "prompts/été 2026/épreuves/polish@v1.prompt").write_text("v2\n")
        call = next_reset(engine)
    assert call.step == "draftOutline"
    assert "prompts/été 2026/épreuves/polish@v1.prompt changed" in call.reason


def test_the_watched_folder_deleted_and_recreated(tmp_path: Path) -> None:
    config = project(tmp_path)
    engine = RecordingEngine()
    with Running(config, engine, FAST):
        shutil.rmtree(tmp_path / "prompts")
        deleted = next_reset(engine)  # both files are gone: one burst, one reset
        (tmp_path / "prompts").mkdir()
        (tmp_path / "prompts/polish@v1.prompt").write_text("back, and different\n")
        back = next_reset(engine)
        (tmp_path / "prompts/polish@v1.prompt").write_text("edited again\n")
        again = next_reset(engine)
    assert deleted.step == "extractTopics"  # draft and polish both changed: earliest anchor
    assert back.step == "draftOutline"
    assert again.step == "draftOutline"


def test_a_file_name_that_is_not_utf8_is_shown_escaped_and_logged(tmp_path: Path) -> None:
    config = project(tmp_path)
    config.write_text(
        config.read_text() + "      - files: '**/*.prompt'\n        rerun: polishDraft\n"
    )
    engine = RecordingEngine()
    with Running(config, engine, FAST) as running:
        with open(os.fsencode(tmp_path / "prompts") + b"/caf\xe9.prompt", "wb") as latin1:
            latin1.write(b"new\n")
        call = next_reset(engine)
        decided = running.decision()
    assert call.reason.startswith("output-reset: prompts/caf\\udce9.prompt changed (rerun ")
    line = decision_line(decided.label, decided.decision, decided.outcome)
    assert line.startswith("rec-three-1: prompts/caf\\udce9.prompt changed: reset after ")
    (logged,) = AuditLog(tmp_path / ".output-reset").read()
    assert logged["files"] == ["prompts/caf\udce9.prompt"]  # what os.fsdecode gives back


def test_a_file_replaced_by_a_folder_is_a_deletion(tmp_path: Path) -> None:
    config = project(tmp_path)
    engine = RecordingEngine()
    with Running(config, engine, FAST):
        target = tmp_path / "prompts/polish@v1.prompt"
        target.unlink()
        target.mkdir()
        call = next_reset(engine)
        target.rmdir()
        target.write_text("a file again\n")
        again = next_reset(engine)
    assert call.step == again.step == "draftOutline"


def test_a_symlinked_prompt_folder(tmp_path: Path) -> None:
    real = tmp_path / "elsewhere"
    real.mkdir()
    (real / "polish@v1.prompt").write_text("v1\n")
    (real / "draft@v1.prompt").write_text("v1\n")
    root = tmp_path / "project"
    root.mkdir()
    (root / "prompts").symlink_to(real, target_is_directory=True)
    config = project(root)
    engine = RecordingEngine()
    with Running(config, engine, FAST):
        (real / "polish@v1.prompt").write_text("edited through the link target\n")
        call = next_reset(engine)
    assert call.step == "draftOutline"


def test_an_unreadable_file_keeps_its_last_content_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Root reads every file, so the permission error is injected at the one place that reads.
    config = project(tmp_path)
    engine = RecordingEngine()
    import runner.paths

    real_digest = runner.paths.digest

    def digest(path: Path) -> str | None:
        if path.name == "polish@v1.prompt" and path.read_text() == "locked\n":
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_digest(path)

    monkeypatch.setattr(runner.paths, "digest", digest)
    with Running(config, engine, FAST) as running:
        (tmp_path / "prompts/polish@v1.prompt").write_text("locked\n")
        notice = running.wait_for(Notice)
        (tmp_path / "prompts/polish@v1.prompt").write_text("readable again\n")
        call = next_reset(engine)
    assert notice.message == (
        "cannot read prompts/polish@v1.prompt (permission denied); keeping its last known content"
    )
    assert call.step == "draftOutline"


def test_a_fifo_matching_a_rule_is_ignored_with_one_warning(tmp_path: Path) -> None:
    config = project(tmp_path)
    config.write_text(
        config.read_text() + "      - files: 'prompts/*.prompt'\n        rerun: polishDraft\n"
    )
    fifo = tmp_path / "prompts/pipe.prompt"
    os.mkfifo(fifo)
    engine = RecordingEngine()
    running = Running(config, engine, FAST)
    try:
        with running:
            notice = running.wait_for(Notice)
            (tmp_path / "prompts/sub").mkdir()  # every mapped file is looked at again
            (tmp_path / "prompts/polish@v1.prompt").write_text("v2\n")
            call = next_reset(engine)
            running.decision()
    finally:
        unblock(fifo)  # the code before the fix hung opening it
        running.daemon.stop()
        running.thread.join(timeout=5)
    assert notice.message == "prompts/pipe.prompt is a FIFO, not a regular file; it is ignored"
    assert [n for n in running.seen if isinstance(n, Notice)] == [notice]
    assert call.step == "draftOutline"


def test_a_link_that_loops_in_the_project_folder_is_passed_over(tmp_path: Path) -> None:
    # The project folder is watched flat and listed for mapped files: a link there that
    # loops made the listing raise ELOOP, and watch ended on a traceback (exit 3).
    config = project(tmp_path)
    (tmp_path / "loop").symlink_to("loop")
    engine = RecordingEngine()
    with Running(config, engine, FAST):
        (tmp_path / "prompts/polish@v1.prompt").write_text("v2\n")
        call = next_reset(engine)
    assert call.step == "draftOutline"


def unblock(fifo: Path) -> None:
    """Let a reader blocked opening `fifo` go on (it reads an empty file)."""
    with contextlib.suppress(OSError):
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))


def test_polling_works_where_inotify_cannot(tmp_path: Path) -> None:
    config = project(tmp_path)
    engine = RecordingEngine()
    with Running(config, engine, Options(wait_worker=False, follow=False, poll=True)):
        (tmp_path / "prompts/polish@v1.prompt").write_text("v2\n")
        call = next_reset(engine, timeout=10)
    assert call.step == "draftOutline"


def test_the_inotify_watch_limit_gives_the_sysctl_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Lowering the real limit would break other processes on the machine: the kernel's
    # ENOSPC answer is injected where watchdog adds a watch instead.
    from watchdog.observers import inotify_c

    def no_space(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "inotify watch limit reached")

    monkeypatch.setattr(inotify_c.InotifyFD, "_get_or_create_watch", no_space)
    before = set(threading.enumerate())
    config = project(tmp_path)
    matcher = Matcher(load_config(config))
    watcher = Watcher(
        matcher.watch_roots(),
        lambda p, d: None,
        skip_dir=matcher.skip_dir,
        on_overflow=lambda: None,
    )
    try:
        with pytest.raises(WatchError) as caught:
            watcher.start()
    finally:
        # On this failure path watchdog leaves its inotify reader thread behind (the process
        # exits on a WatchError, so only a test notices): stop it here.
        for thread in set(threading.enumerate()) - before:
            if isinstance(thread, inotify_c.InotifyFD):
                thread.stop()
                thread.join(timeout=5)
    limit = Path("/proc/sys/fs/inotify/max_user_watches").read_text().strip()
    assert str(caught.value) == (
        f"the inotify watch limit is reached (fs.inotify.max_user_watches = {limit}); raise it "
        "with `sudo sysctl fs.inotify.max_user_watches=524288`, or run with --poll"
    )


# -- folders that go and come back ----------------------------------------------------------

CLAIMS = "src/workflows/claims/prompts/score_claims@v1.prompt"


def git_project(root: Path) -> Path:
    """A project under git with a node_modules/ beside src/ (so the root is watched split
    around it) and a rule that may match at any depth."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    (root / CLAIMS).parent.mkdir(parents=True)
    (root / CLAIMS).write_text("committed\n")
    (root / "node_modules" / "left-pad").mkdir(parents=True)
    (root / "node_modules" / "left-pad" / "index.js").write_text("module.exports = 1;\n")
    (root / ".gitignore").write_text("node_modules/\n.output-reset/\n")
    config = root / "output-reset.yaml"
    config.write_text(
        "debounce_ms: 300\nworkflows:\n  - id: rec-three-1\n    rules:\n"
        "      - files: '**/score_claims@v1.prompt'\n        rerun: polishDraft\n"
    )
    shell("git init -q -b main && git add -A && git commit -q -m init", root)
    return config


def shell(command: str, cwd: Path) -> None:
    """One shell command: its steps happen within one burst of file events."""
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t"}
    subprocess.run(
        command,
        shell=True,
        cwd=cwd,
        check=True,
        capture_output=True,
        env={**os.environ, **env, "GIT_COMMITTER_EMAIL": "t@t"},
    )


def test_a_folder_deleted_and_checked_out_again_in_one_burst_stays_watched(
    tmp_path: Path,
) -> None:
    config = git_project(tmp_path)
    (tmp_path / CLAIMS).write_text("uncommitted edit\n")  # the checkout undoes it: a change
    engine = RecordingEngine()
    with Running(config, engine, FAST) as running:
        shell("rm -rf src && git checkout -- src", tmp_path)
        checkout = next_reset(engine)
        (tmp_path / CLAIMS).write_text("edited after the checkout\n")
        first = next_reset(engine)
        (tmp_path / CLAIMS).write_text("edited again\n")
        second = next_reset(engine)
        assert not [n for n in running.seen if isinstance(n, Notice)]
    assert checkout.step == first.step == second.step == "draftOutline"
    assert second.run_id == first.new_run_id


def test_a_parent_folder_renamed_away_and_back_stays_watched(tmp_path: Path) -> None:
    config = git_project(tmp_path)
    engine = RecordingEngine()
    with Running(config, engine, FAST):
        shell("mv src src.bak && mv src.bak src", tmp_path)
        (tmp_path / CLAIMS).write_text("edited after the round trip\n")
        first = next_reset(engine)
        (tmp_path / CLAIMS).write_text("edited again\n")
        second = next_reset(engine)
    assert first.step == second.step == "draftOutline"


def test_a_new_folder_beside_an_ignored_one_is_watched(tmp_path: Path) -> None:
    config = git_project(tmp_path)
    engine = RecordingEngine()
    late = tmp_path / "lib/new/score_claims@v1.prompt"
    with Running(config, engine, FAST):
        shell("mkdir -p lib/new && echo created > lib/new/score_claims@v1.prompt", tmp_path)
        created = next_reset(engine)
        late.write_text("edited in the new folder\n")
        edited = next_reset(engine)
    assert "lib/new/score_claims@v1.prompt changed" in created.reason
    assert "lib/new/score_claims@v1.prompt changed" in edited.reason


@pytest.mark.parametrize("bursts", [1, 2])
def test_a_watched_folder_replaced_by_a_symlink_to_another_folder(
    tmp_path: Path, bursts: int
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "polish@v1.prompt").write_text("the linked copy\n")
    (elsewhere / "draft@v1.prompt").write_text("v1\n")
    root = tmp_path / "project"
    config = project(root)
    engine = RecordingEngine()
    with Running(config, engine, FAST) as running:
        shutil.rmtree(root / "prompts")
        if bursts == 2:
            running.wait_for(Changed)  # both prompts are gone: dealt with on its own
            next_reset(engine)
        (root / "prompts").symlink_to(elsewhere, target_is_directory=True)
        linked = next_reset(engine)
        (elsewhere / "polish@v1.prompt").write_text("edited through the link\n")
        edited = next_reset(engine)
        (root / "prompts").unlink()
        unlinked = next_reset(engine)
    assert unlinked.step == "extractTopics"  # both prompts are gone with the link
    # In one burst only polish differs; after the deletion was dealt with, both came back.
    assert linked.step == ("draftOutline" if bursts == 1 else "extractTopics")
    assert edited.step == "draftOutline"
    assert "prompts/polish@v1.prompt changed" in edited.reason


def test_watchdog_stops_an_emitter_whose_root_is_deleted_and_hands_it_back(
    tmp_path: Path,
) -> None:
    # What runner/watch.py works around (watchdog 7.1, inotify): the emitter of a deleted
    # root stops itself but stays scheduled, so scheduling the re-created folder returns the
    # dead watch. Only unscheduling it first gives a live one.
    from watchdog.events import FileSystemEvent, FileSystemEventHandler
    from watchdog.observers import Observer

    events: queue.Queue[str] = queue.Queue()

    class Handler(FileSystemEventHandler):
        def on_any_event(self, event: FileSystemEvent) -> None:
            events.put(f"{event.event_type} {os.fsdecode(event.src_path)}")

    folder = tmp_path / "src"
    folder.mkdir()
    handler = Handler()
    observer = Observer()
    watch = observer.schedule(handler, str(folder), recursive=True)
    observer.start()
    try:
        (emitter,) = observer.emitters
        shutil.rmtree(folder)
        emitter.join(timeout=5)
        assert not emitter.is_alive()
        assert f"deleted {folder}" in drain(events, f"deleted {folder}")
        folder.mkdir()
        again = observer.schedule(handler, str(folder), recursive=True)
        assert again == watch
        assert observer.emitters == {emitter}  # the dead one: nothing will be reported
        observer.unschedule(again)
        observer.schedule(handler, str(folder), recursive=True)
        (folder / "a.prompt").write_text("seen\n")
        assert f"created {folder / 'a.prompt'}" in drain(events, f"created {folder / 'a.prompt'}")
    finally:
        observer.stop()
        observer.join(timeout=5)


def drain(events: queue.Queue[str], until: str, timeout: float = 5.0) -> list[str]:
    """The events up to the first that is `until` (or all of them, after `timeout`)."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while until not in seen and (left := deadline - time.monotonic()) > 0:
        with contextlib.suppress(queue.Empty):
            seen.append(events.get(timeout=left))
    return seen
