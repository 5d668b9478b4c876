"""Start-up: `output-reset --help` (wall clock), and `watch` until its ready line, small project."""

from __future__ import annotations

import subprocess
import time

from bench.common import (
    Section,
    cli_script,
    median,
    rss_mb,
    say,
    temp_tree,
    watching,
    write_file,
)
from tests.cli_process import clean_environment
from tests.fakeapi import FakeOutputApi, Step

PROMPTS = "src/workflows/probe_three/prompts"
CONFIG = """\
api:
  url: {url}
workflows:
  - id: wf-1
    rules:
      - files: {prompts}/polish@v1.prompt
        rerun: polishDraft
      - files: {prompts}/draft@v1.prompt
        rerun: draftOutline
"""


def help_times(runs: int) -> list[float]:
    command = [*cli_script(), "--help"]
    environment = clean_environment()
    times: list[float] = []
    for i in range(runs + 1):  # the first run warms the page cache and is not counted
        started = time.perf_counter()
        subprocess.run(command, env=environment, capture_output=True, check=True)
        if i:
            times.append(time.perf_counter() - started)
    return times


def watch_times(runs: int) -> tuple[list[float], list[float]]:
    """Seconds to the ready line, and the RSS (MB) at that moment, per counted start."""
    times: list[float] = []
    rss: list[float] = []
    with FakeOutputApi() as fake, temp_tree("startup") as project:
        fake.define_workflow(
            "probe_three", [Step("extractTopics"), Step("draftOutline"), Step("polishDraft")]
        )
        run_id = fake.start_run("probe_three", "wf-1", {"text": "start"})
        fake.wait_closed("wf-1", run_id)
        write_file(project / PROMPTS / "polish@v1.prompt", "<user>polish v1</user>\n")
        write_file(project / PROMPTS / "draft@v1.prompt", "<user>draft v1</user>\n")
        (project / "output-reset.yaml").write_text(CONFIG.format(url=fake.url, prompts=PROMPTS))
        for i in range(runs + 1):  # the first start writes the state; it is not counted
            with watching(project, "--no-wait-worker", "--no-follow") as (cli, ready_s):
                if i:
                    times.append(ready_s)
                    rss.append(rss_mb(cli.process.pid))
    return times, rss


def run(quick: bool) -> Section:
    help_runs, watch_runs = (3, 2) if quick else (10, 5)
    say(f"start-up: --help x{help_runs}, watch to ready x{watch_runs} ...")
    helps = help_times(help_runs)
    watches, rss = watch_times(watch_runs)
    section = Section("5. Start-up")
    section.setup = [
        f"`{' '.join(cli_script())} --help`: wall clock of the process, {help_runs} runs "
        "after one warm-up.",
        "`output-reset watch --no-wait-worker --no-follow` on a small project (2 mapped "
        "prompts, FakeOutputApi on loopback, a pinned state from a first start that is not "
        f"counted): from spawning the process to its ready line, {watch_runs} runs.",
    ]
    table = section.table("command", "runs", "median s", "min s", "max s")
    table.add("output-reset --help", len(helps), median(helps), min(helps), max(helps))
    table.add("watch -> ready line", len(watches), median(watches), min(watches), max(watches))
    table = section.table("small project", "RSS at the ready line, median MB", "max MB")
    table.add("watch", median(rss), max(rss))
    section.notes.append(
        "No target was set for start-up; the figures are for comparison with WATCHING.md "
        "(a trivial typer app's --help: 152-527 ms)."
    )
    return section
