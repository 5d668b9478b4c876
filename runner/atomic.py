"""Atomic file writes (adapter layer, low): a temp file beside the target, then a rename, so a
crash leaves the old file or the new one, never half of one.

The state folder, the iteration store, `restore` and `save-datasets` write through here.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path


def write_atomically(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Replace `path` with `data`. `durable` also survives a power cut (fsync of the file and
    its folder). An existing file keeps its permission bits, and a symlink stays a link: its
    target is what is written. Raises OSError; the temp file is gone by then.

    The temp file is `.<name>.<pid>.tmp`, a name the watcher ignores (`*.tmp`)."""
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    try:
        mode: int | None = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        mode = None
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
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
