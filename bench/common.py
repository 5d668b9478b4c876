"""What every benchmark shares: result sections, statistics, /proc probes, temp trees, the CLI."""

from __future__ import annotations

import contextlib
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from tests.cli_process import Cli

REPO = Path(__file__).resolve().parents[1]
CLK_TCK = os.sysconf("SC_CLK_TCK")


# -- results ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Target:
    """A figure against its limit; `ok` is decided here, never asserted."""

    name: str
    value: float
    limit: float
    unit: str
    mode: Literal["at most", "at least", "exactly"] = "at most"

    @property
    def ok(self) -> bool:
        if self.mode == "exactly":
            return self.value == self.limit
        return self.value >= self.limit if self.mode == "at least" else self.value <= self.limit

    @property
    def verdict(self) -> str:
        return "ok" if self.ok else "MISSED"

    def line(self) -> str:
        return (
            f"{self.name}: {fmt(self.value)} {self.unit} "
            f"(target: {self.mode} {fmt(self.limit)} {self.unit}) {self.verdict}"
        )


@dataclass(slots=True)
class Table:
    header: tuple[str, ...]
    rows: list[tuple[str, ...]] = field(default_factory=list)

    def add(self, *cells: object) -> None:
        self.rows.append(tuple(c if isinstance(c, str) else fmt(c) for c in cells))


@dataclass(slots=True)
class Section:
    title: str
    setup: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def table(self, *header: str) -> Table:
        table = Table(header)
        self.tables.append(table)
        return table


def fmt(value: object) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        magnitude = abs(value)
        if magnitude >= 100:
            return f"{value:,.0f}"
        if magnitude >= 10:
            return f"{value:.1f}"
        if magnitude >= 1:
            return f"{value:.2f}"
        return f"{value:.3f}"
    return str(value)


def say(text: str) -> None:
    print(text, flush=True)


# -- statistics --------------------------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


# -- /proc probes --------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """utime + stime of the whole process (every thread, live or ended), in seconds."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    fields = raw[raw.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    return 0


def rss_mb(pid: int) -> float:
    return status_kb(pid, "VmRSS") / 1024


def threads(pid: int) -> int:
    return status_kb(pid, "Threads")


def context_switches(pid: int) -> int:
    """Voluntary + involuntary switches of every live thread: each is a wake-up."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            for line in (task / "status").read_text().splitlines():
                if line.startswith(("voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:")):
                    total += int(line.split()[1])
    return total


def inotify_watches(pid: int) -> int:
    """How many inotify watches the process holds (one line per watch in its fdinfo)."""
    count = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            if os.readlink(fd) != "anon_inode:inotify":
                continue
            info = Path(f"/proc/{pid}/fdinfo/{fd.name}").read_text()
        except OSError:
            continue
        count += sum(1 for line in info.splitlines() if line.startswith("inotify wd:"))
    return count


# -- temp trees and the CLI --------------------------------------------------------------------


@contextlib.contextmanager
def temp_tree(name: str) -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix=f"output-reset-bench-{name}-"))
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def watching(
    project: Path, *args: str, ready_timeout: float = 120.0
) -> Iterator[tuple[Cli, float]]:
    """`output-reset watch ARGS` as a subprocess; yields it and the seconds until its ready
    line ("watching N files ..."); always stopped (SIGINT, then kill) on the way out."""
    started = time.monotonic()
    cli = Cli("watch", *args, cwd=project)
    try:
        cli.expect("watching ", timeout=ready_timeout)
        yield cli, time.monotonic() - started
    finally:
        cli.stop()


def ready_files(cli: Cli) -> int:
    """The file count of the ready line."""
    for line in cli.output:
        if "watching " in line:
            words = line.split("watching ", 1)[1].split()
            return int(words[0].replace(",", ""))
    return -1


def cli_script() -> list[str]:
    """How a user starts output-reset: the console script beside this Python, if installed."""
    script = Path(sys.executable).parent / "output-reset"
    return [str(script)] if script.exists() else [sys.executable, "-m", "runner"]


def write_file(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
