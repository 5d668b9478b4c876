"""The API's endpoints over the in-memory model: request in, response (or SSE stream) out.

Transport concerns (sockets, auth, faults, chunked writing) live in `server.py`; this module owns
what each route answers, with the status codes, bodies and headers of the recordings.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import secrets
import string
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from tests.fakeapi import events as ev
from tests.fakeapi.evals import catalog_entry
from tests.fakeapi.faults import JSON_TYPE, TEXT_TYPE
from tests.fakeapi.inputs import result_error
from tests.fakeapi.model import (
    ApiError,
    Run,
    Store,
    execution_not_found_message,
    workflow_not_found,
)
from tests.fakeapi.validation import Issues

logger = logging.getLogger(__name__)

SSE_TYPE = "text/event-stream; charset=utf-8"
SSE_PAGE_BATCHES = 50
DEFAULT_PAGE_SIZE = 20
SUNSET = "Thu, 16 Jul 2026 00:00:00 GMT"
_NANOID_ALPHABET = string.ascii_letters + string.digits + "_-"


def catalog_not_available() -> ApiError:
    """start or run on a catalog whose workflow does not run (e-13); Retry-After: 3."""
    return ApiError(
        503,
        "CatalogNotAvailableError",
        "Catalog workflow is unavailable. This is likely due the worker not running or still "
        "starting. Retry in a few seconds.",
        headers={"Retry-After": "3"},
    )


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names; repeated headers joined with ","
    body: Any  # parsed JSON, or MISSING
    aborted: Callable[[], bool]


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str | None = JSON_TYPE
    headers: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def json(cls, status: int, value: Any) -> Response:
        return cls(status, ev.compact_json(value).encode())

    @classmethod
    def text(cls, status: int, text: str) -> Response:
        return cls(status, text.encode(), TEXT_TYPE)


@dataclass
class EventStream:
    run: Run
    include_payloads: bool
    last_event_id: int


Handler = Callable[..., Response | EventStream]


@dataclass(frozen=True)
class _Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    successor: str | None = None  # deprecated route: its replacement, for the Link header


def _route(method: str, path: str, handler: Handler, successor: str | None = None) -> _Route:
    pattern = path.replace("{wid}", "(?P<wid>[^/]+)").replace("{rid}", "(?P<rid>[^/]+)")
    pattern = pattern.replace("{cid}", "(?P<cid>[^/]+)")
    return _Route(method, re.compile(f"^{pattern}$"), handler, successor)


class Routes:
    def __init__(self, store: Store, *, long_poll_cap_ms: int, keepalive_s: float) -> None:
        self._store = store
        self._long_poll_cap_ms = long_poll_cap_ms
        self._keepalive_s = keepalive_s
        self.waiting = 0  # long-polls and streams blocked on the store; guarded by store.cond
        w, r = "/workflow/{wid}", "/workflow/{wid}/runs/{rid}"
        self._routes = [
            _route("GET", "/health", self._health),
            _route("GET", "/ready", self._health),
            _route("POST", "/heartbeat", self._heartbeat),
            _route("GET", "/workflow/runs", self._runs),
            _route("GET", "/workflow/catalog", self._catalog),
            _route("GET", "/workflow/catalog/{cid}", self._catalog),
            _route("POST", "/workflow/start", self._start),
            _route("POST", "/workflow/run", self._run_sync),
            *(
                route
                for base in (r, w)
                for route in (
                    _route("GET", f"{base}/status", self._status),
                    _route("GET", f"{base}/history", self._history),
                    _route("GET", f"{base}/history/stream", self._stream),
                    _route("GET", f"{base}/input", self._input),
                    _route("GET", f"{base}/result", self._result),
                    _route("GET", f"{base}/trace-log", self._trace_log),
                )
            ),
            _route("POST", f"{r}/reset", self._reset),
            _route("POST", f"{w}/reset", self._reset, "reset"),
            _route("PATCH", f"{r}/stop", self._stop),
            _route("PATCH", f"{w}/stop", self._stop, "stop"),
            _route("POST", f"{r}/terminate", self._terminate),
            _route("POST", f"{w}/terminate", self._terminate, "terminate"),
        ]

    def handle(self, request: Request) -> Response | EventStream:
        if request.method == "OPTIONS":  # the CORS preflight
            return Response(
                204,
                content_type=None,
                headers=[("Access-Control-Allow-Methods", "GET,POST,PUT,DELETE,OPTIONS")],
            )
        for route in self._routes:
            match = route.pattern.match(request.path)
            if match is None or route.method != request.method:
                continue
            params = {key: unquote(value) for key, value in match.groupdict().items()}
            extra: list[tuple[str, str]] = []
            if route.successor is not None:
                extra = [
                    ("Deprecation", "true"),
                    ("Sunset", SUNSET),
                    (
                        "Link",
                        f"</workflow/{{id}}/runs/{{rid}}/{route.successor}>; "
                        'rel="successor-version"',
                    ),
                ]
            try:
                result = route.handler(request, **params)
            except ApiError as error:
                result = Response.json(error.status, error.body)
                result.headers.extend(error.headers.items())
            except Exception as error:  # a bug in the fake: answer like Express's default 500
                logger.exception("fake API route failed")
                result = Response.json(500, {"error": type(error).__name__, "message": str(error)})
            if isinstance(result, Response):
                result.headers.extend(extra)
            return result
        return Response.text(404, "Not Found")

    # --- resolution ----------------------------------------------------------------------------

    def _pinned(self, wid: str, rid: str) -> Run:
        run = self._store.get(wid, rid)
        if run is None:
            raise ApiError(
                404,
                "WorkflowNotFoundError",
                execution_not_found_message(wid, rid),
                workflow_id=wid,
            )
        return run

    def _latest(self, wid: str) -> Run:
        run = self._store.latest(wid)
        if run is None:
            raise workflow_not_found(wid)
        return run

    def _resolve(self, wid: str, rid: str | None) -> Run:
        return self._latest(wid) if rid is None else self._pinned(wid, rid)

    @staticmethod
    def _check_rid(rid: str | None) -> None:
        if rid is not None:
            issues = Issues()
            issues.uuid(rid)
            issues.check()

    # --- simple routes -------------------------------------------------------------------------

    def _health(self, request: Request) -> Response:
        return Response.text(200, "OK")

    def _heartbeat(self, request: Request) -> Response:
        return Response(204, content_type=None)

    def _status(self, request: Request, wid: str, rid: str | None = None) -> Response:
        self._check_rid(rid)
        with self._store.cond:
            run = self._resolve(wid, rid)
            return Response.json(
                200,
                {
                    "workflowId": run.workflow_id,
                    "runId": run.run_id,
                    "status": run.status,
                    "startedAt": run.start_ms,
                    "completedAt": "" if run.close_ms is None else run.close_ms,
                },
            )

    def _input(self, request: Request, wid: str, rid: str | None = None) -> Response:
        self._check_rid(rid)
        with self._store.cond:
            if rid is not None:
                run = self._store.get(wid, rid)
                if run is None:
                    raise ApiError(
                        404,
                        "WorkflowNotFoundError",
                        f'Run "{rid}" not found for workflow "{wid}"',
                        workflow_id=wid,
                    )
            else:
                # The unpinned route follows firstExecutionRunId (recording 2-07).
                latest = self._latest(wid)
                run = self._store.runs.get(latest.first_execution_run_id, latest)
            return Response.json(200, {"workflowId": wid, "runId": run.run_id, "input": run.input})

    def _result(self, request: Request, wid: str, rid: str | None = None) -> Response:
        self._check_rid(rid)
        with self._store.cond:
            run = self._closed(wid, rid)
            return Response.json(200, self._result_body(run))

    def _closed(self, wid: str, rid: str | None) -> Run:
        run = self._resolve(wid, rid)
        if run.running:
            raise ApiError(424, "WorkflowNotCompletedError", "Workflow execution is not complete.")
        return run

    def _result_body(self, run: Run) -> dict[str, Any]:
        terminal = run.terminal_event()
        attrs = ev.attributes_of(terminal) if terminal is not None else {}
        output = None
        error: dict[str, Any] | None = None
        if run.status == "completed":
            output = attrs["result"][0]
        elif run.status == "failed":
            error = result_error(attrs["failure"])
        elif run.status == "terminated":
            error = {"name": "TerminatedFailure", "message": attrs.get("reason", "")}
        elif run.status == "cancelled":
            error = {"name": "CancelledFailure", "message": "Workflow canceled"}
        trace = run.memo().get("trace")
        return {
            "v": "2",
            "workflowId": run.workflow_id,
            "runId": run.run_id,
            "status": run.status,
            "input": run.input,
            "output": output,
            "trace": {"local": trace["local"]} if trace else None,
            "error": error,
        }

    def _trace_log(self, request: Request, wid: str, rid: str | None = None) -> Response:
        self._check_rid(rid)
        with self._store.cond:
            run = self._closed(wid, rid)
            trace = run.memo().get("trace")
            if not trace:
                raise ApiError(
                    404,
                    "TraceNotAvailableError",
                    f'No trace available for workflow "{wid}".',
                    workflow_id=wid,
                )
            return Response.json(
                200, {"source": "local", "runId": run.run_id, "localPath": trace["local"]}
            )

    # --- runs list and catalog -------------------------------------------------------------

    def _runs(self, request: Request) -> Response:
        issues = Issues()
        workflow_type = issues.pattern(request.query, "workflowType")
        catalog = issues.pattern(request.query, "catalog")
        limit = issues.integer(request.query, "limit", minimum=1, maximum=1000)
        issues.check()
        runs = self._store.list_runs(workflow_type, catalog, 100 if limit is None else limit)
        with self._store.cond:
            rows = [
                {
                    "workflowId": run.workflow_id,
                    "runId": run.run_id,
                    "workflowType": run.workflow_type,
                    "status": run.status,
                    "startedAt": ev.iso(run.start_ms),
                    "completedAt": None if run.close_ms is None else ev.iso(run.close_ms),
                }
                for run in runs
            ]
        return Response.json(200, {"runs": rows, "count": len(rows)})

    def _catalog(self, request: Request, cid: str | None = None) -> Response:
        store = self._store
        catalog_id = store.catalog_id if cid is None else cid
        if catalog_id != store.catalog_id:
            raise workflow_not_found(catalog_id)
        with store.cond:
            # The `get` query blocks while no worker polls the catalog queue
            # (docs/output-api.md §3.13).
            while (remaining := store.reload_pending()) is not None and not request.aborted():
                store.cond.wait(remaining if remaining > 0 else 0.001)
            workflows = [catalog_entry(definition) for definition in store.workflows.values()]
            names = dict(store.names)
        return Response.json(200, {"workflows": workflows, "workflowNames": names})

    # --- start / run -------------------------------------------------------------------------

    def _start_body(self, request: Request, issues: Issues) -> tuple[str, str, Any]:
        body = issues.body_object(request.body)
        issues.check()
        name = issues.string_field(body, "workflowName", required=True)
        workflow_id = issues.string_field(body, "workflowId", required=False)
        catalog = issues.string_field(body, "catalog", required=False)
        task_queue = issues.string_field(body, "taskQueue", required=False)
        for key, value in (("catalog", catalog), ("taskQueue", task_queue)):
            if value is not None:
                issues.pattern({key: value}, key)
        issues.check()
        assert name is not None
        chosen = catalog or task_queue or self._store.catalog_id
        if chosen != self._store.catalog_id:
            raise catalog_not_available()
        workflow_id = workflow_id or "".join(secrets.choice(_NANOID_ALPHABET) for _ in range(21))
        return name, workflow_id, body.get("input")

    def _start(self, request: Request) -> Response:
        name, workflow_id, input_value = self._start_body(request, Issues())
        run = self._store.start(name, workflow_id, input_value)
        return Response.json(200, {"workflowId": run.workflow_id, "runId": run.run_id})

    def _run_sync(self, request: Request) -> Response:
        issues = Issues()
        name, workflow_id, input_value = self._start_body(request, issues)
        timeout_ms = request.body.get("timeout", 300_000)
        if not isinstance(timeout_ms, int) or timeout_ms < 250:
            issues.items.append(
                {
                    "origin": "number",
                    "code": "too_small",
                    "minimum": 250,
                    "inclusive": True,
                    "path": ["timeout"],
                    "message": "Too small: expected number to be >=250",
                }
            )
            issues.check()
        run = self._store.start(name, workflow_id, input_value)
        deadline = time.monotonic() + timeout_ms / 1000
        with self._store.cond:
            while run.running and not request.aborted():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ApiError(
                        408,
                        "WorkflowExecutionTimedOutError",
                        "Workflow execution exceeded timeout for synchronous execution.",
                        workflow_id=workflow_id,
                    )
                self._store.cond.wait(remaining)
            return Response.json(200, self._result_body(run))

    # --- reset, stop, terminate ---------------------------------------------------------------

    def _reset(self, request: Request, wid: str, rid: str | None = None) -> Response:
        self._check_rid(rid)
        issues = Issues()
        body = issues.body_object(request.body)
        issues.check()
        step_name = issues.string_field(body, "stepName", required=True)
        reason = issues.string_field(body, "reason", required=False)
        issues.check()
        assert step_name is not None
        with self._store.cond:
            # The deprecated route describes the workflow first (404), then pins that run.
            pinned = self._latest(wid).run_id if rid is None else rid
            run = self._store.reset(wid, pinned, step_name, reason)
        return Response.json(200, {"workflowId": wid, "runId": run.run_id})

    def _stop(self, request: Request, wid: str, rid: str | None = None) -> Response:
        self._check_rid(rid)
        with self._store.cond:
            run = self._resolve(wid, rid)
            if run.running:
                self._store.cancel(run)
            after = run if rid is not None else self._latest(wid)
            return Response.json(200, {"workflowId": wid, "runId": after.run_id})

    def _terminate(self, request: Request, wid: str, rid: str | None = None) -> Response:
        self._check_rid(rid)
        issues = Issues()
        reason = None
        if isinstance(request.body, dict):
            reason = issues.string_field(request.body, "reason", required=False)
        issues.check()
        with self._store.cond:
            run = self._resolve(wid, rid)
            if not run.running:
                raise ApiError(
                    404,
                    "WorkflowNotFoundError",
                    "workflow execution already completed",
                    workflow_id=wid,
                )
            self._store.terminate(run, reason or "Terminated via the API", ev.API_IDENTITY)
            after = run if rid is not None else self._latest(wid)
            return Response.json(
                200, {"terminated": True, "workflowId": wid, "runId": after.run_id}
            )

    # --- history -------------------------------------------------------------------------------

    @staticmethod
    def _token(run: Run, next_index: int) -> str:
        return base64.b64encode(f"{run.run_id}:{next_index + 1}".encode()).decode()

    @staticmethod
    def _token_index(run: Run, token: str) -> int:
        try:
            run_id, _, next_id = base64.b64decode(token, validate=True).decode().rpartition(":")
            if run_id == run.run_id and int(next_id) >= 1:
                return int(next_id) - 1
        except (binascii.Error, UnicodeDecodeError, ValueError):
            pass
        raise ApiError(400, "InvalidPageTokenError", "Invalid page token")

    def _history(self, request: Request, wid: str, rid: str | None = None) -> Response:
        query = request.query
        issues = Issues()
        if rid is not None:
            issues.uuid(rid)
        page_size = issues.integer(query, "pageSize", minimum=1, maximum=50)
        token = issues.pattern(query, "pageToken", token=True)
        include = issues.boolean(query, "includePayloads")
        long_poll = issues.integer(query, "longPollTimeoutMs", minimum=0, exclusive_minimum=True)
        run_param = query.get("runId") or None  # unpinned route only; "" counts as absent
        if rid is not None:
            run_param = None
        if rid is None and token is not None and run_param is None:
            issues.custom(["runId"], "runId is required when using pageToken")
        issues.check()
        store = self._store
        with store.cond:
            if run_param is not None:
                if not re.fullmatch(r"[0-9a-fA-F-]{36}", run_param):
                    raise ApiError(
                        400, "ServiceError", "Failed to describe workflow", workflow_id=wid
                    )
                run = self._pinned(wid, run_param)
            else:
                run = self._resolve(wid, rid)
            start = 0 if token is None else self._token_index(run, token)
            # Metadata is read before the long-poll wait, so it can be stale (Addendum, 6-11).
            metadata = run.describe() if token is None or long_poll is not None else None
            if long_poll is not None and token is not None:
                self._wait_for_events(run, start, long_poll, request)
            events, end = run.page(start, page_size or DEFAULT_PAGE_SIZE)
            at_end = end >= len(run.events)
            closed = run.terminal_event() is not None
            if long_poll is not None:
                next_token = None if at_end and closed else self._token(run, end)
            else:
                next_token = None if at_end else self._token(run, end)
            body = {
                "workflow": metadata,
                "events": [ev.serialize(event, include_payloads=include) for event in events],
                "runId": run.run_id,
                "nextPageToken": next_token,
            }
        return Response.json(200, body)

    def _wait_for_events(self, run: Run, start: int, timeout_ms: int, request: Request) -> None:
        bound_ms = min(timeout_ms, self._long_poll_cap_ms)
        # Observed: an empty long-poll page comes back about 1 s before the bound.
        deadline = time.monotonic() + max(bound_ms - 1000, bound_ms / 2) / 1000
        store = self._store
        self.waiting += 1
        store.cond.notify_all()
        try:
            while len(run.events) <= start and run.terminal_event() is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or request.aborted():
                    return
                store.cond.wait(remaining)
        finally:
            self.waiting -= 1

    # --- SSE -----------------------------------------------------------------------------------

    def _stream(self, request: Request, wid: str, rid: str | None = None) -> Response | EventStream:
        issues = Issues()
        if rid is not None:
            issues.uuid(rid)
        include = issues.boolean(request.query, "includePayloads")
        last = issues.integer(request.query, "lastEventId", minimum=0, exclusive_minimum=True)
        issues.check()
        if last is None:
            header = request.headers.get("last-event-id", "").split(",")[-1].strip()
            last = int(header) if header.isdigit() else 0
        run_param = request.query.get("runId") if rid is None else None
        with self._store.cond:
            run = self._resolve(wid, rid if rid is not None else run_param)
            if not run.running and last >= len(run.events):
                return Response(204, content_type=None)  # stops EventSource reconnect loops
        return EventStream(run, include, last)

    def stream(
        self, stream: EventStream, write: Callable[[bytes], None], aborted: Callable[[], bool]
    ) -> None:
        """Write the SSE frames of recordings 6-02/6-04/6-05 until `done` (or an abort)."""
        store = self._store
        run = stream.run
        with store.cond:
            metadata = {**run.describe(), "closed": not run.running}
        write(_frame("workflow", ev.compact_json(metadata)))
        cursor = stream.last_event_id
        next_keepalive = time.monotonic() + self._keepalive_s
        while True:
            with store.cond:
                self.waiting += 1
                store.cond.notify_all()
                try:
                    while not aborted() and run.running and len(run.events) <= cursor:
                        remaining = next_keepalive - time.monotonic()
                        if remaining <= 0:
                            break
                        store.cond.wait(remaining)
                finally:
                    self.waiting -= 1
                if aborted():
                    return
                events, end = run.page(cursor, SSE_PAGE_BATCHES)
                data = [
                    ev.serialize(event, include_payloads=stream.include_payloads)
                    for event in events
                ]
                terminal = run.terminal_event() if end >= len(run.events) else None
            if data:
                cursor = end
                write(_frame("history", ev.compact_json(data), event_id=end))
            elif time.monotonic() >= next_keepalive:
                write(b": keepalive\n\n")
                next_keepalive += self._keepalive_s
            if terminal is not None:
                done = {"reason": terminal["eventTypeName"]}
                write(_frame("done", ev.compact_json(done)))
                return


def _frame(event: str, data: str, *, event_id: int | None = None) -> bytes:
    prefix = "" if event_id is None else f"id: {event_id}\n"
    return f"{prefix}event: {event}\ndata: {data}\n\n".encode()


def parse_json_body(raw: bytes) -> Any:
    """express.json(): an empty body is `{}`; malformed JSON is a 400 SyntaxError."""
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ApiError(400, "SyntaxError", f"Unexpected token in JSON: {error}") from error
