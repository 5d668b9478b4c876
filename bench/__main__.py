"""`python -m bench [--quick] [--only NAME,...] [--out PATH]`: run the benchmarks, print the
figures, write them (with the machine) to bench/RESULTS.md (bench/RESULTS-quick.md for --quick:
a smoke run, not kept in git).
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from bench import cases, fanout, faults, idle, planning, reaction, startup, storm
from bench.common import REPO, Section, say
from bench.report import load_average, plain, render

BENCHMARKS: dict[str, Callable[[bool], Section]] = {
    "reaction": reaction.run,
    "storm": storm.run,
    "idle": idle.run,
    "planning": planning.run,
    "startup": startup.run,
    "fanout": fanout.run,
    "cases": cases.run,
    "faults": faults.run,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument(
        "--only", default="", help=f"comma-separated subset of: {', '.join(BENCHMARKS)}"
    )
    parser.add_argument("--out", type=Path, default=None, help="where to write the Markdown")
    args = parser.parse_args(argv)
    chosen = [name.strip() for name in args.only.split(",") if name.strip()] or list(BENCHMARKS)
    unknown = [name for name in chosen if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    out: Path = args.out or REPO / "bench" / ("RESULTS-quick.md" if args.quick else "RESULTS.md")
    started = time.monotonic()
    load_before = load_average()
    say(f"load average at the start: {load_before}")
    sections: list[Section] = []
    failed = False
    for name in chosen:
        try:
            section = BENCHMARKS[name](args.quick)
        except Exception:  # one broken benchmark must not hide the others' figures
            failed = True
            detail = traceback.format_exc()
            say(detail)
            section = Section(f"{name}: FAILED")
            section.notes.append(f"the benchmark raised:\n\n```\n{detail}```")
        sections.append(section)
        say(plain(section))
        say("")
    command = "python -m bench" + (" --quick" if args.quick else "")
    if args.only:
        command += f" --only {args.only}"
    text = render(
        sections,
        quick=args.quick,
        command=command,
        seconds=time.monotonic() - started,
        load_before=load_before,
    )
    out.write_text(text)
    say("Targets:")
    for section in sections:
        for target in section.targets:
            say(f"  {target.line()}")
    say(f"wrote {out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
