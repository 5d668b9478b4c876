"""The small file helpers the state folder, the iteration store and the dataset writer share:
atomic writes, the advisory lock, reading a regular file, and a diff of two values."""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from pathlib import Path

import pytest

from runner.atomic import write_atomically
from runner.compare import MISSING, diff_lines
from runner.errors import StateError
from runner.paths import content, digest
from runner.state import file_lock


def test_an_atomic_write_replaces_the_file_and_keeps_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "draft.prompt"
    target.write_text("v1\n")
    target.chmod(0o640)
    write_atomically(target, b"v2\n")
    assert target.read_bytes() == b"v2\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["draft.prompt"]


def test_a_read_only_file_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    # The rename went through a file's read-only bits (even as root, a plain write is not
    # refused): save-datasets and restore overwrote a file the user had made read-only.
    target = tmp_path / "cases.yml"
    target.write_text("v1\n")
    target.chmod(0o444)
    with pytest.raises(PermissionError):
        write_atomically(target, b"v2\n")
    assert target.read_text() == "v1\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cases.yml"]


def test_an_atomic_write_through_a_symlink_writes_its_target(tmp_path: Path) -> None:
    (tmp_path / "real.prompt").write_text("v1\n")
    link = tmp_path / "link.prompt"
    link.symlink_to("real.prompt")
    write_atomically(link, b"v2\n", durable=False)
    assert link.is_symlink()
    assert (tmp_path / "real.prompt").read_text() == "v2\n"


def test_two_threads_writing_one_file_at_once_both_succeed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two iterations recorded at once keep the same blob (equal outputs, equal verdicts): the
    # writers shared one temp name (`.<name>.<pid>.tmp`), the second truncated the first's,
    # and the first's rename then found none: "the iteration was not kept".
    target = tmp_path / "blob"
    first_in_fsync, go_on = threading.Event(), threading.Event()
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        if threading.current_thread().name == "first" and not first_in_fsync.is_set():
            first_in_fsync.set()
            assert go_on.wait(5)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    failed: list[BaseException] = []

    def first() -> None:
        try:
            write_atomically(target, b"same bytes")
        except OSError as exc:
            failed.append(exc)

    thread = threading.Thread(target=first, name="first")
    thread.start()
    try:
        assert first_in_fsync.wait(5)
        write_atomically(target, b"same bytes")  # the second writer, meanwhile
    finally:
        go_on.set()
        thread.join(5)
    assert failed == []
    assert target.read_bytes() == b"same bytes"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blob"]


def test_a_failed_atomic_write_leaves_no_temp_file(tmp_path: Path) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "draft.prompt").mkdir()  # a folder where the file should go: rename fails
    with pytest.raises(IsADirectoryError):
        write_atomically(folder / "draft.prompt", b"v2\n")
    assert [p.name for p in folder.iterdir()] == ["draft.prompt"]


def test_content_is_what_digest_hashes_and_only_of_a_regular_file(tmp_path: Path) -> None:
    path = tmp_path / "a.prompt"
    path.write_bytes(b"caf\xc3\xa9\n")
    assert content(path) == b"caf\xc3\xa9\n"
    assert digest(path) == hashlib.blake2b(b"caf\xc3\xa9\n").hexdigest()[:32]
    os.mkfifo(tmp_path / "fifo")
    assert content(tmp_path / "fifo") is None  # and it did not block
    assert content(tmp_path / "gone") is None


def test_a_second_holder_of_the_lock_waits_then_gives_up(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    with file_lock(path, 1.0, "busy"), pytest.raises(StateError) as caught:  # noqa: SIM117
        with file_lock(path, 0.1, "another one holds it"):
            pass
    assert str(caught.value) == "another one holds it"
    with file_lock(path, 0.1, "busy"):
        pass  # free again


def test_diff_lines_of_two_values() -> None:
    assert diff_lines("a\nb\n", "a\nc\n") == ("@@ -1,2 +1,2 @@", " a", "-b", "+c")
    assert diff_lines({"x": 1}, {"x": 1}) == ()
    assert diff_lines(MISSING, "new") == ("@@ -0,0 +1 @@", "+new")
