"""Reaction: file closed -> reset POST received at the API, minus the debounce window.

`output-reset watch --no-wait-worker --no-follow` runs as a subprocess against an in-process
FakeOutputApi on loopback; beside it, on the same writes, `floor.py` (raw inotify + one keep-alive
POST) gives the physical floor. Both requests are timed by the fake (`received_at`, the monotonic
clock when the request was read), the write by `time.monotonic()` right after `close()`.
"""

from __future__ import annotations

import contextlib
import json
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import (
    Section,
    Target,
    median,
    percentile,
    say,
    temp_tree,
    watching,
    write_file,
)
from tests.cli_process import Cli
from tests.fakeapi import FakeOutputApi, RecordedRequest, Step

PROMPTS = "src/workflows/probe_three/prompts"
CONFIG = """\
api:
  url: {url}
debounce_ms: {debounce}
workflows:
  - id: {workflow_id}
    rules:
      - files: {prompts}/polish@v1.prompt
        rerun: polishDraft
      - files: {prompts}/draft@v1.prompt
        rerun: draftOutline
"""
OVERHEAD_P50_MS = 10.0
OURS_P99_MS = 50.0


@dataclass(slots=True)
class Trial:
    ours_ms: float  # reset POST - close - debounce
    floor_ms: float  # floor POST - close
    to_status_ms: float  # debounce end -> first API request of the reset (GET status)
    to_history_ms: float  # that -> last GET history
    to_reset_ms: float  # last GET history -> POST reset
    pages: int  # history pages the daemon read for this reset
    events: int  # events in the history of the run it reset


@dataclass(slots=True)
class Series:
    debounce_ms: int
    trials: list[Trial] = field(default_factory=list)
    first_ms: float = float("nan")  # the first reset after start (not in the trials)
    ready_s: float = float("nan")


def _is_reset(request: RecordedRequest) -> bool:
    return request.method == "POST" and request.path.endswith("/reset")


@contextlib.contextmanager
def floor_watcher(folder: Path, url: str) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("floor.py")), str(folder), url],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError(f"the floor watcher did not start (said {line!r})")
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


class Writer:
    """`writer.py` in its own process: the write and its timestamp, free of our threads."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("writer.py"))],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def write(self, path: Path, text: str) -> float:
        """Write `text` to `path`; the monotonic time right after its close."""
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(json.dumps({"path": str(path), "text": text}) + "\n")
        self.process.stdin.flush()
        return float(self.process.stdout.readline())

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


def _trial(
    fake: FakeOutputApi, writer: Writer, target: Path, text: str, debounce_s: float
) -> Trial:
    # Requests are matched as "new since the write", not by time: on 2 cores the floor's
    # process can preempt the writer between close() and its clock read (floor < 0 then).
    before = {id(r) for r in fake.requests}
    closed = writer.write(target, text)
    reset = fake.wait_for_request(lambda r: _is_reset(r) and id(r) not in before, timeout=15)
    floor = fake.wait_for_request(lambda r: r.path == "/floor" and id(r) not in before, timeout=5)
    ours = [
        r
        for r in fake.requests
        if id(r) not in before
        and r.received_at < reset.received_at
        and r.headers.get("user-agent") == "output-reset"
    ]
    status = next((r for r in ours if r.path.endswith("/status")), None)
    histories = [r for r in ours if r.path.endswith("/history")]
    due = closed + debounce_s
    first = status.received_at if status is not None else reset.received_at
    last_read = histories[-1].received_at if histories else first
    return Trial(
        ours_ms=(reset.received_at - due) * 1000,
        floor_ms=(floor.received_at - closed) * 1000,
        to_status_ms=(first - due) * 1000,
        to_history_ms=(last_read - first) * 1000,
        to_reset_ms=(reset.received_at - last_read) * 1000,
        pages=len(histories),
        events=len(fake.history(reset.path.split("/")[2], reset.path.split("/")[4])),
    )


def _settle(fake: FakeOutputApi, cli: Cli, workflow_id: str) -> None:
    """Wait until the daemon printed the new run and the fake finished running it."""
    cli.expect("new run", timeout=15)
    fake.wait_closed(workflow_id, fake.latest_run(workflow_id), timeout=15)


def measure(trials: int, debounces: tuple[int, ...] = (300, 50)) -> list[Series]:
    results: list[Series] = []
    with FakeOutputApi() as fake, temp_tree("reaction") as project:
        fake.define_workflow(
            "probe_three", [Step("extractTopics"), Step("draftOutline"), Step("polishDraft")]
        )
        prompts = project / PROMPTS
        files = (prompts / "polish@v1.prompt", prompts / "draft@v1.prompt")
        for path in files:
            write_file(path, f"<user>{path.stem} v1</user>\n")
        writer = Writer()
        with contextlib.closing(writer), floor_watcher(prompts, fake.url):
            for debounce in debounces:
                # A workflow id per series: each starts from a fresh 31-event run.
                workflow_id = f"wf-{debounce}"
                first_run = fake.start_run("probe_three", workflow_id, {"text": "alpha beta"})
                fake.wait_closed(workflow_id, first_run)
                (project / "output-reset.yaml").write_text(
                    CONFIG.format(
                        url=fake.url, workflow_id=workflow_id, debounce=debounce, prompts=PROMPTS
                    )
                )
                series = Series(debounce)
                rng = random.Random(debounce)
                with watching(project, "--no-wait-worker", "--no-follow") as (cli, ready_s):
                    series.ready_s = ready_s
                    for i in range(trials + 1):
                        time.sleep(rng.uniform(0.05, 0.15))  # no fixed phase with any timer
                        # Files alternate; each file's content alternates A/B (and never
                        # matches what the previous series left), so every write is a change.
                        target = files[i % 2]
                        text = f"<user>{target.stem} ({debounce} ms) {'AB'[i // 2 % 2]}</user>\n"
                        trial = _trial(fake, writer, target, text, debounce / 1000)
                        if i == 0:
                            series.first_ms = trial.ours_ms  # warm-up: not in the figures
                        else:
                            series.trials.append(trial)
                        _settle(fake, cli, workflow_id)
                results.append(series)
                fake.clear_requests()
    return results


def run(quick: bool) -> Section:
    trials = 20 if quick else 100
    say(f"reaction: {trials} trials per debounce value (plus one warm-up each) ...")
    section = Section("1. Reaction: file closed -> reset POST received, minus the debounce")
    section.setup = [
        "`output-reset watch --no-wait-worker --no-follow` as a subprocess, FakeOutputApi on "
        "127.0.0.1 in the benchmark process, workflow probe_three (3 steps, completed; a fresh "
        "run per debounce value), two prompt files mapped (polish@v1 -> rerun polishDraft, "
        "draft@v1 -> rerun draftOutline).",
        "Each trial: open/write/close one prompt (the two files alternate, and each file's "
        "content alternates A/B, so every write is a real change) in a small writer process "
        "(bench/writer.py: no thread of ours can delay its clock), t = monotonic() right after "
        "close; wait for the reset POST at the fake, then for the daemon's `new run` line and "
        "the new run to complete; 50-150 ms random pause. ours = reset.received_at - t - "
        "debounce.",
        "Floor, same writes, same run: `bench/floor.py` in its own process, raw inotify "
        "(ctypes) on the prompts folder, POST /floor (404) over one keep-alive http.client "
        "connection on IN_CLOSE_WRITE/IN_MOVED_TO. floor = floor.received_at - t.",
        f"{trials} measured trials per debounce value; the first reset after start is "
        "reported on its own (warm-up, not in the percentiles). Every reset starts a new run "
        "whose history carries the earlier reset markers, so the pinned history grows along a "
        "series (shown below).",
    ]
    table = section.table("debounce", "series", "p50 ms", "p90 ms", "p99 ms", "max ms")
    ratio = section.table(
        "debounce",
        "ours/floor p50",
        "ours/floor p99",
        "overhead p50 ms",
        "overhead p99 ms",
        "paired diff p50 ms",
        "paired diff p99 ms",
        "first reset ms",
        "start to ready s",
    )
    parts = section.table(
        "debounce",
        "debounce end -> GET status (p50 / p99 ms)",
        "GET status -> last GET history",
        "last GET history -> POST reset",
    )
    drift = section.table(
        "debounce",
        "pinned history, events (first -> last trial)",
        "history pages per reset (min-max)",
        "ours p50, first 20 trials ms",
        "ours p50, last 20 trials ms",
    )
    for series in measure(trials):
        d = f"{series.debounce_ms} ms"
        runs = series.trials
        ours = [t.ours_ms for t in runs]
        floor = [t.floor_ms for t in runs]
        diff = [t.ours_ms - t.floor_ms for t in runs]
        for name, values in (("ours", ours), ("floor", floor)):
            table.add(
                d,
                name,
                percentile(values, 50),
                percentile(values, 90),
                percentile(values, 99),
                max(values),
            )
        p50 = percentile(ours, 50) - percentile(floor, 50)
        p99 = percentile(ours, 99) - percentile(floor, 99)
        ratio.add(
            d,
            percentile(ours, 50) / percentile(floor, 50),
            percentile(ours, 99) / percentile(floor, 99),
            p50,
            p99,
            percentile(diff, 50),
            percentile(diff, 99),
            series.first_ms,
            series.ready_s,
        )
        segments = (
            [t.to_status_ms for t in runs],
            [t.to_history_ms for t in runs],
            [t.to_reset_ms for t in runs],
        )
        parts.add(d, *(f"{median(s):.2f} / {percentile(s, 99):.2f}" for s in segments))
        pages = [t.pages for t in runs]
        drift.add(
            d,
            f"{runs[0].events} -> {runs[-1].events}",
            f"{min(pages)}-{max(pages)}",
            median(ours[:20]),
            median(ours[-20:]),
        )
        section.targets.append(
            Target(f"overhead over the floor at p50, debounce {d}", p50, OVERHEAD_P50_MS, "ms")
        )
        section.targets.append(
            Target(f"our p99, debounce {d}", percentile(ours, 99), OURS_P99_MS, "ms")
        )
    section.notes.append(
        "overhead = ours - floor, taken at the same percentile; 'paired diff' is the percentile "
        "of the per-trial differences. Segments come from the fake's request log (the daemon's "
        "own requests between the close and its reset POST); the fake serves from the "
        "benchmark's own process, so its response times are in them."
    )
    return section
