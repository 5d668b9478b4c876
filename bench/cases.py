"""Dataset fan-out on real Temporal: one save, 5 cases against 1 case.

A Temporal dev server (the `temporal` CLI `output-reset demo` uses), the example worker
(runner/demo/worker, in this process, on its own event loop) and `output-reset watch` as a
subprocess with the Temporal engine, on a `datasets:` entry of blog_digest whose cases are
judged by blog_digest_eval. Each trial saves draft_digest's prompt; the figures are the time
from the file's close to the last case's new run closed (the server's close time of each new
run the iteration names) and to the verdict matrix printed. The cases run in parallel, so 5
cases should take little more than 1: the target is the ratio of the medians.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import runner.demo.worker as example_worker
from bench.common import Section, Target, median, say, temp_tree, watching
from bench.reaction import Writer
from runner.config import EngineConfig
from runner.demo.processes import DevServer, find_temporal
from runner.demo.worker.steps import Settings
from runner.demo.worker.worker import BackgroundWorker
from runner.iterations import Iterations
from runner.temporal import TemporalEngine

SIZES = (1, 5)
STEP_MS = (500, 0)  # how long draft_digest and polish_digest take: an LLM call, and none
DEBOUNCE_MS = 100
TASK_QUEUE = "bench-cases"
PROMPT = "prompts/draft_digest.prompt"
RATIO = 1.5
WAIT_S = 120.0
CONFIG = """\
engine:
  kind: temporal
  address: {address}
debounce_ms: {debounce}
workflows:
  - type: blog_digest
    datasets: all
    rules:
      - files: {prompt}
        rerun: draft_digest
"""


def _dataset(root: Path, cases: int, step_ms: int) -> list[str]:
    """The dataset file with `cases` cases (names new to the server); their workflow ids."""
    folder = root / "src" / "workflows" / "blog_digest" / "tests" / "datasets"
    folder.mkdir(parents=True, exist_ok=True)
    names = [f"n{cases}_d{step_ms}_{i}" for i in range(cases)]
    delays = f"{{draft_digest: {step_ms}, polish_digest: {step_ms}}}" if step_ms else "{}"
    (folder / "digests.yml").write_text(
        "".join(
            f"{name}:\n  input:\n    topic: case {name}\n    delay_ms: {delays}\n"
            f"  ground_truth:\n    topic_word: digest\n"
            for name in names
        )
    )
    return [f"blog_digest-case-{name}" for name in names]


def _seed(worker: BackgroundWorker, engine: TemporalEngine) -> None:
    """One finished blog_digest run on the worker's queue, listed: where the engine starts the
    cases and the evals."""
    run_id = worker.start_run("blog_digest", "bench-cases-seed", {"topic": "seed"})
    deadline = time.monotonic() + WAIT_S
    while engine.status("bench-cases-seed", run_id).running or not engine.runs_of_type(
        "blog_digest"
    ):
        if time.monotonic() > deadline:
            raise TimeoutError("the seed run did not finish and show in the list")
        time.sleep(0.05)


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


@dataclass(slots=True)
class Figures:
    """Seconds from each trial's save to: draft_digest scheduled in the first and in the last
    case's new run (the server's times: how spread the resets were), the last new run
    closed, the matrix printed."""

    first_start: list[float] = field(default_factory=list)
    last_start: list[float] = field(default_factory=list)
    ended: list[float] = field(default_factory=list)
    printed: list[float] = field(default_factory=list)


def _trials(
    root: Path, engine: TemporalEngine, writer: Writer, cases: int, step_ms: int, trials: int
) -> Figures:
    ids = _dataset(root, cases, step_ms)
    shutil.rmtree(root / ".output-reset", ignore_errors=True)
    figures = Figures()
    with watching(root, "--no-wait-worker") as (cli, _):
        cli.expect("blog_digest_eval, before any edit:", timeout=WAIT_S)
        for trial in range(1, trials + 1):
            text = f"Draft a digest of the key points (take {cases}-{step_ms}-{trial}).\n"
            closed = writer.write(root / PROMPT, text)
            wall_offset = time.time() - time.monotonic()
            cli.expect("blog_digest_eval: ", timeout=WAIT_S)
            figures.printed.append(time.monotonic() - closed)
            cli.expect(f"iteration {trial} kept", timeout=WAIT_S)
            record = Iterations(root / ".output-reset").read()[-1]
            made = {c["workflowId"]: c["newRunId"] for c in record["cases"]}
            if sorted(made) != sorted(ids):
                raise AssertionError(f"iteration {trial} has cases {sorted(made)}, not {ids}")
            starts, closes = [], []
            for workflow_id, run_id in made.items():
                history = engine.history(workflow_id, run_id)
                scheduled = history.occurrences("draft_digest")[0].scheduled_at
                if scheduled is None or history.closed_at is None:
                    raise AssertionError(f"run {run_id} of {workflow_id} has not closed")
                starts.append(_epoch(scheduled) - wall_offset - closed)
                closes.append(_epoch(history.closed_at) - wall_offset - closed)
            figures.first_start.append(min(starts))
            figures.last_start.append(max(starts))
            figures.ended.append(max(closes))
    return figures


def run(quick: bool) -> Section:
    trials = 2 if quick else 5
    section = Section("7. Dataset fan-out on real Temporal: one save, 5 cases against 1")
    section.setup.append(
        "A Temporal dev server, the example worker (in the benchmark process) and `watch "
        f"--no-wait-worker` with the Temporal engine on `type: blog_digest, datasets: all`, "
        f"draft_digest's prompt mapped (rerun: draft_digest, so draft_digest and polish_digest "
        f"run again in each case); debounce {DEBOUNCE_MS} ms; the eval blog_digest_eval runs "
        f"after every save. {trials} saves per row, each once the previous iteration was kept. "
        "Step time: draft_digest and polish_digest each sleep that long (an LLM call), or not."
    )
    binary = find_temporal()
    if binary is None:
        section.notes.append("skipped: the `temporal` CLI was not found")
        return section
    figures: dict[tuple[int, int], Figures] = {}
    with temp_tree("cases") as root, DevServer(binary, root / "server") as server:
        prompts = root / "prompts"
        shutil.copytree(Path(example_worker.__file__).parent / "prompts", prompts)
        (root / "output-reset.yaml").write_text(
            CONFIG.format(address=server.address, debounce=DEBOUNCE_MS, prompt=PROMPT)
        )
        settings = Settings(prompts=prompts, log=root / "invocations.jsonl")
        engine = TemporalEngine.connect(EngineConfig(kind="temporal", address=server.address), {})
        writer = Writer()
        with (
            contextlib.closing(engine),
            contextlib.closing(writer),
            BackgroundWorker(server.address, task_queue=TASK_QUEUE, settings=settings) as worker,
        ):
            _seed(worker, engine)
            for step_ms in STEP_MS:
                for cases in SIZES:
                    figures[cases, step_ms] = _trials(root, engine, writer, cases, step_ms, trials)
    table = section.table(
        "step time",
        "cases",
        "save -> re-run step scheduled, first case, p50 s",
        "last case, p50 s",
        "-> last closed, p50 s",
        "max s",
        "-> matrix printed, p50 s",
    )
    for (cases, step_ms), got in figures.items():
        table.add(
            f"{step_ms} ms",
            str(cases),
            median(got.first_start),
            median(got.last_start),
            median(got.ended),
            max(got.ended),
            median(got.printed),
        )
    for step_ms in STEP_MS:
        one, five = figures[1, step_ms], figures[5, step_ms]
        ratio_end = median(five.ended) / median(one.ended)
        ratio_matrix = median(five.printed) / median(one.printed)
        say(
            f"cases, steps of {step_ms} ms: 5 cases / 1 case = {ratio_end:.2f} (last run "
            f"closed), {ratio_matrix:.2f} (matrix printed)"
        )
        if step_ms:
            section.targets += [
                Target(
                    f"5 cases / 1 case, save -> last run closed, steps of {step_ms} ms",
                    ratio_end,
                    RATIO,
                    "x",
                ),
                Target(
                    f"5 cases / 1 case, save -> matrix printed, steps of {step_ms} ms",
                    ratio_matrix,
                    RATIO,
                    "x",
                ),
            ]
        else:
            section.notes.append(
                f"With instant steps, 5 cases / 1 case: {ratio_end:.2f}x to the last run "
                f"closed, {ratio_matrix:.2f}x to the matrix. The daemon sends the 5 resets at "
                "once (see the re-run step's spread); what is left is the server's and the "
                "worker's work for 5 runs (and 15 evaluator calls against 3) on 2 cores, with "
                "no step time to overlap it."
            )
    return section
