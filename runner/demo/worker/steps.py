"""The example's steps: activities that read their prompt file at call time and log each call.

The only I/O of the example lives here. Each activity reads `prompts/<step>.prompt` when it runs
(so an edit is picked up by the next run, with no worker restart), appends one JSON line per
invocation to the invocations log (so a test can tell which steps re-ran after a reset and which
were replayed from history), and returns text that includes the prompt (so an edit shows up in
the run's result).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from runner.demo.worker.workflows import STEPS

PROMPT_SUFFIX = ".prompt"


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    prompts: Path  # the folder with one <step>.prompt per step
    log: Path  # the invocations log (JSON lines)


@dataclass(frozen=True, slots=True, kw_only=True)
class Invocation:
    """One line of the invocations log: one attempt of one step."""

    workflow_id: str
    run_id: str
    workflow_type: str
    step: str
    attempt: int
    round: int | None
    prompt: str
    at: float  # epoch seconds

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Invocation:
        return cls(
            workflow_id=str(raw["workflow_id"]),
            run_id=str(raw["run_id"]),
            workflow_type=str(raw["workflow_type"]),
            step=str(raw["step"]),
            attempt=int(raw["attempt"]),
            round=None if raw.get("round") is None else int(raw["round"]),
            prompt=str(raw["prompt"]),
            at=float(raw["at"]),
        )


def read_invocations(log: Path) -> list[Invocation]:
    """Every complete line of the log so far (a line being written is skipped)."""
    try:
        text = log.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    found: list[Invocation] = []
    for line in text.splitlines(keepends=True):
        if line.endswith("\n"):
            found.append(Invocation.from_json(json.loads(line)))
    return found


def read_prompt(prompts: Path, step: str) -> str:
    """The prompt's text on one line; raises a non-retryable error when the file is missing."""
    path = prompts / f"{step}{PROMPT_SUFFIX}"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ApplicationError(f"prompt file {path} does not exist", non_retryable=True) from None
    return " ".join(text.split())


def activities(settings: Settings) -> list[Callable[[dict[str, Any]], Awaitable[str]]]:
    """One activity per step of every example workflow, named `<workflow>#<step>`."""
    return [_activity(settings, wf, step) for wf, steps in STEPS.items() for step in steps]


def _activity(
    settings: Settings, workflow_type: str, step: str
) -> Callable[[dict[str, Any]], Awaitable[str]]:
    async def run(arg: dict[str, Any]) -> str:
        prompt = read_prompt(settings.prompts, step)
        iteration = arg.get("round")
        log_invocation(settings.log, workflow_type, step, prompt=prompt, iteration=iteration)
        delay_ms = arg.get("delay_ms")
        if delay_ms:
            await asyncio.sleep(float(delay_ms) / 1000)
        label = step if iteration is None else f"{step} (round {iteration})"
        return f"{arg.get('text', '')}\n{label}: {prompt}"

    run.__name__ = run.__qualname__ = f"{workflow_type}__{step}"
    return activity.defn(name=f"{workflow_type}#{step}")(run)


def log_invocation(
    log: Path, workflow_type: str, step: str, *, prompt: str, iteration: int | None = None
) -> None:
    """One line for the activity attempt running now (call it from inside the activity)."""
    info = activity.info()
    record = {
        "workflow_id": info.workflow_id,
        "run_id": info.workflow_run_id,
        "workflow_type": workflow_type,
        "step": step,
        "attempt": info.attempt,
        "round": iteration,
        "prompt": prompt,
        "at": time.time(),
    }
    _append(log, record)


def _append(log: Path, record: dict[str, Any]) -> None:
    # One write() of a whole line on an O_APPEND descriptor: lines from concurrent activities
    # (parallel steps, several workers) never interleave.
    line = (json.dumps(record, sort_keys=True) + "\n").encode()
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)
