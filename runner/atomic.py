"""Atomic file writes (adapter layer, low): a temp file beside the target, then a rename, so a
crash leaves the old file or the new one, never half of one.

The state folder, the iteration store, `restore` and `save-datasets` write through here.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import threading
from pathlib import Path


def write_atomically(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Replace `path` with `data`. `durable` also survives a power cut (fsync of the file and
    its folder). An existing file keeps its permission bits, and a symlink stays a link: its
    target is what is written. A file that may not be written (no write bit for anyone, as
    `chmod a-w` leaves it, or none for us) is refused as an editor refuses it, although the
    rename would go through. Raises OSError; the temp file is gone by then.

    The temp file is `.<name>.<pid>.<thread>.tmp`, a name the watcher ignores (`*.tmp`), one
    per writer: two threads keeping one blob at once must not share it (the second truncated
    the first's, whose rename then failed)."""
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    try:
        mode: int | None = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        mode = None
    if mode is not None and not _may_write(target, mode):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with tmp.open("wb") as handle:
            handle.write(data)
            handle.flush()
            if mode is not None:
                os.fchmod(handle.fileno(), mode)
            if durable:
                os.fsync(handle.fileno())
        os.replace(tmp, target)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    if durable:
        fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def check_writable(path: Path) -> None:
    """PermissionError when `write_atomically` would refuse `path` (a file there that may
    not be written); OSError when it cannot tell. A file not there yet may be written."""
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        return
    if not _may_write(target, mode):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))


def _may_write(target: Path, mode: int) -> bool:
    return bool(mode & 0o222) and os.access(target, os.W_OK)
