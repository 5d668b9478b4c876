"""Fan-out: a `datasets:` entry with 20 cases, one save.

`output-reset watch --no-wait-worker` runs as a subprocess against an in-process FakeOutputApi
on loopback, with one pinned run per case (started before, with each case's input, so watch
starts none). Each trial saves the mapped prompt; the figure is the time from the end of the
debounce window to the 20th reset POST the API received (every case planned against its own
history and reset, at most 8 at once). RSS is the watch process's, with its 20 pinned runs,
after the last trial (every new run followed to its end). Once every case's new run has ended,
watch runs the eval workflow `probe_three_eval` (POST /workflow/run); the second figure is the
time from the API's answer written out to the matrix's first line read from watch's stdout.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

from bench.common import Section, Target, median, percentile, rss_mb, say, temp_tree, watching
from bench.reaction import Writer
from tests.cli_process import Cli
from tests.fakeapi import Evaluator, FakeOutputApi, Interpret, RecordedRequest, Step

CASES = 20
WORKFLOW = "src/workflows/probe_three"
PROMPT = f"{WORKFLOW}/prompts/polish@v1.prompt"
DEBOUNCE_MS = 100
CONFIG = """\
api:
  url: {url}
debounce_ms: {debounce}
workflows:
  - type: probe_three
    datasets: all
    rules:
      - files: {prompt}
        rerun: polishDraft
"""
LAST_POST_MS = 300.0
MATRIX_MS = 100.0
RSS_MB = 60.0
EVAL = "probe_three_eval"


def _is_reset(request: RecordedRequest) -> bool:
    return request.method == "POST" and request.path.endswith("/reset")


def _project(root: Path, fake: FakeOutputApi) -> None:
    folder = root / WORKFLOW
    (folder / "prompts").mkdir(parents=True)
    (folder / "tests" / "datasets").mkdir(parents=True)
    (folder / "workflow.ts").write_text("export default workflow({ name: 'probe_three' });\n")
    (root / PROMPT).write_text("<user>polish v0</user>\n")
    cases = "".join(f"case_{i:02d}:\n  input:\n    text: words {i}\n" for i in range(CASES))
    (folder / "tests" / "datasets" / "cases.yml").write_text(cases)
    (root / "output-reset.yaml").write_text(
        CONFIG.format(url=fake.url, debounce=DEBOUNCE_MS, prompt=PROMPT)
    )
    for i in range(CASES):
        workflow_id = f"probe_three-case-case_{i:02d}"
        run_id = fake.start_run("probe_three", workflow_id, {"text": f"words {i}"})
        fake.wait_closed(workflow_id, run_id)


def _wait_resets(fake: FakeOutputApi, before: set[int], count: int) -> list[RecordedRequest]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = [r for r in fake.requests if _is_reset(r) and id(r) not in before]
        if len(found) >= count:
            return sorted(found, key=lambda r: r.received_at)
        time.sleep(0.01)
    raise TimeoutError(f"fewer than {count} resets within 30 s")


def _wait_settled(fake: FakeOutputApi) -> None:
    """Every case's latest run closed (the fake runs them; watch follows them)."""
    for i in range(CASES):
        workflow_id = f"probe_three-case-case_{i:02d}"
        fake.wait_closed(workflow_id, fake.latest_run(workflow_id), timeout=30)


def _matrix_delay(fake: FakeOutputApi, cli: Cli, since: float) -> float:
    """From the eval workflow's answer (after `since`) to its matrix line on stdout, in ms."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        answers = [t for m, p, t in fake.answers if p == "/workflow/run" and t > since]
        printed = [t for t, line in cli.stamped if t > since and f"{EVAL}:" in line]
        if answers and printed:
            return (printed[0] - answers[0]) * 1000
        time.sleep(0.01)
    raise TimeoutError("no eval matrix within 30 s")


def _long_enough(input: object, output: object, truth: dict[str, object]) -> bool:
    return "1" in str(input)  # about half the cases pass


def run(quick: bool) -> Section:
    trials = 3 if quick else 10
    section = Section(f"6. Fan-out: one save, {CASES} dataset cases")
    section.setup.append(
        f"{CASES} cases of one `datasets:` entry, each with a completed 31-event run; "
        f"debounce {DEBOUNCE_MS} ms; {trials} saves, each after every case's previous run "
        "closed; `watch --no-wait-worker` (following on) against the API double on loopback."
    )
    firsts: list[float] = []
    lasts: list[float] = []
    matrices: list[float] = []
    rss = float("nan")
    with FakeOutputApi() as fake, temp_tree("fanout") as project:
        fake.define_workflow(
            "probe_three", [Step("extractTopics"), Step("draftOutline"), Step("polishDraft")]
        )
        fake.define_eval(EVAL, [Evaluator("long_enough", _long_enough, Interpret.boolean())])
        _project(project, fake)
        writer = Writer()
        with contextlib.closing(writer), watching(project, "--no-wait-worker") as (cli, _):
            cli.expect(f"{EVAL}, before any edit:", timeout=30)
            for i in range(trials):
                before = {id(r) for r in fake.requests}
                since = time.monotonic()
                closed = writer.write(project / PROMPT, f"<user>polish v{i + 1}</user>\n")
                resets = _wait_resets(fake, before, CASES)
                due = closed + DEBOUNCE_MS / 1000
                firsts.append((resets[0].received_at - due) * 1000)
                lasts.append((resets[CASES - 1].received_at - due) * 1000)
                _wait_settled(fake)
                matrices.append(_matrix_delay(fake, cli, since))
            rss = rss_mb(cli.process.pid)
    table = section.table(
        "save", "first reset POST ms", f"{CASES}th reset POST ms", "eval answer -> matrix ms"
    )
    for i, (first, last, shown) in enumerate(zip(firsts, lasts, matrices, strict=True)):
        table.add(str(i + 1), first, last, shown)
    say(
        f"fan-out: {CASES}th POST p50 {median(lasts):.1f} ms, p90 {percentile(lasts, 90):.1f} ms, "
        f"max {max(lasts):.1f} ms; "
        f"eval answer -> matrix p50 {median(matrices):.1f} ms"
    )
    section.targets += [
        Target(f"debounce end -> {CASES}th reset POST, p50", median(lasts), LAST_POST_MS, "ms"),
        Target("eval answer -> matrix printed, p50", median(matrices), MATRIX_MS, "ms"),
        Target(f"RSS of watch with {CASES} pinned runs", rss, RSS_MB, "MB"),
    ]
    return section
