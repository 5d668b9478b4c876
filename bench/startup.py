"""Start-up and stop: `--help` and `--version` (wall clock), `watch` until its ready line, and
from SIGTERM to exit: an idle `watch`, a `watch` whose reset request the API never answers, and
the demo (which stops its Temporal dev server and worker too), also from SIGINT (Ctrl-C)."""

from __future__ import annotations

import signal
import subprocess
import time

from bench.common import (
    Section,
    Target,
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


HELP_TARGET_S = 0.150
STOP_TARGET_S = 0.300


def help_times(runs: int, flag: str = "--help") -> list[float]:
    command = [*cli_script(), flag]
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


def stop_times(runs: int, *, stuck_reset: bool) -> list[float]:
    """Seconds from SIGTERM to the exit of a `watch` that is idle, or whose reset request the
    API has received and never answers (a hung API: the state must stay whole)."""
    times: list[float] = []
    with FakeOutputApi() as fake, temp_tree("stop") as project:
        fake.define_workflow(
            "probe_three", [Step("extractTopics"), Step("draftOutline"), Step("polishDraft")]
        )
        run_id = fake.start_run("probe_three", "wf-1", {"text": "start"})
        fake.wait_closed("wf-1", run_id)
        prompt = project / PROMPTS / "polish@v1.prompt"
        write_file(prompt, "<user>polish v1</user>\n")
        write_file(project / PROMPTS / "draft@v1.prompt", "<user>draft v1</user>\n")
        (project / "output-reset.yaml").write_text(CONFIG.format(url=fake.url, prompts=PROMPTS))
        if stuck_reset:
            fake.inject_delay("POST", r"/reset$", 3600.0, times=None)
        for i in range(runs):
            with watching(project, "--no-wait-worker", "--no-follow") as (cli, _):
                if stuck_reset:
                    prompt.write_text(f"<user>polish v{i + 2}</user>\n")
                    fake.wait_for_request(
                        lambda r: r.method == "POST" and r.path.endswith("/reset"), timeout=10
                    )
                code, took = cli.stop(signal.SIGTERM)
                if code != 0:
                    raise RuntimeError(f"watch exited with {code} on SIGTERM")
                times.append(took)
            (project / ".output-reset" / "state.json").unlink(missing_ok=True)
    return times


def demo_stop_times(runs: int, sig: signal.Signals) -> list[float]:
    """Seconds from `sig` to the exit of `output-reset demo` (server and worker stopped)."""
    from tests.cli_process import Cli

    times: list[float] = []
    for _ in range(runs):
        with temp_tree("demo-stop") as folder:
            cli = Cli("demo", "--dir", str(folder / "demo"), cwd=folder)
            try:
                cli.expect(" and save: ", timeout=120)
            except AssertionError:
                cli.stop(signal.SIGKILL)
                raise
            code, took = cli.stop(sig, timeout=30)
            if code != 0:
                raise RuntimeError(f"the demo exited with {code} on {sig.name}")
            times.append(took)
    return times


def run(quick: bool) -> Section:
    help_runs, watch_runs, stop_runs = (3, 2, 2) if quick else (10, 5, 5)
    say(f"start-up: --help/--version x{help_runs}, watch to ready x{watch_runs} ...")
    helps = help_times(help_runs)
    versions = help_times(help_runs, "--version")
    watches, rss = watch_times(watch_runs)
    say(f"stop: SIGTERM to exit x{stop_runs} (idle, reset under way, demo; Ctrl-C too) ...")
    idle_stops = stop_times(stop_runs, stuck_reset=False)
    stuck_stops = stop_times(stop_runs, stuck_reset=True)
    demo_stops = demo_stop_times(max(1, stop_runs // 2), signal.SIGTERM)
    demo_interrupts = demo_stop_times(max(1, stop_runs // 2), signal.SIGINT)
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
    table.add(
        "output-reset --version", len(versions), median(versions), min(versions), max(versions)
    )
    table.add("watch -> ready line", len(watches), median(watches), min(watches), max(watches))
    for label, stops in (
        ("SIGTERM -> exit, watch idle", idle_stops),
        ("SIGTERM -> exit, watch mid-reset, API never answers", stuck_stops),
        ("SIGTERM -> exit, demo (server and worker stopped)", demo_stops),
        ("SIGINT (Ctrl-C) -> exit, demo", demo_interrupts),
    ):
        table.add(label, len(stops), median(stops), min(stops), max(stops))
    section.targets += [
        Target("--help, median", median(helps), HELP_TARGET_S, "s"),
        Target("--version, median", median(versions), HELP_TARGET_S, "s"),
        Target("SIGTERM to exit, watch (worst)", max(idle_stops + stuck_stops), STOP_TARGET_S, "s"),
        Target("SIGTERM to exit, demo (worst)", max(demo_stops), STOP_TARGET_S, "s"),
        Target("Ctrl-C to exit, demo (worst)", max(demo_interrupts), STOP_TARGET_S, "s"),
    ]
    table = section.table("small project", "RSS at the ready line, median MB", "max MB")
    table.add("watch", median(rss), max(rss))
    section.notes.append(
        "Comparison: a trivial typer app's --help takes 152-527 ms (measured here before); "
        "an editable install adds its import hook (about 10 ms) to every start."
    )
    return section
