"""Fault suite, filesystem side: odd paths, folders that come and go, OS limits."""

from __future__ import annotations

import errno
import shutil
import threading
from pathlib import Path

import pytest

from runner.config import load_config
from runner.daemon import Options
from runner.paths import Matcher
from runner.reports import Notice
from runner.watch import Watcher, WatchError
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
