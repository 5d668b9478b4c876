"""What tests observe and break at the transport: the log of received requests, and the
injected faults (canned responses, delays, dropped responses).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

JSON_TYPE = "application/json; charset=utf-8"
TEXT_TYPE = "text/plain; charset=utf-8"


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    json: Any  # the parsed JSON body, or None
    headers: dict[str, str]  # lower-case header names
    received_at: float  # time.monotonic() when the request line was read
    body: bytes = b""


class RequestLog:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._items: list[RecordedRequest] = []
        self._answered: list[tuple[str, str, float]] = []  # method, path, monotonic time

    def answered(self, method: str, path: str) -> None:
        """A (non-streamed) response was written out in full, now."""
        when = time.monotonic()
        with self._cond:
            self._answered.append((method, path, when))

    def answers(self) -> list[tuple[str, str, float]]:
        with self._cond:
            return list(self._answered)

    def record(self, request: RecordedRequest) -> None:
        with self._cond:
            self._items.append(request)
            self._cond.notify_all()

    def snapshot(self) -> list[RecordedRequest]:
        with self._cond:
            return list(self._items)

    def clear(self) -> None:
        with self._cond:
            self._items.clear()
            self._answered.clear()

    def wait_for(
        self, predicate: Callable[[RecordedRequest], bool], timeout: float
    ) -> RecordedRequest:
        """The first recorded request (old or new) matching `predicate`, waiting up to `timeout`."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for request in self._items:
                    if predicate(request):
                        return request
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no matching request within {timeout} s")
                self._cond.wait(remaining)


@dataclass(frozen=True)
class CannedResponse:
    status: int
    body: bytes
    content_type: str | None
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(
        cls,
        status: int,
        body: Any,
        content_type: str | None,
        headers: dict[str, str] | None = None,
    ) -> CannedResponse:
        if isinstance(body, bytes):
            raw, default_type = body, "application/octet-stream"
        elif isinstance(body, str):
            raw, default_type = body.encode(), TEXT_TYPE
        elif body is None:
            raw, default_type = b"", None
        else:
            raw, default_type = json.dumps(body, separators=(",", ":")).encode(), JSON_TYPE
        return cls(status, raw, content_type or default_type, tuple((headers or {}).items()))


FaultKind = Literal["respond", "delay", "drop"]


@dataclass
class _Rule:
    kind: FaultKind
    method: str
    path: re.Pattern[str]
    remaining: int | None  # None: forever
    response: CannedResponse | None = None
    seconds: float = 0.0


class Faults:
    """Fault rules; each matching request consumes one use of the first matching rule."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[_Rule] = []

    def add(self, rule: _Rule) -> None:
        with self._lock:
            self._rules.append(rule)

    def respond(
        self, method: str, path_regex: str, response: CannedResponse, times: int | None
    ) -> None:
        self.add(_Rule("respond", method.upper(), re.compile(path_regex), times, response))

    def delay(self, method: str, path_regex: str, seconds: float, times: int | None) -> None:
        self.add(_Rule("delay", method.upper(), re.compile(path_regex), times, seconds=seconds))

    def drop(self, method: str, path_regex: str, times: int | None) -> None:
        self.add(_Rule("drop", method.upper(), re.compile(path_regex), times))

    def take(self, kind: FaultKind, method: str, path: str) -> _Rule | None:
        with self._lock:
            for rule in self._rules:
                if rule.kind == kind and rule.method == method and rule.path.search(path):
                    if rule.remaining is not None:
                        rule.remaining -= 1
                        if rule.remaining <= 0:
                            self._rules.remove(rule)
                    return rule
        return None

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
