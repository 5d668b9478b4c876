"""Idle: `watch` on a big project, doing nothing: CPU and RSS, and the time to its ready line.

The project has a 50,000-file tree under `src/` (2,500 leaf folders, one `.prompt` in 20 files)
and a 100,000-file `node_modules/` (5,000 folders) beside it. Two configs: the brief's
`src/**/*.prompt` (watch root `src/`), and `**/*.prompt` (watch root: the whole project, so the
built-in `node_modules/` ignore is what keeps 100,000 files out of the watch).
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from bench.common import (
    Section,
    Target,
    context_switches,
    cpu_seconds,
    inotify_watches,
    median,
    ready_files,
    rss_mb,
    say,
    temp_tree,
    threads,
    watching,
    write_file,
)
from tests.fakeapi import FakeOutputApi, Step

WORKFLOW_ID = "wf-idle"
CONFIG = """\
api:
  url: {url}
workflows:
  - id: wf-idle
    rules:
      - files: src/workflows/probe_three/prompts/draft@v1.prompt
        rerun: draftOutline
      - files: "{pattern}"
        rerun: polishDraft
"""
CPU_PERCENT = 0.2
# (pattern, first start): a first start creates .output-reset/ inside the watched root.
RUNS = (("src/**/*.prompt", True), ("src/**/*.prompt", False), ("**/*.prompt", False))
RSS_MB = 60.0


@dataclass(frozen=True, slots=True)
class Tree:
    src_groups: int  # src/mNN/ folders
    src_leaves: int  # src/mNN/pNN/ folders in each
    src_files: int  # files per leaf folder (the last one a .prompt)
    nm_packages: int  # node_modules/pNNNN/ (each with a lib/ folder)
    nm_files: int  # files per node_modules folder

    @property
    def src_total(self) -> int:
        return self.src_groups * self.src_leaves * self.src_files

    @property
    def src_folders(self) -> int:
        return self.src_groups * (self.src_leaves + 1)

    @property
    def nm_total(self) -> int:
        return self.nm_packages * 2 * self.nm_files

    @property
    def nm_folders(self) -> int:
        return self.nm_packages * 2


@dataclass(frozen=True, slots=True)
class Sample:
    pattern: str
    fresh: bool  # first start in the project: no .output-reset/ yet
    ready_s: float
    files: int
    watches: int
    threads: int
    window_s: float
    cpu_s: float
    wakeups: int
    rss_median_mb: float
    rss_max_mb: float

    @property
    def cpu_percent(self) -> float:
        return self.cpu_s / self.window_s * 100


def _touch(path: str, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        if data:
            os.write(fd, data)
    finally:
        os.close(fd)


def build(root: Path, tree: Tree) -> None:
    for g in range(tree.src_groups):
        for p in range(tree.src_leaves):
            folder = root / "src" / f"m{g:02d}" / f"p{p:02d}"
            folder.mkdir(parents=True)
            base = str(folder)
            for f in range(tree.src_files - 1):
                _touch(f"{base}/f{f:02d}.ts", b"export const x = 1;\n")
            _touch(f"{base}/prompt{p:02d}.prompt", b"<user>hello</user>\n")
    for n in range(tree.nm_packages):
        package = root / "node_modules" / f"p{n:04d}"
        for folder in (package, package / "lib"):
            folder.mkdir(parents=True)
            for f in range(tree.nm_files):
                _touch(f"{folder}/f{f:02d}.js", b"")
    prompts = root / "src/workflows/probe_three/prompts"
    write_file(prompts / "draft@v1.prompt", "<user>draft v1</user>\n")
    write_file(prompts / "polish@v1.prompt", "<user>polish v1</user>\n")


def sample(project: Path, pattern: str, url: str, window_s: float, *, fresh: bool) -> Sample:
    (project / "output-reset.yaml").write_text(CONFIG.format(url=url, pattern=pattern))
    if fresh:
        shutil.rmtree(project / ".output-reset", ignore_errors=True)
    with watching(project, "--no-wait-worker", "--no-follow") as (cli, ready_s):
        pid = cli.process.pid
        cpu0, switches0 = cpu_seconds(pid), context_switches(pid)
        started = time.monotonic()
        rss: list[float] = []
        while (elapsed := time.monotonic() - started) < window_s:
            rss.append(rss_mb(pid))
            time.sleep(min(1.0, window_s - elapsed))
        window = time.monotonic() - started
        cpu, switches = cpu_seconds(pid) - cpu0, context_switches(pid) - switches0
        rss.append(rss_mb(pid))
        return Sample(
            pattern=pattern,
            fresh=fresh,
            ready_s=ready_s,
            files=ready_files(cli),
            watches=inotify_watches(pid),
            threads=threads(pid),
            window_s=window,
            cpu_s=cpu,
            wakeups=switches,
            rss_median_mb=median(rss),
            rss_max_mb=max(rss),
        )


def run(quick: bool) -> Section:
    tree = Tree(50, 50, 20, 2500, 20) if not quick else Tree(10, 25, 20, 250, 20)
    window = 30.0 if quick else 60.0
    section = Section("3. Idle: a 50,000-file tree and a 100,000-file node_modules")
    with FakeOutputApi() as fake, temp_tree("idle") as project:
        fake.define_workflow(
            "probe_three", [Step("extractTopics"), Step("draftOutline"), Step("polishDraft")]
        )
        run_id = fake.start_run("probe_three", WORKFLOW_ID, {"text": "idle"})
        fake.wait_closed(WORKFLOW_ID, run_id)
        say(
            f"idle: building {tree.src_total:,} files under src/ and {tree.nm_total:,} under "
            "node_modules/ ..."
        )
        build_s = time.monotonic()
        build(project, tree)
        build_s = time.monotonic() - build_s
        samples: list[Sample] = []
        for pattern, fresh in RUNS:
            start = "first start" if fresh else "restart"
            say(f"idle: `{pattern}` ({start}), sampling {window:.0f} s after the ready line ...")
            samples.append(sample(project, pattern, fake.url, window, fresh=fresh))
    section.setup = [
        f"{tree.src_total:,} files in {tree.src_folders:,} folders under src/ "
        f"(src/mNN/pNN/, {tree.src_files} files each, one of them a .prompt) and "
        f"{tree.nm_total:,} files in {tree.nm_folders:,} folders under node_modules/ "
        f"(built in {build_s:.1f} s). Rules: draft@v1.prompt -> rerun draftOutline, and a "
        "broad pattern -> rerun polishDraft (two configs, below).",
        f"`watch --no-wait-worker --no-follow`; from the ready line, {window:.0f} s of "
        "sampling: CPU = utime+stime delta (/proc/<pid>/stat), RSS = VmRSS each second, "
        "wake-ups = context switches of all threads, inotify watches counted in "
        "/proc/<pid>/fdinfo.",
    ]
    if quick:
        section.setup.append("--quick: a smaller tree and a 30 s window.")
    table = section.table(
        "pattern",
        "start",
        "start to ready s",
        "mapped files",
        "inotify watches",
        "threads",
        "window s",
        "CPU s",
        "CPU %",
        "wake-ups",
        "RSS median MB",
        "RSS max MB",
    )
    for s in samples:
        start = "first (no state)" if s.fresh else "restart"
        table.add(
            f"`{s.pattern}`",
            start,
            s.ready_s,
            s.files,
            s.watches,
            s.threads,
            s.window_s,
            s.cpu_s,
            s.cpu_percent,
            s.wakeups,
            s.rss_median_mb,
            s.rss_max_mb,
        )
        what = f"`{s.pattern}`, {start}"
        section.targets.append(Target(f"idle CPU, {what}", s.cpu_percent, CPU_PERCENT, "%"))
        section.targets.append(Target(f"idle RSS (max), {what}", s.rss_max_mb, RSS_MB, "MB"))
    section.notes.append(
        f"The watch count shows what is watched: {tree.src_folders + 4:,} folders exist outside "
        f"node_modules/ (src/ and the project root); node_modules/ has {tree.nm_folders:,}."
    )
    return section
