"""`TemporalEngine`: Temporal's gRPC API as an `Engine`.

Every call is a coroutine run on the engine's `LoopThread`; history pages become the dicts of
`events`. temporalio's exceptions never leave this module: `failures` turns them into
`ApiError`s that say what to do, with `retryable` set where asking again later may work.
"""

from __future__ import annotations

import concurrent.futures
import secrets
import string
import threading
import time
import uuid
from collections.abc import Coroutine, Mapping
from datetime import timedelta
from typing import Any, TypeVar

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType, HistoryEventFilterType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.workflow.v1 import WorkflowExecutionConfig
from temporalio.api.workflowservice.v1 import (
    DescribeNamespaceRequest,
    DescribeWorkflowExecutionRequest,
    DescribeWorkflowExecutionResponse,
    GetWorkflowExecutionHistoryRequest,
    GetWorkflowExecutionHistoryResponse,
    ListWorkflowExecutionsRequest,
    ResetWorkflowExecutionRequest,
    TerminateWorkflowExecutionRequest,
)
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode, WorkflowService

from runner.config import EngineConfig
from runner.engine import OnSteps, RunStatus, WorkflowResult
from runner.errors import ApiError, ResetOutcomeUnknown
from runner.history import RunHistory
from runner.temporal.client import IDENTITY, open_client
from runner.temporal.events import (
    CLOSE_EVENTS,
    close_outcome,
    decode_payloads,
    events_to_dicts,
    run_status,
)
from runner.temporal.failures import mapped, maybe_sent, why
from runner.temporal.loop import LoopThread, result_unless_stopped
from runner.temporal.requests import history_request, start_request

T = TypeVar("T")

CALL_TIMEOUT_S = 30.0
# The server answers a long poll with an empty page about 1 s before the call's deadline.
LONG_POLL_S = 10.0
MAX_ROWS = 1000  # visibility rows read per listing, like Output's /workflow/runs limit
FIND_RESET_RUNS = 10
EVAL_SUFFIX = "_eval"  # Output's only mark of an eval workflow (docs/output-api.md §8.3)
_NANOID = string.ascii_letters + string.digits + "_-"
_CONTINUED = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
_CLOSE = HistoryEventFilterType.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT


class _Stopped(Exception):
    """A long poll ended by its stop event."""


class TemporalEngine:
    """A client for one Temporal namespace; thread-safe (every call goes through one loop)."""

    resets_by_event = True
    watches_worker = False

    def __init__(
        self,
        client: Client,
        loop: LoopThread,
        *,
        address: str,
        namespace: str,
        api_key_env: str | None = None,
    ) -> None:
        self.description = f"Temporal at {address} (namespace {namespace})"
        self.address = address
        self.namespace = namespace
        self._api_key_env = api_key_env
        self._client: Client | None = client
        self._loop = loop
        self._closed = False
        self._closing = threading.Event()  # ends waits that have no stop event of their own

    @classmethod
    def connect(cls, config: EngineConfig, env: Mapping[str, str]) -> TemporalEngine:
        """Build the client (no network yet: the first call connects, and a server that is
        down is a retryable error there, like the Output API's)."""
        client, loop = open_client(config, env, timeout_s=CALL_TIMEOUT_S)
        return cls(
            client,
            loop,
            address=config.address,
            namespace=config.namespace,
            api_key_env=config.api_key_env,
        )

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._closing.set()
        self._client = None
        self._loop.close()

    def check(self, timeout_s: float = CALL_TIMEOUT_S) -> None:
        """Raise an ApiError unless the server answers for the namespace (it is ready)."""
        self._call(
            self._service().describe_namespace(
                DescribeNamespaceRequest(namespace=self.namespace),
                timeout=timedelta(seconds=timeout_s),
            ),
            f"a question about namespace {self.namespace}",
            timeout_s=timeout_s + 1,
        )

    # -- reads --------------------------------------------------------------------------------

    def status(self, workflow_id: str, run_id: str | None = None) -> RunStatus:
        info = self._describe(workflow_id, run_id).workflow_execution_info
        return run_status(info, workflow_id, run_id or "")

    def runs_of_type(self, workflow_type: str) -> list[RunStatus]:
        rows = self._list(f"WorkflowType = {_quoted(workflow_type)}", MAX_ROWS)
        return sorted(rows, key=lambda r: r.started_at or 0.0, reverse=True)

    def history(self, workflow_id: str, run_id: str, *, payloads: bool = False) -> RunHistory:
        history = RunHistory(workflow_id=workflow_id, run_id=run_id)
        token = b""
        while True:
            page = self._history_page(workflow_id, run_id, token)
            history.feed(events_to_dicts(page.history.events, payloads=payloads))
            token = page.next_page_token
            if not token:
                return history

    def follow(
        self,
        history: RunHistory,
        *,
        on_steps: OnSteps,
        stop: threading.Event,
        payloads: bool = False,
    ) -> None:
        """Long-poll the run's history until it closes or `stop` is set (then within 0.1 s).

        The end is an empty next-page token, which the server sends with the close event. A long
        poll that runs out (DEADLINE_EXCEEDED) is an empty page; any other failure is raised as
        an `ApiError`, retryable or not, and the caller decides whether to follow again.
        """
        what = f"following run {history.run_id} of {history.workflow_id}"
        token = b""
        while not stop.is_set() and not history.closed:
            request = history_request(
                self.namespace, history.workflow_id, history.run_id, token, wait_new_event=True
            )
            try:
                page = self._poll(request, stop, LONG_POLL_S + 5, what)
            except _Stopped:
                return
            except TimeoutError as exc:
                raise self._mapped(exc, what) from None
            if page is None:
                continue
            done = history.feed(events_to_dicts(page.history.events, payloads=payloads))
            if done:
                on_steps(done)
            if not page.next_page_token:
                return
            token = page.next_page_token

    def _poll(
        self,
        request: GetWorkflowExecutionHistoryRequest,
        stop: threading.Event,
        wait_s: float,
        what: str,
    ) -> GetWorkflowExecutionHistoryResponse | None:
        """One long poll of a history, waited for here at most `wait_s` (TimeoutError after):
        the page, or None when the server's deadline ran out with nothing new (it answers
        DEADLINE_EXCEEDED). _Stopped within 0.1 s of `stop`; other failures as ApiErrors."""
        future = self._loop.submit(
            self._service().get_workflow_execution_history(
                request, timeout=timedelta(seconds=LONG_POLL_S)
            )
        )
        try:
            page = result_unless_stopped(future, stop, wait_s)
        except concurrent.futures.CancelledError:
            if stop.is_set():
                raise _Stopped from None
            raise ApiError("the Temporal engine is closed") from None
        except RPCError as exc:
            if exc.status == RPCStatusCode.DEADLINE_EXCEEDED:
                return None  # an empty long poll, said impolitely
            raise self._mapped(exc, what) from None
        except RuntimeError as exc:
            raise self._mapped(exc, what) from None
        if page is None:
            raise _Stopped
        return page

    def run_input(self, workflow_id: str, run_id: str) -> Any:
        page = self._history_page(workflow_id, run_id, b"", page_size=1)
        for event in page.history.events:
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
                args = decode_payloads(
                    event.workflow_execution_started_event_attributes.input.payloads
                )
                return args[0] if args else None
        raise ApiError(f"run {run_id} of {workflow_id} has no start event in its history")

    # -- writes (never retried: a reset is not idempotent) --------------------------------------

    def reset(
        self, workflow_id: str, run_id: str, *, step: str | None, event_id: int | None, reason: str
    ) -> str:
        if event_id is None:
            if step is None:
                raise ApiError("a reset needs a step or a workflow task event id; got neither")
            event_id = self._point_after(workflow_id, run_id, step)
        request = ResetWorkflowExecutionRequest(
            namespace=self.namespace,
            workflow_execution=WorkflowExecution(workflow_id=workflow_id, run_id=run_id),
            reason=reason,
            workflow_task_finish_event_id=event_id,
            request_id=str(uuid.uuid4()),  # fresh each call: the server dedupes on it
        )
        answer = self._write(
            self._service().reset_workflow_execution(
                request, retry=False, timeout=timedelta(seconds=CALL_TIMEOUT_S)
            ),
            f"the reset of run {run_id} of {workflow_id} to event {event_id}",
            "it may have happened",
        )
        if not answer.run_id:
            raise ResetOutcomeUnknown("the reset answer carried no new run id", retryable=False)
        return answer.run_id

    def find_reset(self, workflow_id: str, base_run_id: str, token: str) -> str | None:
        """The run whose last reset marker was made from `base_run_id` with `token` in its
        reason; the current run first (a reset's new run is current at once), then the most
        recent runs of the workflow id."""
        candidates = [self.status(workflow_id).run_id]
        rows = self._list(f"WorkflowId = {_quoted(workflow_id)}", FIND_RESET_RUNS * 2)
        rows.sort(key=lambda r: r.started_at or 0.0, reverse=True)
        candidates += [r.run_id for r in rows[:FIND_RESET_RUNS]]
        for run_id in dict.fromkeys(candidates):
            if run_id == base_run_id:
                continue
            marker = self.history(workflow_id, run_id, payloads=True).reset_marker_to(base_run_id)
            if marker is not None and token in (marker.reason or ""):
                return run_id
        return None

    def start(self, workflow_type: str, workflow_id: str, input: Any) -> str:
        """A new run on the task queue (and with the timeouts) of the id's latest run; for an id
        with no run yet (a dataset case's first), of the newest run of `workflow_type`."""
        try:
            config = self._describe(workflow_id, None).execution_config
        except ApiError as exc:
            if exc.error != RPCStatusCode.NOT_FOUND.name:
                raise
            config = self._newest_config(workflow_type, [workflow_type])
        answer = self._write(
            self._service().start_workflow_execution(
                start_request(self.namespace, workflow_type, workflow_id, input, config),
                retry=False,
                timeout=timedelta(seconds=CALL_TIMEOUT_S),
            ),
            f"starting a {workflow_type} run as {workflow_id}",
            "a run may have started",
        )
        return answer.run_id

    def _newest_config(self, workflow_type: str, types: list[str]) -> WorkflowExecutionConfig:
        """The task queue and timeouts of the newest run of the first of `types` that has one."""
        for name in types:
            runs = self.runs_of_type(name)
            if runs:
                return self._describe(runs[0].workflow_id, runs[0].run_id).execution_config
        raise ApiError(
            f"cannot tell which task queue runs {workflow_type}: namespace {self.namespace} has "
            f"no run of {' or '.join(types)}; start one run of {types[0]} first"
        )

    def _write(self, call: Coroutine[Any, Any, T], what: str, maybe: str) -> T:
        """Send a request that must not be repeated: once, and if its answer is lost, say
        that it may have happened instead of guessing."""
        try:
            return self._loop.run(call, CALL_TIMEOUT_S + 5)
        except (RPCError, RuntimeError, TimeoutError) as exc:
            if maybe_sent(exc):
                raise ResetOutcomeUnknown(
                    f"{what} got no answer from Temporal at {self.address} ({why(exc)}); {maybe}",
                    retryable=False,
                ) from None
            raise self._mapped(exc, what) from None

    def run_workflow(self, workflow_type: str, input: Any, *, timeout_s: float) -> WorkflowResult:
        """Run `workflow_type` under a new id where the workflow it judges runs (`x` for
        `x_eval`: the task queue and timeouts of its newest run, else of `workflow_type`'s own),
        and wait for the run to close, as Output's POST /workflow/run does.

        Temporal cannot tell a type no worker registers from a slow start, so there is no
        NoSuchWorkflow here: past `timeout_s` the ApiError asks about the worker, and the run is
        left to its own timeouts (Output's 408 leaves it running too).
        """
        judged = workflow_type.removesuffix(EVAL_SUFFIX)
        config = self._newest_config(workflow_type, list(dict.fromkeys([judged, workflow_type])))
        deadline = time.monotonic() + timeout_s
        workflow_id = "".join(secrets.choice(_NANOID) for _ in range(21))  # Output's id style
        request = start_request(self.namespace, workflow_type, workflow_id, input, config)
        answer = self._call(  # retried with the same request id: Temporal starts it once
            self._service().start_workflow_execution(
                request, retry=True, timeout=timedelta(seconds=CALL_TIMEOUT_S)
            ),
            f"starting a {workflow_type} run as {workflow_id}",
        )
        close = self._close_event(workflow_id, answer.run_id, deadline)
        if close is None:
            raise ApiError(
                f"{workflow_type} did not finish within {timeout_s:g} s; is a worker polling "
                f"task queue {config.task_queue.name} and registering {workflow_type}? (run "
                f"{workflow_id} was left to its own timeouts)"
            )
        run_id, event = close
        status, output, error = close_outcome(event)
        return WorkflowResult(
            workflow_id=workflow_id, run_id=run_id, status=status, output=output, error=error
        )

    def _close_event(
        self, workflow_id: str, run_id: str, deadline: float
    ) -> tuple[str, HistoryEvent] | None:
        """The run's close event (after continue-as-new, the last run's), or None once
        `deadline` passes: long polls for that event alone, each cut at the deadline and within
        0.1 s of close()."""
        what = f"waiting for run {run_id} of {workflow_id}"
        token = b""
        while (remaining := deadline - time.monotonic()) > 0:
            request = history_request(
                self.namespace,
                workflow_id,
                run_id,
                token,
                wait_new_event=True,
                history_event_filter_type=_CLOSE,
            )
            try:
                page = self._poll(request, self._closing, min(remaining, LONG_POLL_S + 5), what)
            except _Stopped:
                raise ApiError(f"the Temporal engine closed while {what}") from None
            except TimeoutError:
                continue  # at the deadline (or a server that said nothing): look again
            if page is None:
                continue
            for event in page.history.events:
                if event.event_type == _CONTINUED:
                    attrs = event.workflow_execution_continued_as_new_event_attributes
                    run_id, token = attrs.new_execution_run_id, b""
                    break
                if event.event_type in CLOSE_EVENTS:
                    return run_id, event
            else:
                token = page.next_page_token
        return None

    def terminate(self, workflow_id: str, run_id: str, reason: str) -> None:
        request = TerminateWorkflowExecutionRequest(
            namespace=self.namespace,
            workflow_execution=WorkflowExecution(workflow_id=workflow_id, run_id=run_id),
            reason=reason,
            identity=IDENTITY,
        )
        self._call(
            self._service().terminate_workflow_execution(
                request, retry=True, timeout=timedelta(seconds=CALL_TIMEOUT_S)
            ),
            f"terminating run {run_id} of {workflow_id}",
        )

    def trace(self, workflow_id: str, run_id: str) -> Any:
        """None: trace files are written by Output's workers, not by Temporal."""
        return None

    # -- the worker: Temporal workers pick up new code on their own restart -------------------

    def worker_status(self) -> RunStatus | None:
        return None

    def wait_worker_answers(self) -> None:
        return None

    # -- plumbing ---------------------------------------------------------------------------

    def _service(self) -> WorkflowService:
        if self._client is None:
            raise ApiError("the Temporal engine is closed")
        return self._client.workflow_service

    def _call(
        self, coro: Coroutine[Any, Any, T], what: str, *, timeout_s: float = CALL_TIMEOUT_S + 5
    ) -> T:
        try:
            return self._loop.run(coro, timeout_s)
        except (RPCError, RuntimeError, TimeoutError) as exc:
            raise self._mapped(exc, what) from None

    def _describe(self, workflow_id: str, run_id: str | None) -> DescribeWorkflowExecutionResponse:
        request = DescribeWorkflowExecutionRequest(
            namespace=self.namespace,
            execution=WorkflowExecution(workflow_id=workflow_id, run_id=run_id or ""),
        )
        which = f"run {run_id} of workflow {workflow_id}" if run_id else f"workflow {workflow_id}"
        answer: DescribeWorkflowExecutionResponse = self._call(
            self._service().describe_workflow_execution(
                request, retry=True, timeout=timedelta(seconds=CALL_TIMEOUT_S)
            ),
            which,
        )
        return answer

    def _history_page(
        self, workflow_id: str, run_id: str, token: bytes, *, page_size: int = 0
    ) -> GetWorkflowExecutionHistoryResponse:
        request = history_request(
            self.namespace, workflow_id, run_id, token, maximum_page_size=page_size
        )
        page: GetWorkflowExecutionHistoryResponse = self._call(
            self._service().get_workflow_execution_history(
                request, retry=True, timeout=timedelta(seconds=CALL_TIMEOUT_S)
            ),
            f"the history of run {run_id} of workflow {workflow_id}",
        )
        return page

    def _list(self, query: str, limit: int) -> list[RunStatus]:
        rows: list[RunStatus] = []
        token = b""
        while len(rows) < limit:
            request = ListWorkflowExecutionsRequest(
                namespace=self.namespace,
                query=query,
                page_size=min(limit - len(rows), 1000),
                next_page_token=token,
            )
            page = self._call(
                self._service().list_workflow_executions(
                    request, retry=True, timeout=timedelta(seconds=CALL_TIMEOUT_S)
                ),
                f"the runs matching {query}",
            )
            rows += [run_status(info) for info in page.executions]
            token = page.next_page_token
            if not token:
                break
        return rows[:limit]

    def _point_after(self, workflow_id: str, run_id: str, step: str) -> int:
        """Like Output's API (docs/output-api.md §5.2): the first workflow task completed after the
        last occurrence of `step` completed."""
        history = self.history(workflow_id, run_id)
        occurrences = history.occurrences(step)
        if not occurrences:
            raise ApiError(f'step "{step}" was not found in run {run_id} of {workflow_id}')
        done = occurrences[-1].completed_id
        point = history.first_task_completed_after(done) if done is not None else None
        if point is None:
            raise ApiError(
                f'step "{step}" has not completed in run {run_id} (or nothing ran after it), '
                "so there is no point to reset to after it"
            )
        return point

    def _mapped(self, exc: BaseException, what: str) -> ApiError:
        return mapped(
            exc, what, address=self.address, namespace=self.namespace, key_env=self._api_key_env
        )


def _quoted(value: str) -> str:
    """A string literal for a visibility query."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
