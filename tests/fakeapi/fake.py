"""`FakeOutputApi`: the test double of the Output HTTP API, and the hooks tests drive it with.

with FakeOutputApi() as fake:
    fake.define_workflow("probe_three", [Step("extractTopics"), Step("draftOutline")])
    run_id = fake.start_run("probe_three", "wf-1", {"text": "a b"})
    fake.wait_closed("wf-1", run_id)
    httpx.get(f"{fake.url}/workflow/wf-1/runs/{run_id}/history")
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any

from tests.fakeapi import events as ev
from tests.fakeapi.evals import DEFAULT_CONCURRENCY, Evaluator, eval_workflow
from tests.fakeapi.faults import CannedResponse, Faults, RecordedRequest, RequestLog
from tests.fakeapi.inputs import InputCheck
from tests.fakeapi.model import Reload, Run, Store
from tests.fakeapi.program import Program, WorkflowDef
from tests.fakeapi.routes import Routes
from tests.fakeapi.server import ApiServer, App
from tests.fakeapi.worker import Worker

_RESET_PATH = r"^/workflow/[^/]+(/runs/[^/]+)?/reset$"


class FakeOutputApi:
    def __init__(
        self,
        *,
        token: str | None = None,
        catalog_id: str = "main",
        long_poll_cap_ms: int = 15000,
        keepalive_s: float = 15.0,
    ) -> None:
        self._store = Store(catalog_id)
        self._worker = Worker(self._store)
        self._log = RequestLog()
        self._faults = Faults()
        self._routes = Routes(
            self._store, long_poll_cap_ms=long_poll_cap_ms, keepalive_s=keepalive_s
        )
        self._app = App(self._store, self._routes, self._faults, self._log, token)
        self._server: ApiServer | None = None
        self._port = 0
        self._down_lock = threading.Lock()
        self._started = False

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeOutputApi:
        if self._started:
            return self
        self._started = True
        self._worker.start()
        self._server = ApiServer(self._app)
        self._port = self._server.port
        self._server.start()
        return self

    def stop(self) -> None:
        """Close the server and its connections, stop the worker; joins every thread."""
        with self._down_lock:
            server, self._server = self._server, None
        if server is not None:
            server.close()
        if self._started:
            self._worker.stop()

    def __enter__(self) -> FakeOutputApi:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if not self._port:
            raise RuntimeError("FakeOutputApi is not started")
        return f"http://127.0.0.1:{self._port}"

    # --- workflows and runs ------------------------------------------------------------------

    def define_workflow(
        self,
        name: str,
        program: Program,
        *,
        disable_trace: bool = False,
        aliases: Sequence[str] = (),
        validate: InputCheck | None = None,
    ) -> None:
        """`validate` stands for the workflow's input schema: the issues it finds in an input
        fail the run with a ValidationError after getTraceDestinations (e-21)."""
        definition = WorkflowDef(name, list(program), disable_trace, tuple(aliases), validate)
        self._store.define(definition)

    def define_eval(
        self,
        name: str,
        evaluators: Sequence[Evaluator],
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> None:
        """An eval workflow `<workflow>_eval` (docs/output-api.md §8.3): input `{datasets}`,
        each case's evaluators run in order as activities `<name>#<evaluator>`, an EvalOutput
        back."""
        self._store.define(eval_workflow(name, evaluators, concurrency))

    def add_closed_run(
        self,
        workflow_type: str,
        workflow_id: str,
        events: list[dict[str, Any]],
        batch_ends: list[int] | None = None,
    ) -> str:
        """Serve a ready-made completed history (e.g. 50,000 events for a benchmark) without
        running it; `events` are in the model's (payload-carrying) event shape."""
        start_ms = ev.iso_to_ms(events[0]["eventTime"])
        run = Run(workflow_id, str(uuid.uuid4()), workflow_type, start_ms, self._store.catalog_id)
        run.events = list(events)
        if batch_ends is not None:
            run.batch_ends = list(batch_ends)
        run.status = "completed"
        run.close_ms = ev.iso_to_ms(events[-1]["eventTime"])
        with self._store.cond:
            self._store._register(run)
        return run.run_id

    def start_run(self, workflow_name: str, workflow_id: str, input: Any = None) -> str:
        """Start a run as POST /workflow/start does; returns its run id."""
        return self._store.start(workflow_name, workflow_id, input).run_id

    def _run(self, workflow_id: str, run_id: str) -> Run:
        run = self._store.get(workflow_id, run_id)
        if run is None:
            raise KeyError(f"no run {run_id} of workflow {workflow_id}")
        return run

    def wait_closed(self, workflow_id: str, run_id: str, timeout: float = 5.0) -> str:
        """Wait until the run is closed; returns its status."""
        run = self._run(workflow_id, run_id)
        self._wait(lambda: not run.running, timeout, f"run {run_id} still running")
        return run.status

    def wait_for_event(
        self,
        workflow_id: str,
        run_id: str,
        predicate: Callable[[dict[str, Any]], bool],
        timeout: float = 5.0,
    ) -> dict[str, Any]:
        """Wait for a history event (serialized with payloads) matching `predicate`."""
        run = self._run(workflow_id, run_id)
        found: list[dict[str, Any]] = []

        def matched() -> bool:
            for event in run.events:
                serialized = ev.serialize(event, include_payloads=True)
                if predicate(serialized):
                    found.append(serialized)
                    return True
            return False

        self._wait(matched, timeout, f"no matching event in run {run_id}")
        return found[0]

    def wait_for_long_poll(self, count: int = 1, timeout: float = 5.0) -> None:
        """Wait until `count` long-poll history requests or SSE streams are blocked waiting."""
        self._wait(lambda: self._routes.waiting >= count, timeout, "no waiting long-poll")

    def _wait(self, condition: Callable[[], bool], timeout: float, message: str) -> None:
        deadline = time.monotonic() + timeout
        with self._store.cond:
            while not condition():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(message)
                self._store.cond.wait(remaining)

    def run_status(self, workflow_id: str, run_id: str) -> str:
        with self._store.cond:
            return self._run(workflow_id, run_id).status

    def latest_run(self, workflow_id: str) -> str:
        with self._store.cond:
            run = self._store.latest(workflow_id)
            if run is None:
                raise KeyError(f"no workflow {workflow_id}")
            return run.run_id

    def run_ids(self, workflow_id: str) -> list[str]:
        """Every run of the workflow id, oldest first."""
        with self._store.cond:
            return [run.run_id for run in self._store.by_workflow.get(workflow_id, [])]

    def history(self, workflow_id: str, run_id: str) -> list[dict[str, Any]]:
        """The run's serialized events, payloads included (`includePayloads=true`)."""
        with self._store.cond:
            run = self._run(workflow_id, run_id)
            return [ev.serialize(event, include_payloads=True) for event in run.events]

    def invocations(self, run_id: str) -> list[str]:
        """Step names the worker executed for this run (not those replayed from a reset)."""
        with self._store.cond:
            run = self._store.runs.get(run_id)
            if run is None:
                raise KeyError(f"no run {run_id}")
            return list(run.invocations)

    @property
    def code_version(self) -> int:
        with self._store.cond:
            return self._store.code_version

    @code_version.setter
    def code_version(self, value: int) -> None:
        with self._store.cond:
            self._store.code_version = value

    # --- worker reloads and the catalog workflow ------------------------------------------

    def catalog_run_id(self) -> str:
        with self._store.cond:
            return self._store.catalog_run().run_id

    def reload_worker(
        self,
        delay_s: float,
        change_hash: bool = True,
        *,
        new_code_version: int | None = None,
        pause_worker: bool = True,
    ) -> None:
        """Simulate the worker restart after a source edit (docs/output-api.md §6).

        Until `delay_s` has passed, GET /workflow/catalog blocks and (with `pause_worker`) no
        workflow task or new activity runs, while in-flight activities finish on the old code.
        Then a new worker (new pid) takes over with `new_code_version`, and the catalog workflow
        gets a new run id if `change_hash` (a `.md`-only edit keeps it).
        """
        reload = Reload(time.monotonic() + delay_s, change_hash, new_code_version, pause_worker)
        self._store.begin_reload(reload)

    # --- requests and faults -----------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        return self._log.snapshot()

    @property
    def answers(self) -> list[tuple[str, str, float]]:
        """(method, path, time.monotonic()) of each response written out in full."""
        return self._log.answers()

    def clear_requests(self) -> None:
        self._log.clear()

    def wait_for_request(
        self, predicate: Callable[[RecordedRequest], bool], timeout: float = 5.0
    ) -> RecordedRequest:
        return self._log.wait_for(predicate, timeout)

    def reset_requests(self) -> list[RecordedRequest]:
        """The reset POSTs received so far (pinned and deprecated routes)."""
        return [
            request
            for request in self._log.snapshot()
            if request.method == "POST" and re.match(_RESET_PATH, request.path)
        ]

    def inject(
        self,
        method: str,
        path_regex: str,
        *,
        status: int = 500,
        body: Any = None,
        content_type: str | None = None,
        headers: dict[str, str] | None = None,
        times: int | None = 1,
    ) -> None:
        """Answer the next `times` matching requests with a canned response (None: always)."""
        response = CannedResponse.of(status, body, content_type, headers)
        self._faults.respond(method, path_regex, response, times)

    def inject_delay(
        self, method: str, path_regex: str, seconds: float, times: int | None = 1
    ) -> None:
        self._faults.delay(method, path_regex, seconds, times)

    def drop_response(self, method: str, path_regex: str, times: int | None = 1) -> None:
        """Process matching requests for real, then close the connection without answering."""
        self._faults.drop(method, path_regex, times)

    def clear_faults(self) -> None:
        self._faults.clear()

    def set_down(self, down: bool) -> None:
        """API down: close the listening socket (connections are refused) and every connection;
        `set_down(False)` listens on the same port again. The worker keeps running meanwhile."""
        with self._down_lock:
            if not self._started:
                raise RuntimeError("FakeOutputApi is not started")
            if down and self._server is not None:
                self._server.close()
                self._server = None
            elif not down and self._server is None:
                self._server = ApiServer(self._app, self._port)
                self._server.start()
