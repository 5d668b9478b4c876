"""The fan-out's bound, measured at the API: `watch` on a dataset entry of 20 cases, with the
reset route slowed, never has more than 8 reset requests in flight, and resets each case once."""

from __future__ import annotations

import time
from pathlib import Path

from tests.cli_process import Cli
from tests.fakeapi import FakeOutputApi
from tests.integration.test_cli_fanout import CASES_ENTRY, ran
from tests.integration.test_cli_oneshot import project

CASES = [f"case_{i:02d}" for i in range(20)]
MAX_IN_FLIGHT = 8  # the README's "at most 8 resets are in flight at once" (daemon.MAX_JOBS)


def in_flight_at_most(intervals: list[tuple[float, float]]) -> int:
    """The largest number of intervals open at one instant (an end before a start at a tie)."""
    edges = [(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals]
    peak = open_now = 0
    for _, step in sorted(edges):
        open_now += step
        peak = max(peak, open_now)
    return peak


def test_twenty_cases_are_reset_once_each_with_at_most_8_in_flight(
    tmp_path: Path, fake: FakeOutputApi
) -> None:
    folder = tmp_path / "src" / "workflows" / "probe_three"
    (folder / "tests" / "datasets").mkdir(parents=True)
    (folder / "workflow.ts").write_text("export default workflow({ name: 'probe_three' });\n")
    (folder / "tests" / "datasets" / "cases.yml").write_text(
        "".join(f"{case}:\n  input:\n    text: {case} words\n" for case in CASES)
    )
    pinned = {case: ran(fake, f"probe_three-case-{case}", f"{case} words") for case in CASES}
    root = project(tmp_path, fake, CASES_ENTRY).parent
    cli = Cli("watch", "--no-wait-worker", "--no-follow", cwd=root)
    try:
        cli.expect("watching 1 file for 1 workflow (20 pinned runs);")
        fake.clear_requests()
        fake.inject_delay("POST", r"/reset$", 0.5, times=None)
        (root / "prompts" / "draft.prompt").write_text("draft v2\n")
        deadline = time.monotonic() + 30
        while len([a for a in fake.answers if a[1].endswith("/reset")]) < len(CASES):
            assert time.monotonic() < deadline, f"resets answered: {fake.answers}"
            time.sleep(0.05)
    finally:
        code, _ = cli.stop()
    assert code == 0, cli.errors
    resets = fake.reset_requests()
    assert sorted(r.path for r in resets) == sorted(
        f"/workflow/probe_three-case-{case}/runs/{run_id}/reset" for case, run_id in pinned.items()
    )
    answered = {path: when for method, path, when in fake.answers if path.endswith("/reset")}
    assert len(answered) == len(CASES)
    peak = in_flight_at_most([(r.received_at, answered[r.path]) for r in resets])
    # Counted from the double's clock: at least two at once (a fan-out), never more than 8.
    assert 2 <= peak <= MAX_IN_FLIGHT, peak
    assert all(len(fake.run_ids(f"probe_three-case-{case}")) == 2 for case in CASES)
