"""Planning over long histories: 1,000, 10,000 and 50,000 events.

(a) Pure: the serialized events are built beforehand (`bench.histories`); timed are
`RunHistory.feed` (in pages of 50, as the client feeds them) and `runner.plan.plan` for a burst
that changed four rules; peak memory of both with tracemalloc.
(b) Through HTTP: a FakeOutputApi in its own process serves such a history; timed are
`OutputApi.history()` (every page) and the same plan, as `Resetter.decide` does it.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from bench import histories
from bench.common import REPO, Section, Target, median, say
from runner.config import Action, Rule
from runner.history import RunHistory
from runner.output_api import PAGE_SIZE, ApiSettings, OutputApi
from runner.plan import Change, Decision, plan

TARGET_S = 0.5
TARGET_EVENTS = 10_000
PROMPTS = "src/workflows/probe_long/prompts"


def changes() -> list[Change]:
    """One burst, four rules: the loop step, the step after it, a reset_after, the last step."""
    rules: list[tuple[Action, str]] = [
        ("rerun", histories.LOOP_STEP),
        ("rerun", histories.TAIL_STEPS[0]),
        ("reset_after", histories.HEAD_STEPS[1]),
        ("rerun", histories.TAIL_STEPS[-1]),
    ]
    return [
        Change(
            rule=Rule(files=(f"{PROMPTS}/{step}@v1.prompt",), action=action, step=step, line=i),
            files=(f"{PROMPTS}/{step}@v1.prompt",),
        )
        for i, (action, step) in enumerate(rules, 1)
    ]


@dataclass(frozen=True, slots=True)
class Pure:
    events: int
    megabytes: float  # the events as JSON
    feed_s: float
    plan_s: float
    peak_mb: float
    decision: str

    @property
    def total_s(self) -> float:
        return self.feed_s + self.plan_s


@dataclass(frozen=True, slots=True)
class OverHttp:
    source: str  # "injected" or "fake worker"
    events: int
    build_s: float  # how long the fake took to make the history
    pages: int
    history_s: float
    plan_s: float
    client_cpu_s: float  # this process's CPU for history() + plan (the server is elsewhere)
    decision: str

    @property
    def total_s(self) -> float:
        return self.history_s + self.plan_s


def _describe(decision: Decision) -> str:
    return f"{decision.kind} after {decision.anchor}" if decision.anchor else decision.kind


def _feed(events: Sequence[dict[str, Any]]) -> RunHistory:
    history = RunHistory(workflow_id="wf-long", run_id="run")
    for start in range(0, len(events), PAGE_SIZE):
        history.feed(events[start : start + PAGE_SIZE])
    return history


def pure(size: int, repeats: int) -> Pure:
    events = histories.build(size)
    burst = changes()
    feeds: list[float] = []
    plans: list[float] = []
    decision: Decision | None = None
    for _ in range(repeats):
        started = time.perf_counter()
        history = _feed(events)
        fed = time.perf_counter()
        decision = plan(burst, history)
        feeds.append(fed - started)
        plans.append(time.perf_counter() - fed)
    tracemalloc.start()
    try:
        plan(burst, _feed(events))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert decision is not None
    return Pure(
        events=len(events),
        megabytes=len(json.dumps(events)) / 1e6,
        feed_s=median(feeds),
        plan_s=median(plans),
        peak_mb=peak / 1e6,
        decision=_describe(decision),
    )


class _Counting(httpx.HTTPTransport):
    def __init__(self) -> None:
        super().__init__()
        self.requests = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        return super().handle_request(request)


@contextlib.contextmanager
def fake_server(mode: str, size: int) -> Iterator[dict[str, Any]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.fakeserver", mode, str(size)],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"the fake server ({mode} {size}) did not start")
        yield json.loads(line)
    finally:
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def over_http(mode: str, size: int, repeats: int) -> OverHttp:
    with fake_server(mode, size) as served:
        settings = ApiSettings(
            url=served["url"], token=None, token_env="OUTPUT_API_AUTH_TOKEN", catalog="main"
        )
        transport = _Counting()
        api = OutputApi(settings, transport=transport)
        burst = changes()
        try:
            api.status(served["workflow_id"], served["run_id"])  # connect once, as a daemon has
            fetches: list[float] = []
            plans: list[float] = []
            cpus: list[float] = []
            decision: Decision | None = None
            pages = 0
            for _ in range(repeats):
                before = transport.requests
                cpu = time.process_time()
                started = time.perf_counter()
                history = api.history(served["workflow_id"], served["run_id"])
                fetched = time.perf_counter()
                decision = plan(burst, history)
                fetches.append(fetched - started)
                plans.append(time.perf_counter() - fetched)
                cpus.append(time.process_time() - cpu)
                pages = transport.requests - before
        finally:
            api.close()
    assert decision is not None
    return OverHttp(
        source="injected" if mode == "inject" else "fake worker",
        events=int(served["events"]),
        build_s=float(served["build_s"]),
        pages=pages,
        history_s=median(fetches),
        plan_s=median(plans),
        client_cpu_s=median(cpus),
        decision=_describe(decision),
    )


def run(quick: bool) -> Section:
    sizes = (1_000, 10_000, 50_000)
    repeats = 3 if quick else 7
    worker_sizes = (1_000,) if quick else (1_000, 10_000)
    section = Section("4. Planning over long histories")
    say(f"planning: pure feed + plan, {', '.join(f'{s:,}' for s in sizes)} events ...")
    pures = [pure(size, repeats) for size in sizes]
    say("planning: through HTTP (fake in its own process, pages of 50) ...")
    https = [over_http("inject", size, repeats) for size in sizes]
    for size in worker_sizes:
        say(f"planning: the fake's worker generating {size:,} events ...")
        https.append(over_http("worker", size, repeats))
    section.setup = [
        "Histories: a completed run of probe_long (getTraceDestinations, prepare, fetch, "
        "extract, `score` in a loop, summarize, publish), each event a renumbered copy of the "
        "recorded event of its type (recording 1-06: headers, timeouts, retry policies).",
        "One burst changes four rules: rerun score, rerun summarize, reset_after fetch, "
        "rerun publish; the earliest reset point wins (reset after fetch).",
        f"(a) pure: feed in pages of {PAGE_SIZE} + plan, median of {repeats}; peak memory of "
        "one feed + plan under tracemalloc (the prebuilt event list not counted).",
        "(b) HTTP: `OutputApi.history()` (pageSize 50, includePayloads false) + plan against a "
        "FakeOutputApi in a separate process; 'injected' runs are added to the fake's store "
        "directly (`FakeOutputApi.add_closed_run`), 'fake worker' runs are produced by its "
        f"simulated worker (a Loop). Median of {repeats}, after one warm-up request.",
    ]
    table = section.table(
        "(a) events",
        "JSON MB",
        "feed s",
        "plan s",
        "feed + plan s",
        "peak MB",
        "decision",
    )
    for p in pures:
        table.add(p.events, p.megabytes, p.feed_s, p.plan_s, p.total_s, p.peak_mb, p.decision)
    table = section.table(
        "(b) history",
        "events",
        "fake built it in s",
        "pages",
        "history() s",
        "plan s",
        "history + plan s",
        "client CPU s",
        "decision",
    )
    for h in https:
        table.add(
            h.source,
            h.events,
            h.build_s,
            h.pages,
            h.history_s,
            h.plan_s,
            h.total_s,
            h.client_cpu_s,
            h.decision,
        )
    ten_pure = next(p for p in pures if abs(p.events - TARGET_EVENTS) < 100)
    ten_http = next(h for h in https if abs(h.events - TARGET_EVENTS) < 100)
    section.targets.append(
        Target("planning, 10,000 events, pure feed + plan", ten_pure.total_s, TARGET_S, "s")
    )
    section.targets.append(
        Target(
            "planning, 10,000 events, history() over HTTP + plan", ten_http.total_s, TARGET_S, "s"
        )
    )
    if quick:
        section.notes.append("--quick: the fake's worker generates only the 1,000-event run.")
    else:
        ten = next(h for h in https if h.source == "fake worker" and h.events > 5_000)
        section.notes.append(
            "The fake's worker is not asked for 50,000 events: it replays the whole history at "
            f"every workflow task (quadratic); 10,000 events took it {ten.build_s:.0f} s, so "
            f"50,000 would take about {ten.build_s * 25 / 60:.0f} min."
        )
    return section
