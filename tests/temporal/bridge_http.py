"""The Output API bridge's HTTP side: one stdlib `ThreadingHTTPServer` on loopback (HTTP/1.1
keep-alive) whose requests are logged, parsed as the API parses them and answered by the
bridge's routes; closing it hangs up every connection (tests/fakeapi/server.py's tracking).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.fakeapi.faults import RecordedRequest, RequestLog
from tests.fakeapi.model import ApiError
from tests.fakeapi.routes import Response, parse_json_body
from tests.fakeapi.server import TrackingHandler, TrackingServer
from tests.fakeapi.validation import MISSING

Handle = Callable[[str, str, dict[str, str], Any], Response]  # method, path, query, body
_DISCONNECTS = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError)


class Closing(Exception):
    """The bridge is closing under a request: hang up instead of answering."""


class BridgeServer(TrackingServer):
    """Serves `handle(method, path, query, body)` on `address`; every request is logged."""

    daemon_threads = False

    def __init__(
        self, address: tuple[str, int], handle: Handle, log: RequestLog, closing: threading.Event
    ) -> None:
        self.handle = handle
        self.log = log
        super().__init__(address, _Handler, closing)


class _Handler(TrackingHandler):
    server: BridgeServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def dispatch(self) -> None:
        received_at = time.monotonic()
        split = urlsplit(self.path)
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        length = int(self.headers.get("Content-Length") or "0")
        raw = self.rfile.read(length) if length else b""
        body: Any = MISSING
        error: ApiError | None = None
        if "json" in self.headers.get("Content-Type", "") and length:
            try:
                body = parse_json_body(raw)
            except ApiError as exc:
                error = exc
        self.server.log.record(
            RecordedRequest(
                method=self.command,
                path=split.path,
                query=query,
                json=None if body is MISSING else body,
                headers={k.lower(): v for k, v in self.headers.items()},
                received_at=received_at,
                body=raw,
            )
        )
        try:
            if error is not None:
                response = Response.json(error.status, error.body)
            else:
                response = self.server.handle(self.command, split.path, query, body)
        except Closing:
            self.close_connection = True
            return
        try:
            self.send_response(response.status)
            if response.content_type is not None:
                self.send_header("Content-Type", response.content_type)
            self.send_header("X-Request-ID", str(uuid.uuid4()))
            for name, value in response.headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            self.wfile.write(response.body)
        except _DISCONNECTS:
            self.close_connection = True
