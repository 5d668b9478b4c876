"""The HTTP transport of the fake: a stdlib threading server speaking HTTP/1.1 keep-alive.

It records every request, applies injected faults, checks auth like the production API
(before everything else, plain-text 401), and writes `routes` responses, SSE as chunked frames.
Closing a server closes its open connections too, so no handler thread outlives it.
"""

from __future__ import annotations

import contextlib
import logging
import re
import socket
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.fakeapi.faults import CannedResponse, Faults, RecordedRequest, RequestLog
from tests.fakeapi.model import ApiError, Store
from tests.fakeapi.routes import (
    SSE_TYPE,
    EventStream,
    Request,
    Response,
    Routes,
    parse_json_body,
)
from tests.fakeapi.validation import MISSING

logger = logging.getLogger(__name__)

BODY_LIMIT = 2 * 1024 * 1024  # express.json({limit: '2mb'})
_REQUEST_ID_RE = re.compile(r"^[\w-]{1,128}$")
_NO_AUTH = ("/health", "/ready")
_DISCONNECTS = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError)


class App:
    """What every server instance shares: routes, faults, request log, auth token."""

    def __init__(
        self, store: Store, routes: Routes, faults: Faults, log: RequestLog, token: str | None
    ) -> None:
        self.store = store
        self.routes = routes
        self.faults = faults
        self.log = log
        self.token = token

    def authorized(self, header: str | None) -> bool:
        if self.token is None:
            return True
        # The API strips a leading "Basic " and compares the rest verbatim
        # (docs/output-api.md §1.2).
        return header is not None and re.sub(r"^Basic\s", "", header) == self.token


class TrackingServer(ThreadingHTTPServer):
    """A threading HTTP/1.1 server that knows its open connections, so that closing it can hang
    them all up: a keep-alive handler thread would otherwise wait for its next request forever.
    Also used by the Output API bridge on Temporal (tests/temporal/output_bridge.py)."""

    block_on_close = True  # server_close() joins the handler threads

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        closing: threading.Event,
    ) -> None:
        self.closing = closing
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, handler)

    def track(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(connection)
        if self.closing.is_set():
            _hang_up(connection)

    def untrack(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(connection)

    def hang_up_all(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            _hang_up(connection)


class TrackingHandler(BaseHTTPRequestHandler):
    """Keep-alive without Nagle's delay, registered with its TrackingServer while open; every
    method (GET, POST, PATCH, PUT, DELETE) goes to `dispatch`."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = (
        True  # without it keep-alive responses wait ~40 ms (measured on loopback)
    )
    server: TrackingServer

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection)

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        self.server.untrack(self.connection)

    def dispatch(self) -> None:
        raise NotImplementedError

    def do_GET(self) -> None:
        self.dispatch()

    def do_POST(self) -> None:
        self.dispatch()

    def do_PATCH(self) -> None:
        self.dispatch()

    def do_PUT(self) -> None:
        self.dispatch()

    def do_DELETE(self) -> None:
        self.dispatch()


class _HttpServer(TrackingServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], app: App) -> None:
        self.app = app
        super().__init__(address, _Handler, threading.Event())

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError):
            return  # the client went away (a killed process, a closed client): that is all
        logger.exception("fake API connection from %s failed", client_address)


def _hang_up(connection: socket.socket) -> None:
    with contextlib.suppress(OSError):
        connection.shutdown(socket.SHUT_RDWR)


class ApiServer:
    """One listening socket on 127.0.0.1 with its accept thread."""

    def __init__(self, app: App, port: int = 0) -> None:
        self._app = app
        self._server = _HttpServer(("127.0.0.1", port), app)
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fakeapi-http-{self.port}",
            daemon=True,
        )

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        """Stop accepting, hang up every connection, wait for all handler threads."""
        self._server.closing.set()
        self._app.store.notify()  # wake long-polls and streams so they see `closing`
        self._server.shutdown()
        self._server.hang_up_all()
        self._server.server_close()
        self._thread.join(timeout=10)


class _Handler(TrackingHandler):
    server: _HttpServer

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("fake API: " + format, *args)

    def do_OPTIONS(self) -> None:  # the CORS preflight
        self.dispatch()

    # --- one request -----------------------------------------------------------------------

    def _aborted(self) -> bool:
        return self.server.closing.is_set() or self.server.app.store.stopping

    def dispatch(self) -> None:
        app = self.server.app
        received_at = time.monotonic()
        split = urlsplit(self.path)
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]},{value}" if key in headers else value
        length = int(headers.get("content-length", "0") or "0")
        raw = self.rfile.read(length) if length else b""
        body: Any = MISSING
        error: ApiError | None = None
        if len(raw) > BODY_LIMIT:
            error = ApiError(413, "PayloadTooLargeError", "request entity too large")
        elif "json" in headers.get("content-type", "") and "content-length" in headers:
            try:
                body = parse_json_body(raw)
            except ApiError as exc:
                error = exc
        app.log.record(
            RecordedRequest(
                method=self.command,
                path=split.path,
                query=query,
                json=None if body is MISSING else body,
                headers=headers,
                received_at=received_at,
                body=raw,
            )
        )
        request_id = headers.get("x-request-id") or headers.get("rndr-id") or ""
        if not _REQUEST_ID_RE.match(request_id):
            request_id = str(uuid.uuid4())

        delay = app.faults.take("delay", self.command, split.path)
        if delay is not None:
            self.server.closing.wait(delay.seconds)
        canned = app.faults.take("respond", self.command, split.path)
        if canned is not None and canned.response is not None:
            self._write_canned(canned.response, request_id)
            return
        if split.path not in _NO_AUTH and not app.authorized(self.headers.get("Authorization")):
            self._write(Response.text(401, "Unauthorized"), request_id)
            return
        if error is not None:
            result: Response | EventStream = Response.json(error.status, error.body)
        else:
            request = Request(self.command, split.path, query, headers, body, self._aborted)
            result = app.routes.handle(request)
        if app.faults.take("drop", self.command, split.path) is not None:
            # Processed for real (e.g. the reset happened), but the client never hears back.
            self.close_connection = True
            _hang_up(self.connection)
            return
        if isinstance(result, EventStream):
            self._write_stream(result, request_id)
        else:
            self._write(result, request_id)

    def _send_head(self, status: int, content_type: str | None, request_id: str) -> None:
        self.send_response(status)
        if content_type is not None:
            self.send_header("Content-Type", content_type)
        self.send_header("X-Request-ID", request_id)
        self.send_header("Access-Control-Allow-Origin", "*")

    def _write(self, response: Response, request_id: str) -> None:
        try:
            self._send_head(response.status, response.content_type, request_id)
            for name, value in response.headers:
                self.send_header(name, value)
            if response.status != 204:
                self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if response.status != 204:
                self.wfile.write(response.body)
            self.wfile.flush()
        except _DISCONNECTS:
            self.close_connection = True
        else:
            self.server.app.log.answered(self.command, urlsplit(self.path).path)

    def _write_canned(self, canned: CannedResponse, request_id: str) -> None:
        self._write(
            Response(canned.status, canned.body, canned.content_type, list(canned.headers)),
            request_id,
        )

    def _write_stream(self, stream: EventStream, request_id: str) -> None:
        def write_chunk(data: bytes) -> None:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")

        try:
            self._send_head(200, SSE_TYPE, request_id)
            self.send_header("Cache-Control", "no-cache, no-transform")
            self.send_header("Connection", "keep-alive")
            self.send_header("X-Accel-Buffering", "no")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.server.app.routes.stream(stream, write_chunk, self._aborted)
            if self._aborted():
                self.close_connection = True
                return
            self.wfile.write(b"0\r\n\r\n")
        except _DISCONNECTS:
            self.close_connection = True
