"""The machine the figures come from, and the Markdown file they are written to."""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from bench.common import REPO, Section, Table


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _inotify(name: str) -> str:
    try:
        return Path(f"/proc/sys/fs/inotify/{name}").read_text().strip()
    except OSError:
        return "?"


def _commit() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}{' (uncommitted changes)' if dirty else ''}"


def load_average() -> str:
    try:
        return " / ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def machine() -> list[tuple[str, str]]:
    memory = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return [
        ("CPU", _cpu_model()),
        ("cores", str(os.cpu_count())),
        ("memory", memory),
        ("kernel", f"{platform.system()} {platform.release()}"),
        ("Python", platform.python_version()),
        ("watchdog", _version("watchdog")),
        ("httpx", _version("httpx")),
        ("typer", _version("typer")),
        ("pathspec", _version("pathspec")),
        (
            "inotify limits",
            f"max_user_watches {_inotify('max_user_watches')}, max_queued_events "
            f"{_inotify('max_queued_events')}, max_user_instances "
            f"{_inotify('max_user_instances')}",
        ),
        ("commit", _commit()),
    ]


def _markdown_table(table: Table) -> list[str]:
    lines = ["| " + " | ".join(table.header) + " |"]
    lines.append("|" + "|".join("---" for _ in table.header) + "|")
    lines += ["| " + " | ".join(row) + " |" for row in table.rows]
    return lines


def render(
    sections: list[Section], *, quick: bool, command: str, seconds: float, load_before: str
) -> str:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    out = [
        "# output-reset benchmarks",
        "",
        f"`{command}`, run {now}, took {seconds / 60:.1f} min"
        + (" (--quick: a smoke run, fewer trials and smaller trees)" if quick else "")
        + ". Benchmarks, not tests: the targets are compared, never asserted.",
        "",
        "## Machine",
        "",
    ]
    out += [f"- {key}: {value}" for key, value in machine()]
    out.append(
        f"- load average (1/5/15 min): {load_before} at the start, {load_average()} at the end "
        "(the machine is shared; other work running meanwhile shows up here)"
    )
    out += ["", "## Targets", ""]
    out += [f"- {t.line()}" for s in sections for t in s.targets]
    for section in sections:
        out += ["", f"## {section.title}", ""]
        out += [f"- {line}" for line in section.setup]
        for table in section.tables:
            out += ["", *_markdown_table(table)]
        if section.targets:
            out += ["", *[f"- {t.line()}" for t in section.targets]]
        if section.notes:
            out += ["", *[f"Note: {n}" for n in section.notes]]
    return "\n".join(out) + "\n"


def plain(section: Section) -> str:
    """A section as plain text for the terminal."""
    out = [f"== {section.title}"]
    for table in section.tables:
        widths = [
            max(len(str(cell)) for cell in column)
            for column in zip(table.header, *table.rows, strict=False)
        ]
        for row in (table.header, *table.rows):
            out.append(
                "  " + "  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=False))
            )
        out.append("")
    out += [f"  {t.line()}" for t in section.targets]
    out += [f"  note: {n}" for n in section.notes]
    return "\n".join(out)
