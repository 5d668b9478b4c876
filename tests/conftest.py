"""Suite-wide guards: no test may leave a thread running behind it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 5.0
    leaked: list[threading.Thread] = []
    while time.monotonic() < deadline:
        leaked = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        if not leaked:
            return
        leaked[0].join(timeout=0.05)
    pytest.fail(f"threads left running: {[f'{t.name} ({type(t).__name__})' for t in leaked]}")
