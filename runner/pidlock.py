"""An exclusive advisory lock (flock) on an open file, with the holder's pid written inside, so
a process that finds it taken can say which process holds it. The lock ends with the holder's
descriptor: on release, or when the process dies however it dies.
"""

from __future__ import annotations

import contextlib
import fcntl
import os


class PidLock:
    """`fd`: an open, readable and writable descriptor (os.open's are not inherited by child
    processes, so a child never keeps the lock)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def acquire(self) -> bool:
        """Take it without waiting and write this pid in; False when another process holds it
        (the descriptor stays open: read `holder()`, then close it)."""
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        os.ftruncate(self.fd, 0)
        os.write(self.fd, f"{os.getpid()}\n".encode())
        return True

    def holder(self) -> str:
        """The pid the holder wrote ("" before it has written it)."""
        return os.pread(self.fd, 64, 0).decode(errors="replace").strip()

    def release(self) -> None:
        """Empty the file and close the descriptor, which lets go of the lock."""
        with contextlib.suppress(OSError):
            os.ftruncate(self.fd, 0)
        with contextlib.suppress(OSError):
            os.close(self.fd)
