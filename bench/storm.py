"""Storm: `git checkout` between two branches that differ in 5,000 files, under `watch`.

The project folder is the git work tree (as in a real Output project); the config maps
`src/**/*.prompt`, so the whole `src/` tree, where all 5,000 changed files live, is watched.
Per checkout: the reset POSTs the fake received (target: exactly one) and the daemon's CPU
seconds (utime + stime from /proc/<pid>/stat) from just before the checkout until the reset
arrived and the daemon went quiet.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from bench.common import (
    Section,
    Target,
    cpu_seconds,
    median,
    ready_files,
    say,
    temp_tree,
    watching,
    write_file,
)
from tests.fakeapi import FakeOutputApi, RecordedRequest, Step

WORKFLOW_ID = "wf-storm"
PROMPTS = "src/workflows/probe_three/prompts"
CONFIG = """\
api:
  url: {url}
debounce_ms: 300
workflows:
  - id: wf-storm
    rules:
      - files: {prompts}/draft@v1.prompt
        rerun: draftOutline
      - files: "src/**/*.prompt"
        rerun: polishDraft
"""
QUIET_S = 1.0  # the daemon used no CPU tick for this long: settled
MIN_WAIT_S = 3.0  # and at least this long after the checkout's last reset, for a late second one
GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
}


@dataclass(frozen=True, slots=True)
class Layout:
    changed: int  # files that differ between the branches
    mapped: int  # of which mapped prompts
    unchanged: int  # files equal on both branches (under src/ too)


@dataclass(frozen=True, slots=True)
class Checkout:
    target: str
    git_s: float  # wall time of `git checkout`
    resets: int
    cpu_s: float  # daemon CPU for the storm, until settled
    reset_after_git_s: float  # git finished -> reset POST received
    settled_after_s: float  # checkout start -> settled


def _git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", *args],
        cwd=root,
        env={**os.environ, **GIT_ENV},
        check=True,
        stdout=subprocess.DEVNULL,
    )


def _files(layout: Layout) -> tuple[list[str], list[str], list[str]]:
    """(changed unmapped, changed mapped, unchanged) relative paths."""
    mapped = [f"{PROMPTS}/draft@v1.prompt"]
    mapped += [f"{PROMPTS}/gen/p{i:03d}.prompt" for i in range(layout.mapped - 1)]
    unmapped = [
        f"src/lib/gen/d{i // 50:03d}/m{i % 50:02d}.ts"
        for i in range(layout.changed - layout.mapped)
    ]
    unchanged = [f"src/lib/base/d{i // 50:03d}/u{i % 50:02d}.ts" for i in range(layout.unchanged)]
    unchanged.append(f"{PROMPTS}/polish@v1.prompt")
    return unmapped, mapped, unchanged


def build_repo(root: Path, url: str, layout: Layout) -> None:
    unmapped, mapped, unchanged = _files(layout)
    _git(root, "init", "-q", "-b", "a")
    write_file(root / "output-reset.yaml", CONFIG.format(url=url, prompts=PROMPTS))
    for rel in unchanged:
        write_file(root / rel, f"// {rel}: the same on both branches\n")
    for branch in ("a", "b"):
        if branch == "b":
            _git(root, "checkout", "-q", "-b", "b")
        for rel in unmapped:
            write_file(root / rel, f"export const v = '{branch}'; // {rel}\n")
        for rel in mapped:
            write_file(root / rel, f"<user>{rel} on branch {branch}</user>\n")
        _git(root, "add", "-A")
        _git(root, "commit", "-q", "-m", f"branch {branch}")
    _git(root, "checkout", "-q", "a")


def _resets_since(fake: FakeOutputApi, since: float) -> list[RecordedRequest]:
    return [r for r in fake.reset_requests() if r.received_at > since]


def _checkout(fake: FakeOutputApi, root: Path, pid: int, branch: str) -> Checkout:
    cpu_before = cpu_seconds(pid)
    started = time.monotonic()
    _git(root, "checkout", "-q", branch)
    git_done = time.monotonic()
    first = fake.wait_for_request(
        lambda r: r.method == "POST" and r.path.endswith("/reset") and r.received_at > started,
        timeout=60,
    )
    # Settled: no CPU tick for QUIET_S, and MIN_WAIT_S since the last reset of this checkout.
    cpu, quiet_since = cpu_seconds(pid), time.monotonic()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        time.sleep(0.05)
        now_cpu, now = cpu_seconds(pid), time.monotonic()
        if now_cpu != cpu:
            cpu, quiet_since = now_cpu, now
        last_reset = _resets_since(fake, started)[-1].received_at
        if now - quiet_since >= QUIET_S and now - last_reset >= MIN_WAIT_S:
            break
    settled = time.monotonic()
    cpu_used = cpu_seconds(pid) - cpu_before
    resets = _resets_since(fake, started)
    if resets:  # let the fake finish the new run before the next checkout
        fake.wait_closed(WORKFLOW_ID, fake.latest_run(WORKFLOW_ID), timeout=30)
    return Checkout(
        target=branch,
        git_s=git_done - started,
        resets=len(resets),
        cpu_s=cpu_used,
        reset_after_git_s=first.received_at - git_done,
        settled_after_s=settled - started,
    )


def measure(layout: Layout, repeats: int) -> tuple[list[Checkout], int, float]:
    with FakeOutputApi() as fake, temp_tree("storm") as root:
        fake.define_workflow(
            "probe_three", [Step("extractTopics"), Step("draftOutline"), Step("polishDraft")]
        )
        run_id = fake.start_run("probe_three", WORKFLOW_ID, {"text": "storm"})
        fake.wait_closed(WORKFLOW_ID, run_id)
        build_repo(root, fake.url, layout)
        checkouts: list[Checkout] = []
        with watching(root, "--no-wait-worker", "--no-follow") as (cli, ready_s):
            pid = cli.process.pid
            time.sleep(1.0)
            for i in range(repeats):
                checkouts.append(_checkout(fake, root, pid, "b" if i % 2 == 0 else "a"))
            files = ready_files(cli)
        return checkouts, files, ready_s


def run(quick: bool) -> Section:
    layout = Layout(changed=5000, mapped=51, unchanged=1000)
    repeats = 2 if quick else 5
    say(f"storm: git checkout of {layout.changed:,} changed files, {repeats} times ...")
    checkouts, files, ready_s = measure(layout, repeats)
    section = Section("2. Storm: `git checkout` of 5,000 changed files under `watch`")
    section.setup = [
        f"The project is a git work tree; branches a and b differ in {layout.changed:,} files "
        f"under src/: {layout.changed - layout.mapped:,} unmapped .ts files in "
        f"{(layout.changed - layout.mapped + 49) // 50} folders and {layout.mapped} mapped "
        f"prompts (draft@v1.prompt -> rerun draftOutline, and `src/**/*.prompt` -> rerun "
        f"polishDraft); {layout.unchanged + 1:,} more files are equal on both branches. "
        f"The daemon watched {files} mapped files (start to ready {ready_s:.2f} s).",
        "`watch --no-wait-worker --no-follow`, debounce 300 ms. Checkouts alternate b, a, b, "
        "...; each is counted until the daemon used no CPU tick for 1 s and at least 3 s passed "
        "since its last reset POST.",
    ]
    table = section.table(
        "checkout",
        "git s",
        "reset POSTs",
        "daemon CPU s",
        "git done -> reset s",
        "start -> settled s",
    )
    for i, c in enumerate(checkouts, 1):
        table.add(
            f"{i}: -> {c.target}",
            c.git_s,
            c.resets,
            c.cpu_s,
            c.reset_after_git_s,
            c.settled_after_s,
        )
    table.add(
        "median",
        median([c.git_s for c in checkouts]),
        median([float(c.resets) for c in checkouts]),
        median([c.cpu_s for c in checkouts]),
        median([c.reset_after_git_s for c in checkouts]),
        median([c.settled_after_s for c in checkouts]),
    )
    worst = max(checkouts, key=lambda c: abs(c.resets - 1))
    section.targets.append(
        Target(
            f"reset POSTs per checkout (worst of {len(checkouts)}: "
            f"{', '.join(str(c.resets) for c in checkouts)})",
            float(worst.resets),
            1,
            "POST",
            mode="exactly",
        )
    )
    section.notes.append(
        "CPU from /proc/<pid>/stat (10 ms ticks); it includes the reset itself (status + "
        "history + POST) and the re-hash of every mapped file the storm triggers."
    )
    return section
