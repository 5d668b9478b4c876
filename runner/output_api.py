"""The Output HTTP API as an `Engine` (the one module importing httpx).

Every route used here is described in docs/output-api.md §3; quirks handled on purpose are
marked with their section. One `httpx.Client` is reused (a new one per request costs 30-100 ms
on loopback), and httpx exceptions never leave this module: they become `ApiError`s that say
what to do.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from runner.api_answers import Answer, epoch_ms, iso_seconds, one_line_of, parsed
from runner.config import ApiConfig
from runner.config.syntax import url_problem
from runner.engine import OnSteps, RunStatus, WorkflowResult
from runner.environment import Environment
from runner.errors import (
    ApiError,
    AuthError,
    BadAnswer,
    NoSuchWorkflow,
    ResetOutcomeUnknown,
    UsageError,
    one_line,
)
from runner.history import Activity, RunHistory

log = logging.getLogger(__name__)

DEFAULT_URL = "http://localhost:3001"
PAGE_SIZE = 50  # the API's maximum (§3.4)
RUN_TIMEOUT_MIN_MS = 250  # POST /workflow/run refuses a shorter `timeout` (§3.12)
# A history longer than this is a server that does not end its paging (Temporal itself stops a
# history at 51,200 events, about 1,000 full pages).
MAX_PAGES = 10_000


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiSettings:
    url: str
    token: str | None
    token_env: str
    catalog: str

    @property
    def shown_url(self) -> str:
        """The URL for messages: a password in it is sent, never shown."""
        return masked(self.url)

    @property
    def plain_http_remote(self) -> bool:
        """A token would travel unencrypted to another machine."""
        parts = urlsplit(self.url)
        host = parts.hostname or ""
        return parts.scheme == "http" and host not in {"localhost", "127.0.0.1", "::1"}


def resolve_settings(api: ApiConfig, env: Mapping[str, str]) -> ApiSettings:
    """URL: OUTPUT_API_URL, the config's url, OUTPUT_API_HOST_PORT, the default
    (docs/output-api.md §1.1). A value httpx cannot use is a UsageError naming its variable."""
    if env.get("OUTPUT_API_URL"):
        url = env["OUTPUT_API_URL"]
        problem = url_problem(url)
        if problem is not None:
            shown = _variable(env, "OUTPUT_API_URL", masked(url))
            raise UsageError(f"{shown} is not a URL ({problem})")
    elif api.url:
        url = api.url  # checked by the config's reader
    elif env.get("OUTPUT_API_HOST_PORT"):
        port = env["OUTPUT_API_HOST_PORT"]
        if not (port.isascii() and port.isdigit() and len(port) <= 5 and 0 < int(port) < 65536):
            shown = _variable(env, "OUTPUT_API_HOST_PORT", port)
            raise UsageError(f"{shown} is not a port number (such as 3001)")
        url = f"http://localhost:{port}"
    else:
        url = DEFAULT_URL
    token = env.get(api.token_env) or None
    if token is not None and not all("!" <= c <= "~" for c in token):
        raise UsageError(
            f"{_variable(env, api.token_env)} cannot be sent in an HTTP header (it has a "
            "control or non-ASCII character)"
        )
    return ApiSettings(
        url=url.rstrip("/"),
        token=token,
        token_env=api.token_env,
        catalog=env.get("OUTPUT_CATALOG_ID") or api.catalog or "main",
    )


def masked(url: str) -> str:
    """The URL with the password in it (if any) replaced by ***: for messages."""
    scheme, sep, rest = url.partition("://")
    netloc = re.split(r"[/?#]", rest, maxsplit=1)[0]
    userinfo, at, host = netloc.rpartition("@")
    user, colon, _ = userinfo.partition(":")
    if not (sep and at and colon):
        return url
    return f"{scheme}://{user}:***@{host}{rest[len(netloc) :]}"


def _variable(env: Mapping[str, str], name: str, value: str | None = None) -> str:
    """`NAME="value" (from /p/.env)`, control characters escaped; the value only when given
    (a token is never shown)."""
    shown = name if value is None else f'{name}="{one_line(value)}"'
    source = env.files.get(name) if isinstance(env, Environment) else None
    return f"{shown} (from {source})" if source is not None else shown


class OutputApi:
    """A client for one Output API; thread-safe (httpx.Client is)."""

    def __init__(
        self,
        settings: ApiSettings,
        *,
        timeout_s: float = 30.0,
        long_poll_ms: int = 5000,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.description = f"Output API at {settings.shown_url}"
        self.resets_by_event = False
        self.watches_worker = True
        self._long_poll_ms = long_poll_ms
        headers = {"Accept": "application/json", "User-Agent": "output-reset"}
        if settings.token:
            headers["Authorization"] = f"Basic {settings.token}"
        self._client = httpx.Client(
            base_url=settings.url,
            headers=headers,
            timeout=httpx.Timeout(timeout_s, connect=5.0),
            transport=transport,
        )

    def close(self) -> None:
        self._client.close()

    # -- reads -----------------------------------------------------------------------------

    def status(self, workflow_id: str, run_id: str | None = None) -> RunStatus:
        path = _wf(workflow_id) + (f"/runs/{quote(run_id)}" if run_id else "") + "/status"
        answer = self._json("GET", path)
        return RunStatus(
            workflow_id=answer.text("workflowId") or workflow_id,
            run_id=answer.required("runId", run_id),
            status=answer.text("status") or "unspecified",
            started_at=epoch_ms(answer.get("startedAt")),
        )

    def runs_of_type(self, workflow_type: str) -> list[RunStatus]:
        rows = self._runs(workflowType=workflow_type)
        return sorted(rows, key=lambda r: r.started_at or 0.0, reverse=True)

    def _runs(self, **query: str) -> list[RunStatus]:
        answer = self._json("GET", "/workflow/runs", params={**query, "limit": "1000"})
        return [
            RunStatus(
                workflow_id=row.required("workflowId"),
                run_id=row.required("runId"),
                status=row.text("status") or "unspecified",
                started_at=iso_seconds(row.get("startedAt")),
                workflow_type=row.text("workflowType"),
            )
            for row in answer.rows("runs")
        ]

    def history(self, workflow_id: str, run_id: str, *, payloads: bool = False) -> RunHistory:
        history = RunHistory(workflow_id=workflow_id, run_id=run_id)
        for page, _ in self._pages(history, payloads=payloads):
            _note_status(history, page.get("workflow"))
        return history

    def follow(
        self,
        history: RunHistory,
        *,
        on_steps: OnSteps,
        stop: threading.Event,
        payloads: bool = False,
    ) -> None:
        """Long-poll the pinned history (§3.5) until the run closes.

        The end is the terminal event or a null token, never `workflow.status`: the metadata of
        a long-poll page is read before the wait and can still say "running". Failures are
        raised; the caller decides whether to follow again (events already seen are skipped).
        """
        for _, done in self._pages(history, payloads=payloads, stop=stop):
            if done:
                on_steps(done)

    def _pages(
        self, history: RunHistory, *, payloads: bool, stop: threading.Event | None = None
    ) -> Iterator[tuple[Answer, list[Activity]]]:
        """Each page of the run's history (§3.4) with the activities it closed, folded into
        `history` as it comes; with `stop`, a long poll (§3.5) until the run closes.

        A server that never ends the paging gets a BadAnswer: plain paging may not repeat a
        token and ends within MAX_PAGES pages; a long poll repeats its token while nothing
        happens, so it may go MAX_PAGES pages in a row without a new event.
        """
        path = f"{_wf(history.workflow_id)}/runs/{quote(history.run_id)}/history"
        params = {"pageSize": str(PAGE_SIZE), "includePayloads": _bool(payloads)}
        timeout = None
        if stop is not None:
            params["longPollTimeoutMs"] = str(self._long_poll_ms)
            timeout = self._long_poll_ms / 1000 + 15
        token: str | None = None
        seen: set[str] = set()
        idle = 0
        while stop is None or not (stop.is_set() or history.closed):
            asked = {**params, "pageToken": token} if token else params
            page = self._json("GET", path, params=asked, timeout=timeout)
            before, events = history.last_event_id, page.items("events")
            try:
                done = history.feed(events)
            except BadAnswer as exc:
                raise page.bad(f"a history that does not fit: {exc}") from None
            yield page, done
            token = page.text("nextPageToken")
            if not token:
                return
            if stop is None and token in seen:
                raise page.bad(
                    "the nextPageToken of an earlier page; "
                    f"stopped reading after {len(seen) + 1} pages"
                )
            seen.add(token)
            idle = 0 if stop is not None and history.last_event_id > before else idle + 1
            if idle >= MAX_PAGES:
                raise page.bad(
                    f"{MAX_PAGES} long-poll pages in a row without a new event; stopped following"
                    if stop is not None
                    else f"more than {MAX_PAGES} pages; stopped reading"
                )

    def run_input(self, workflow_id: str, run_id: str) -> Any:
        return self._json("GET", f"{_wf(workflow_id)}/runs/{quote(run_id)}/input").get("input")

    def trace(self, workflow_id: str, run_id: str) -> Any:
        """The trace tree (§3.10): inline when remote, else read from the local path."""
        try:
            body = self._json("GET", f"{_wf(workflow_id)}/runs/{quote(run_id)}/trace-log")
        except ApiError as exc:
            if isinstance(exc, AuthError):
                raise
            return None  # 404 TraceNotAvailable (disableTrace), 424 still running, ...
        if body.get("source") == "remote":
            return body.get("data")
        local = body.get("localPath")
        if not isinstance(local, str) or not os.path.isfile(local):
            return None  # the path is the worker's; it may not be reachable from here
        try:
            with open(local, encoding="utf-8") as handle:
                return json.load(handle)
        except (OSError, ValueError, RecursionError):
            return None

    # -- writes (never retried: a reset is not idempotent, §5.5) ----------------

    def reset(
        self, workflow_id: str, run_id: str, *, step: str | None, event_id: int | None, reason: str
    ) -> str:
        if step is None:
            raise ApiError("the Output API resets after a named step; no step was given")
        path = f"{_wf(workflow_id)}/runs/{quote(run_id)}/reset"
        what = f"the reset request to {self.settings.shown_url}"
        response = self._send("POST", path, once=what, json={"stepName": step, "reason": reason})
        try:
            body = self._check(response, step=step, run_id=run_id, workflow_id=workflow_id)
        except ApiError as exc:
            # A 5xx other than the unmapped NOT_FOUND: the API may have reset before failing.
            if exc.retryable and (exc.status or 0) >= 500:
                raise ResetOutcomeUnknown(f"{what} failed ({exc}); it may have happened") from None
            raise
        new_run = body.get("runId")
        if not isinstance(new_run, str) or not new_run:
            raise ResetOutcomeUnknown("the reset answer carried no new run id", retryable=False)
        return new_run

    def find_reset(self, workflow_id: str, base_run_id: str, token: str) -> str | None:
        """Look for the run our reset created: its last reset marker names `base_run_id`
        and its reason carries `token` (§4.7)."""
        base = self.history(workflow_id, base_run_id)
        latest = self.status(workflow_id)
        candidates = [latest.run_id]
        if base.workflow_type:
            runs = self.runs_of_type(base.workflow_type)
            candidates += [r.run_id for r in runs if r.workflow_id == workflow_id][:5]
        for run_id in dict.fromkeys(candidates):
            if run_id == base_run_id:
                continue
            history = self.history(workflow_id, run_id, payloads=True)
            marker = history.reset_marker_to(base_run_id)
            if marker is not None and token in (marker.reason or ""):
                return run_id
        return None

    def start(self, workflow_type: str, workflow_id: str, input: Any) -> str:
        body: dict[str, Any] = {"workflowName": workflow_type, "workflowId": workflow_id}
        if input is not None:
            body["input"] = input
        what = f"the start request to {self.settings.shown_url}"
        response = self._send("POST", "/workflow/start", once=what, json=body)
        try:
            answer = self._check(response, workflow_id=workflow_id)
        except ApiError as exc:
            if (
                exc.status in (500, 502, 504)
                and exc.error != "WorkflowExecutionAlreadyStartedError"
            ):
                raise ResetOutcomeUnknown(
                    f"{what} failed ({exc}); a run may have started"
                ) from None
            raise
        run_id = answer.get("runId")
        if not isinstance(run_id, str) or not run_id:
            return self.status(workflow_id).run_id
        return run_id

    def run_workflow(self, workflow_type: str, input: Any, *, timeout_s: float) -> WorkflowResult:
        """POST /workflow/run: start and wait (docs/output-api.md §3.12, §8.6). A run that
        failed is a 200 too (its status and error say so); a 424 says the worker does not know
        the workflow; a 408 that it did not end in time (it keeps running)."""
        wait_ms = max(RUN_TIMEOUT_MIN_MS, math.ceil(timeout_s * 1000))
        body: dict[str, Any] = {"workflowName": workflow_type, "timeout": wait_ms}
        if input is not None:
            body["input"] = input
        response = self._send("POST", "/workflow/run", json=body, timeout=wait_ms / 1000 + 30)
        if response.status_code == 408:
            answered = parsed(response.headers.get("content-type", ""), response.content)
            run = answered.get("workflowId") if isinstance(answered, dict) else None
            raise ApiError(
                one_line(
                    f"{workflow_type} did not finish within {wait_ms / 1000:g} s (the Output API "
                    f"answered 408); it keeps running{f' as workflow {run}' if run else ''}"
                ),
                status=408,
                error="WorkflowExecutionTimedOutError",
            )
        try:
            answer = self._check(response)
        except ApiError as exc:
            if exc.status == 424:
                raise NoSuchWorkflow(
                    f"the worker has no workflow {workflow_type} ({exc})", status=424
                ) from None
            raise
        error = answer.get("error")
        message = error.get("message") if isinstance(error, dict) else error
        return WorkflowResult(
            workflow_id=answer.required("workflowId"),
            run_id=answer.text("runId"),
            status=answer.required("status"),
            output=answer.get("output"),
            error=str(message) if message else None,
        )

    def terminate(self, workflow_id: str, run_id: str, reason: str) -> None:
        self._json(
            "POST", f"{_wf(workflow_id)}/runs/{quote(run_id)}/terminate", json={"reason": reason}
        )

    # -- the worker (§6.2) ---------------------------------------------------------

    def worker_status(self) -> RunStatus | None:
        return self.status(self.settings.catalog)

    def wait_worker_answers(self) -> None:
        self._json("GET", f"/workflow/catalog/{quote(self.settings.catalog)}", timeout=90.0)

    # -- plumbing ---------------------------------------------------------------------------

    def _json(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        timeout: float | None = None,
    ) -> Answer:
        extra: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
        return self._check(self._send(method, path, params=params, json=json, **extra))

    def _send(
        self, method: str, path: str, *, once: str | None = None, **kw: Any
    ) -> httpx.Response:
        """One request, its transport failures translated. `once` names a write that must not
        be repeated: if it may have reached the API but no answer came, say it may have
        happened (the caller then looks for its effect instead of sending it again)."""
        try:
            return self._client.request(method, path, **kw)
        except httpx.ConnectError as exc:
            raise self._unreachable(exc) from None  # nothing was sent: safe to try later
        except httpx.HTTPError as exc:
            if once is not None:
                raise ResetOutcomeUnknown(
                    f"{once} got no answer ({_why(exc)}); it may have happened"
                ) from None
            raise self._unreachable(exc) from None
        except RuntimeError:  # httpx refuses requests on a closed client: we are stopping
            raise ApiError("the Output API client is closed (output-reset is stopping)") from None

    def _check(
        self,
        response: httpx.Response,
        *,
        step: str | None = None,
        run_id: str | None = None,
        workflow_id: str | None = None,
    ) -> Answer:
        status = response.status_code
        route = f"{response.request.method} {response.request.url.path}"
        body = parsed(response.headers.get("content-type", ""), response.content)
        if 200 <= status < 300:
            return Answer.of(route, body, response.text)
        if status == 401:
            raise AuthError(
                f"the Output API at {self.settings.shown_url} refused the request "
                f"(401 Unauthorized): set {self.settings.token_env} to the API's "
                "OUTPUT_API_AUTH_TOKEN",
                status=401,
            )
        envelope = body if isinstance(body, dict) else {}
        error = envelope.get("error") if isinstance(envelope.get("error"), str) else None
        message = envelope.get("message")
        text = one_line_of(message) if isinstance(message, str) else ""
        if status == 500 and text.startswith("5 NOT_FOUND"):
            # The pinned reset route does not map Temporal's NOT_FOUND (§2.2).
            what = f"run {run_id} of workflow {workflow_id}" if run_id else "that workflow run"
            raise ApiError(
                f"{what} does not exist (the API said: {text})",
                status=status,
                error=error or "NotFound",
            )
        if error == "StepNotFoundError" and step:
            text = f'step "{step}" was not found in run {run_id} ({text.rstrip(".")})'
        elif error == "StepNotCompletedError" and step:
            text = (
                f'step "{step}" has not completed in run {run_id}, so the API cannot reset after it'
            )
        else:
            # Status, reason and one line: a proxy's error page can be kilobytes of HTML.
            detail = (f"{error}: {text}" if error else text) if text else one_line_of(response.text)
            reason = httpx.codes.get_reason_phrase(status)
            text = one_line(
                f"the Output API answered {route} "
                f"with {status}{f' {reason}' if reason else ''}{f': {detail}' if detail else ''}"
            )
        raise ApiError(
            text, status=status, error=error, retryable=status >= 500 or status in (408, 429)
        )

    def _unreachable(self, exc: httpx.HTTPError) -> ApiError:
        return ApiError(
            f"cannot reach the Output API at {self.settings.shown_url} ({_why(exc)}); "
            "is `npx output dev` running?",
            retryable=True,
        )


def _note_status(history: RunHistory, meta: Any) -> None:
    """Trust page metadata only for what events cannot say (a closed run's final status)."""
    if isinstance(meta, dict) and not history.closed and meta.get("closeTime"):
        status = meta.get("status")
        if isinstance(status, str) and status != "running":
            history.status = status


def _wf(workflow_id: str) -> str:
    return f"/workflow/{quote(workflow_id, safe='')}"


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _why(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.ConnectError):
        return "connection refused" if "refused" in str(exc).lower() else f"cannot connect: {exc}"
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "the connection closed without an answer"
    return str(exc) or type(exc).__name__
