"""Keeping iterations while watching: a stop keeps the saves whose evals have not ended, in
the order of the saves, and never one twice (threads, a real iteration store in a temp dir)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from runner.actions import Iteration, IterationCase
from runner.iterations import Iterations
from runner.recording import Recorder
from runner.reports import Notice, Recorded


def save(n: int) -> Iteration:
    case = IterationCase("basic", "wf-case-basic", f"old-{n}", f"new-{n}", "completed", "out")
    return Iteration("wf", {"p.prompt": f"h{n}"}, (case,))


def test_a_stop_during_a_write_waits_for_it_and_keeps_the_saves_in_order(tmp_path: Path) -> None:
    store = Iterations(tmp_path / ".output-reset")
    recorder = Recorder(store, tmp_path)
    first, second = recorder.expect(save(1)), recorder.expect(save(2))
    writing, go_on = threading.Event(), threading.Event()
    record = store.record

    def slow_record(entry: dict[str, Any]) -> int:
        if entry["cases"][0]["newRunId"] == "new-1":
            writing.set()
            go_on.wait(5)
        return record(entry)

    store.record = slow_record  # type: ignore[method-assign]
    kept: list[Recorded | Notice | None] = []
    job = threading.Thread(target=lambda: kept.append(recorder.keep(first, save(1))))
    job.start()
    assert writing.wait(5)  # save 1's evals ended and its record is being written
    stopped: list[Recorded | Notice] = []
    stop = threading.Thread(target=lambda: stopped.extend(recorder.keep_the_rest()))
    stop.start()
    stop.join(0.2)
    assert stop.is_alive()  # the stop waits for the write under way
    go_on.set()
    job.join(5)
    stop.join(5)
    assert [r["cases"][0]["newRunId"] for r in store.read()] == ["new-1", "new-2"]
    assert isinstance(kept[0], Recorded)
    assert kept[0].n == 1
    assert [type(r) for r in stopped] == [Recorded, Notice]
    # Save 2's evals end after the stop: it is kept already, not twice.
    assert recorder.keep(second, save(2)) is None
    assert len(store.read()) == 2
