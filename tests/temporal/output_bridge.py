"""A thin Output HTTP API on a real Temporal server: the routes output-reset uses, nothing more.

Where `tests/fakeapi` simulates Temporal, this double only translates: each route reads or
writes the real Temporal server through the temporalio client, so reset points, run ids, copied
histories, re-dispatched activities and terminations are Temporal's own. What it adds is what the
Output API adds (docs/output-api.md §3, §5.2): the routes and their JSON shapes,
zod-style 400s, error envelopes, and the reset route's step-name-to-event algorithm, implemented
here on raw Temporal events (not with output-reset's own history code, which it tests).

One stdlib `ThreadingHTTPServer` on 127.0.0.1 (HTTP/1.1 keep-alive, `bridge_http`) and one
asyncio loop for the client, each on its own thread; `close()` hangs up every connection, wakes
long polls and joins every thread it started. `POST /workflow/run` answers the v2 result of
`bridge_results`.
"""

from __future__ import annotations

import base64
import binascii
import concurrent.futures
import os
import re
import secrets
import socket
import string
import threading
import time
import uuid
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from datetime import UTC, timedelta
from typing import Any, TypeVar
from urllib.parse import unquote

from google.protobuf.timestamp_pb2 import Timestamp
from temporalio.api.common.v1 import Payloads, WorkflowExecution, WorkflowType
from temporalio.api.enums.v1 import EventType, HistoryEventFilterType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import (
    DescribeWorkflowExecutionRequest,
    DescribeWorkflowExecutionResponse,
    GetWorkflowExecutionHistoryRequest,
    GetWorkflowExecutionHistoryResponse,
    ListWorkflowExecutionsRequest,
    ResetWorkflowExecutionRequest,
    StartWorkflowExecutionRequest,
    TerminateWorkflowExecutionRequest,
)
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode, WorkflowService

from runner.temporal import (
    LoopThread,
    decode_payloads,
    encode_payload,
    events_to_dicts,
    result_unless_stopped,
    start_runtime,
    status_name,
)
from runner.temporal.requests import history_request
from tests.fakeapi.faults import RecordedRequest, RequestLog
from tests.fakeapi.model import ApiError
from tests.fakeapi.routes import Response, catalog_not_available
from tests.fakeapi.validation import Issues
from tests.temporal.bridge_http import BridgeServer, Closing
from tests.temporal.bridge_results import CLOSED, result_body, run_timeout_ms

T = TypeVar("T")

CALL_TIMEOUT_S = 30.0
DEFAULT_PAGE_SIZE = 20  # docs/output-api.md §3.4
LONG_POLL_CAP_MS = 15_000  # TEMPORAL_HISTORY_MAX_WAIT_TIMEOUT_MS
RUNS_LIMIT = 100  # GET /workflow/runs default limit
EXECUTION_TIMEOUT = timedelta(hours=24)  # TEMPORAL_WORKFLOW_EXECUTION_TIMEOUT (§3.7)
_NANOID = string.ascii_letters + string.digits + "_-"

_SCHEDULED = EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
_COMPLETED = EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED
_TASK_COMPLETED = EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
_STARTED = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED
_CLOSE = HistoryEventFilterType.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT


@dataclass(frozen=True, slots=True)
class BridgeReset:
    """One reset the bridge sent to Temporal: the §3.2 point it computed and what came back."""

    workflow_id: str
    base_run_id: str
    step: str
    event_id: int
    reason: str
    new_run_id: str


class OutputBridge:
    """The Output API's routes on top of one Temporal namespace; a context manager.

    `catalog` is the task queue runs are started on (Output's catalog id is its task queue);
    `workflows`, when given, are the names `POST /workflow/start` accepts (the catalog's).
    """

    def __init__(
        self,
        address: str,
        *,
        catalog: str,
        namespace: str = "default",
        workflows: Iterable[str] | None = None,
        long_poll_cap_ms: int = LONG_POLL_CAP_MS,
    ) -> None:
        self.address = address
        self.namespace = namespace
        self.catalog = catalog
        self.workflows = frozenset(workflows) if workflows is not None else None
        self.long_poll_cap_ms = long_poll_cap_ms
        self.log = RequestLog()
        self.resets: list[BridgeReset] = []
        self.identity = f"{os.getpid()}@{socket.gethostname()}"  # like the API process's
        self.closing = threading.Event()
        self._lock = threading.Lock()
        self._loop: LoopThread | None = None
        self._service: WorkflowService | None = None
        self._server: BridgeServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""
        r = r"/workflow/(?P<wid>[^/]+)/runs/(?P<rid>[^/]+)"
        self._routes: list[tuple[str, re.Pattern[str], Callable[..., Response]]] = [
            ("GET", re.compile(r"^/workflow/runs$"), self._runs),
            ("POST", re.compile(r"^/workflow/start$"), self._start),
            ("POST", re.compile(r"^/workflow/run$"), self._run),
            ("GET", re.compile(r"^/workflow/(?P<wid>[^/]+)/status$"), self._status),
            ("GET", re.compile(f"^{r}/status$"), self._status),
            ("GET", re.compile(f"^{r}/history$"), self._history),
            ("GET", re.compile(f"^{r}/input$"), self._input),
            ("POST", re.compile(f"^{r}/terminate$"), self._terminate),
            ("POST", re.compile(f"^{r}/reset$"), self._reset),
        ]

    # -- lifecycle ------------------------------------------------------------------------------

    def __enter__(self) -> OutputBridge:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        self._loop = LoopThread("output-bridge-temporal")
        try:
            self._loop.run(start_runtime(), CALL_TIMEOUT_S)
            client = self._loop.run(
                Client.connect(self.address, namespace=self.namespace, identity=self.identity),
                CALL_TIMEOUT_S,
            )
            self._service = client.workflow_service
            self._server = BridgeServer(("127.0.0.1", 0), self.handle, self.log, self.closing)
        except BaseException:
            self._loop.close()
            raise
        port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"output-bridge-http-{port}",
        )
        self._thread.start()

    def close(self) -> None:
        """Stop accepting, wake long polls, hang up, join every handler thread, stop the loop."""
        self.closing.set()
        server = self._server
        if server is not None:
            server.shutdown()
            server.hang_up_all()
            server.server_close()  # joins the handler threads
        if self._thread is not None:
            self._thread.join(10)
        if self._loop is not None:
            self._loop.close()
        self._service = None

    # -- what tests look at --------------------------------------------------------------------

    def requests(self, method: str | None = None, suffix: str = "") -> list[RecordedRequest]:
        return [
            r
            for r in self.log.snapshot()
            if (method is None or r.method == method) and r.path.endswith(suffix)
        ]

    # -- dispatch -------------------------------------------------------------------------------

    def handle(self, method: str, path: str, query: dict[str, str], body: Any) -> Response:
        for verb, pattern, handler in self._routes:
            match = pattern.match(path)
            if match is None or verb != method:
                continue
            params = {k: unquote(v) for k, v in match.groupdict().items()}
            try:
                return handler(query, body, **params)
            except ApiError as error:
                response = Response.json(error.status, error.body)
                response.headers.extend(error.headers.items())
                return response
            except RPCError as exc:  # not mapped by the route: Express's default 500
                return Response.json(500, {"error": "Error", "message": _grpc_text(exc)})
            except Closing:
                raise
            except Exception as exc:  # a bug here, or a call that timed out: a plain 500
                return Response.json(500, {"error": type(exc).__name__, "message": str(exc)})
        return Response.text(404, "Not Found")

    # -- routes: reads --------------------------------------------------------------------------

    def _status(
        self, query: dict[str, str], body: Any, wid: str, rid: str | None = None
    ) -> Response:
        """§2.2: epoch-ms numbers, "" for a missing time, the lower-case status vocabulary."""
        _check_rid(rid)
        info = self._describe(wid, rid).workflow_execution_info
        return Response.json(
            200,
            {
                "workflowId": info.execution.workflow_id,
                "runId": info.execution.run_id,
                "status": status_name(info.status),
                "startedAt": _ms(info.start_time) if info.HasField("start_time") else "",
                "completedAt": _ms(info.close_time) if _has_time(info, "close_time") else "",
            },
        )

    def _runs(self, query: dict[str, str], body: Any) -> Response:
        """§2.3: one visibility page in Temporal's order, ISO times, `completedAt` null if open."""
        issues = Issues()
        workflow_type = issues.pattern(query, "workflowType")
        catalog = issues.pattern(query, "catalog")
        limit = issues.integer(query, "limit", minimum=1, maximum=1000)
        issues.check()
        clauses = [f'WorkflowType = "{workflow_type}"'] if workflow_type else []
        clauses += [f'TaskQueue = "{catalog}"'] if catalog else []
        request = ListWorkflowExecutionsRequest(
            namespace=self.namespace,
            query=" AND ".join(clauses),
            page_size=limit or RUNS_LIMIT,
        )
        page = self._call(
            self._svc().list_workflow_executions(request, timeout=_timeout(CALL_TIMEOUT_S))
        )
        rows = [
            {
                "workflowId": info.execution.workflow_id,
                "runId": info.execution.run_id,
                "workflowType": info.type.name,
                "status": status_name(info.status),
                "startedAt": _iso(info.start_time) if info.HasField("start_time") else None,
                "completedAt": _iso(info.close_time) if _has_time(info, "close_time") else None,
            }
            for info in list(page.executions)[: limit or RUNS_LIMIT]
        ]
        return Response.json(200, {"runs": rows, "count": len(rows)})

    def _history(self, query: dict[str, str], body: Any, wid: str, rid: str) -> Response:
        """§2.4 and the Addendum: pages as Temporal cuts them, long polls as Temporal waits."""
        issues = Issues()
        issues.uuid(rid)
        page_size = issues.integer(query, "pageSize", minimum=1, maximum=50)
        token = issues.pattern(query, "pageToken", token=True)
        include = issues.boolean(query, "includePayloads")
        long_poll = issues.integer(query, "longPollTimeoutMs", minimum=0, exclusive_minimum=True)
        issues.check()
        raw_token = b""
        if token is not None:
            try:
                raw_token = base64.b64decode(token, validate=True)
            except binascii.Error:
                raise ApiError(400, "InvalidPageTokenError", "Invalid page token") from None
        # The metadata is read before a long poll waits, so it can be stale (Addendum).
        metadata = self._metadata(wid, rid) if token is None or long_poll is not None else None
        request = GetWorkflowExecutionHistoryRequest(
            namespace=self.namespace,
            execution=WorkflowExecution(workflow_id=wid, run_id=rid),
            maximum_page_size=page_size or DEFAULT_PAGE_SIZE,
            next_page_token=raw_token,
            wait_new_event=long_poll is not None,
        )
        try:
            if long_poll is None:
                page: GetWorkflowExecutionHistoryResponse | None = self._call(
                    self._svc().get_workflow_execution_history(
                        request, timeout=_timeout(CALL_TIMEOUT_S)
                    )
                )
            else:
                page = self._long_poll(request, min(long_poll, self.long_poll_cap_ms))
        except RPCError as exc:
            if exc.status == RPCStatusCode.INVALID_ARGUMENT:
                raise ApiError(400, "InvalidPageTokenError", exc.message) from None
            raise _not_found(exc, wid) from None
        if page is None:  # the long poll's deadline passed with nothing new
            events: list[dict[str, Any]] = []
            next_token: str | None = token
        else:
            events = events_to_dicts(page.history.events, payloads=include)
            next_token = base64.b64encode(page.next_page_token).decode() or None
        return Response.json(
            200, {"workflow": metadata, "events": events, "runId": rid, "nextPageToken": next_token}
        )

    def _input(self, query: dict[str, str], body: Any, wid: str, rid: str) -> Response:
        """§2.7, pinned: the run's first argument, decoded, or null."""
        _check_rid(rid)
        request = GetWorkflowExecutionHistoryRequest(
            namespace=self.namespace,
            execution=WorkflowExecution(workflow_id=wid, run_id=rid),
            maximum_page_size=1,
        )
        try:
            page = self._call(
                self._svc().get_workflow_execution_history(
                    request, timeout=_timeout(CALL_TIMEOUT_S)
                )
            )
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
            raise ApiError(
                404,
                "WorkflowNotFoundError",
                f'Run "{rid}" not found for workflow "{wid}"',
                workflow_id=wid,
            ) from None
        value: Any = None
        for event in page.history.events:
            if event.event_type == _STARTED:
                args = decode_payloads(
                    event.workflow_execution_started_event_attributes.input.payloads
                )
                value = args[0] if args else None
        return Response.json(200, {"workflowId": wid, "runId": rid, "input": value})

    # -- routes: writes -------------------------------------------------------------------------

    def _start(self, query: dict[str, str], body: Any) -> Response:
        """§3.7: a new run on the catalog's task queue; the input is the single argument."""
        issues = Issues()
        fields = issues.body_object(body)
        issues.check()
        workflow_id, run_id = self._begin(fields, issues)
        return Response.json(200, {"workflowId": workflow_id, "runId": run_id or None})

    def _run(self, query: dict[str, str], body: Any) -> Response:
        """§3.12: start as §3.7 does and wait for the run to close, at most `timeout` ms: its
        v2 result, a 200 even when it failed; past the timeout a 408 (the run keeps going)."""
        issues = Issues()
        fields = issues.body_object(body)
        issues.check()
        timeout_ms = run_timeout_ms(fields, issues)
        deadline = time.monotonic() + timeout_ms / 1000
        workflow_id, run_id = self._begin(fields, issues)
        close = self._close_event(workflow_id, run_id, deadline)
        if close is None:
            raise ApiError(
                408,
                "WorkflowExecutionTimedOutError",
                "Workflow execution exceeded timeout for synchronous execution.",
                workflow_id=workflow_id,
            )
        return Response.json(200, result_body(workflow_id, run_id, fields.get("input"), close))

    def _begin(self, fields: dict[str, Any], issues: Issues) -> tuple[str, str]:
        """Check a start body (with `issues` found so far), then start the run: its ids."""
        name = issues.string_field(fields, "workflowName", required=True)
        workflow_id = issues.string_field(fields, "workflowId", required=False)
        catalog = issues.string_field(fields, "catalog", required=False)
        if catalog is not None:
            issues.pattern({"catalog": catalog}, "catalog")
        issues.check()
        assert name is not None
        chosen = catalog or self.catalog
        if chosen != self.catalog:
            raise catalog_not_available()
        if self.workflows is not None and name not in self.workflows:
            raise ApiError(
                424,
                "UnsupportedWorkflowError",
                f"Workflow {name} is not supported in the task queue {chosen}.",
            )
        workflow_id = workflow_id or "".join(secrets.choice(_NANOID) for _ in range(21))
        request = StartWorkflowExecutionRequest(
            namespace=self.namespace,
            workflow_id=workflow_id,
            workflow_type=WorkflowType(name=name),
            task_queue=TaskQueue(name=chosen),
            identity=self.identity,
            request_id=str(uuid.uuid4()),
        )
        request.workflow_execution_timeout.FromTimedelta(EXECUTION_TIMEOUT)
        if "input" in fields:
            request.input.CopyFrom(Payloads(payloads=[encode_payload(fields["input"])]))
        try:
            answer = self._call(
                self._svc().start_workflow_execution(
                    request, retry=False, timeout=_timeout(CALL_TIMEOUT_S)
                )
            )
        except RPCError as exc:
            if exc.status != RPCStatusCode.ALREADY_EXISTS:
                raise
            raise ApiError(
                500,
                "WorkflowExecutionAlreadyStartedError",
                "Workflow execution already started",
                workflow_id=workflow_id,
            ) from None
        return workflow_id, answer.run_id

    def _terminate(self, query: dict[str, str], body: Any, wid: str, rid: str) -> Response:
        """§2.10: 200 {terminated, workflowId, runId}; a closed run is a 404 (Temporal's)."""
        _check_rid(rid)
        issues = Issues()
        reason = None
        if isinstance(body, dict):
            reason = issues.string_field(body, "reason", required=False)
        issues.check()
        request = TerminateWorkflowExecutionRequest(
            namespace=self.namespace,
            workflow_execution=WorkflowExecution(workflow_id=wid, run_id=rid),
            reason=reason or "",
            identity=self.identity,
        )
        try:
            self._call(
                self._svc().terminate_workflow_execution(request, timeout=_timeout(CALL_TIMEOUT_S))
            )
        except RPCError as exc:
            raise _not_found(exc, wid) from None
        return Response.json(200, {"terminated": True, "workflowId": wid, "runId": rid})

    def _reset(self, query: dict[str, str], body: Any, wid: str, rid: str) -> Response:
        """§2.1 and §3.2 exactly: the first workflow task completed after the completion of the
        LAST scheduled activity whose type ends with `#<stepName>`; Temporal does the rest."""
        _check_rid(rid)
        issues = Issues()
        fields = issues.body_object(body)
        issues.check()
        step = issues.string_field(fields, "stepName", required=True)
        reason = issues.string_field(fields, "reason", required=False)
        issues.check()
        assert step is not None
        reason = reason if reason is not None else f'Reset to re-run from after step "{step}"'
        try:
            events = self._full_history(wid, rid)
        except RPCError as exc:  # this route does not map Temporal's NOT_FOUND (§1.4, Addendum)
            raise _unmapped(exc) from None
        point = reset_point(events, step)
        request = ResetWorkflowExecutionRequest(
            namespace=self.namespace,
            workflow_execution=WorkflowExecution(workflow_id=wid, run_id=rid),
            reason=reason,
            workflow_task_finish_event_id=point,
            request_id=str(uuid.uuid4()),  # fresh each time: the reset is not idempotent
        )
        try:
            answer = self._call(
                self._svc().reset_workflow_execution(
                    request, retry=False, timeout=_timeout(CALL_TIMEOUT_S)
                )
            )
        except RPCError as exc:
            raise _unmapped(exc) from None
        with self._lock:
            self.resets.append(BridgeReset(wid, rid, step, point, reason, answer.run_id))
        return Response.json(200, {"workflowId": wid, "runId": answer.run_id})

    # -- Temporal -------------------------------------------------------------------------------

    def _svc(self) -> WorkflowService:
        if self._service is None:
            raise Closing
        return self._service

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        assert self._loop is not None
        return self._loop.run(coro, CALL_TIMEOUT_S + 5)

    def _describe(self, wid: str, rid: str | None) -> DescribeWorkflowExecutionResponse:
        request = DescribeWorkflowExecutionRequest(
            namespace=self.namespace,
            execution=WorkflowExecution(workflow_id=wid, run_id=rid or ""),
        )
        try:
            answer: DescribeWorkflowExecutionResponse = self._call(
                self._svc().describe_workflow_execution(request, timeout=_timeout(CALL_TIMEOUT_S))
            )
        except RPCError as exc:
            raise _not_found(exc, wid) from None
        return answer

    def _metadata(self, wid: str, rid: str) -> dict[str, Any]:
        answer = self._describe(wid, rid)
        info = answer.workflow_execution_info
        return {
            "workflowId": info.execution.workflow_id,
            "runId": info.execution.run_id,
            "status": status_name(info.status),
            "startTime": _iso(info.start_time) if info.HasField("start_time") else None,
            "closeTime": _iso(info.close_time) if _has_time(info, "close_time") else None,
            "historyLength": info.history_length,
            "taskQueue": info.task_queue or answer.execution_config.task_queue.name,
        }

    def _long_poll(
        self,
        request: GetWorkflowExecutionHistoryRequest,
        bound_ms: int,
        give_up_s: float | None = None,
    ) -> GetWorkflowExecutionHistoryResponse | None:
        """Temporal's own long poll (it answers empty about 1 s before the deadline); None when
        the deadline passed first; `Closing` when the bridge closes meanwhile; TimeoutError
        when `give_up_s` passes here first."""
        assert self._loop is not None
        future = self._loop.submit(
            self._svc().get_workflow_execution_history(
                request, timeout=timedelta(milliseconds=bound_ms)
            )
        )
        wait_s = bound_ms / 1000 + 5 if give_up_s is None else give_up_s
        try:
            page = result_unless_stopped(future, self.closing, wait_s)
        except concurrent.futures.CancelledError:
            raise Closing from None
        except RPCError as exc:
            if exc.status == RPCStatusCode.DEADLINE_EXCEEDED:
                return None
            raise
        if page is None:
            raise Closing
        return page

    def _close_event(self, wid: str, rid: str, deadline: float) -> HistoryEvent | None:
        """The run's close event, or None once `deadline` (time.monotonic()) passes."""
        while (remaining := deadline - time.monotonic()) > 0:
            request = history_request(
                self.namespace, wid, rid, b"", wait_new_event=True, history_event_filter_type=_CLOSE
            )
            try:
                page = self._long_poll(request, self.long_poll_cap_ms, remaining)
            except TimeoutError:
                return None
            for event in page.history.events if page is not None else ():
                if event.event_type in CLOSED:
                    return event
        return None

    def _full_history(self, wid: str, rid: str) -> list[HistoryEvent]:
        events: list[HistoryEvent] = []
        token = b""
        while True:
            request = GetWorkflowExecutionHistoryRequest(
                namespace=self.namespace,
                execution=WorkflowExecution(workflow_id=wid, run_id=rid),
                next_page_token=token,
            )
            page = self._call(
                self._svc().get_workflow_execution_history(
                    request, timeout=_timeout(CALL_TIMEOUT_S)
                )
            )
            events.extend(page.history.events)
            token = page.next_page_token
            if not token:
                return events


def reset_point(events: Iterable[HistoryEvent], step: str) -> int:
    """docs/output-api.md §5.2 on raw Temporal events; raises the API's 404/409."""
    history = list(events)
    suffix = f"#{step}"
    scheduled = [
        e
        for e in history
        if e.event_type == _SCHEDULED
        and e.activity_task_scheduled_event_attributes.activity_type.name.endswith(suffix)
    ]
    if not scheduled:
        raise ApiError(
            404, "StepNotFoundError", f'Step "{step}" was not found in the workflow history.'
        )
    last = scheduled[-1].event_id
    not_completed = ApiError(
        409,
        "StepNotCompletedError",
        f'Step "{step}" has not completed. Cannot reset to an incomplete step.',
    )
    done = next(
        (
            e.event_id
            for e in history
            if e.event_type == _COMPLETED
            and e.activity_task_completed_event_attributes.scheduled_event_id == last
        ),
        None,
    )
    if done is None:
        raise not_completed
    point = next(
        (e.event_id for e in history if e.event_type == _TASK_COMPLETED and e.event_id > done),
        None,
    )
    if point is None:
        raise not_completed
    return point


# -- small helpers ----------------------------------------------------------------------------


def _check_rid(rid: str | None) -> None:
    if rid is not None:
        issues = Issues()
        issues.uuid(rid)
        issues.check()


def _grpc_text(exc: RPCError) -> str:
    """How grpc-js words an error, as the API's unmapped 500s show it: `5 NOT_FOUND: ...`."""
    return f"{int(exc.status)} {exc.status.name}: {exc.message}"


def _not_found(exc: RPCError, workflow_id: str) -> Exception:
    if exc.status == RPCStatusCode.NOT_FOUND:
        return ApiError(404, "WorkflowNotFoundError", exc.message, workflow_id=workflow_id)
    return exc


def _unmapped(exc: RPCError) -> ApiError:
    if exc.status == RPCStatusCode.FAILED_PRECONDITION:  # mapped generically (§1.4)
        return ApiError(409, "Error", _grpc_text(exc))
    return ApiError(500, "Error", _grpc_text(exc))


def _timeout(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


def _has_time(message: Any, name: str) -> bool:
    if not message.HasField(name):
        return False
    stamp: Timestamp = getattr(message, name)
    return stamp.seconds > 0 or stamp.nanos > 0


def _ms(stamp: Timestamp) -> int:
    return int(stamp.ToMilliseconds())


def _iso(stamp: Timestamp) -> str:
    when = stamp.ToDatetime(tzinfo=UTC)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")
