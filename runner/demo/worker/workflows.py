"""The example's workflows: deterministic code that only sequences activities (no I/O here).

Every step is an activity named `<workflow>#<step>`, the naming Output uses (docs/output-api.md
§5.1), so output-reset's planner sees the same shapes it sees on Output: a chain, a loop,
parallel siblings and a child workflow. A request is a JSON object: `topic`, optional `rounds`
(loop_digest) and optional `delay_ms` ({step: milliseconds}) to slow a step down."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

# The steps of each workflow type, in order; each reads prompts/<step>.prompt.
STEPS: dict[str, tuple[str, ...]] = {
    "blog_digest": ("fetch_article", "extract_points", "draft_digest", "polish_digest"),
    "loop_digest": ("outline", "refine", "publish"),
    "parallel_digest": ("fetch_news", "fetch_blogs", "merge_sources"),
    "parent_digest": ("gather_notes", "assemble_digest"),
    "section_writer": ("write_section",),
}
DEFAULT_TOPIC = "resetting workflow runs"
DEFAULT_ROUNDS = 3

_TIMEOUT = timedelta(seconds=60)
_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200), maximum_attempts=3)


async def _step(
    workflow_type: str, step: str, request: dict[str, Any], text: str, iteration: int | None = None
) -> str:
    arg: dict[str, Any] = {"text": text}
    delays = request.get("delay_ms") or {}
    if step in delays:
        arg["delay_ms"] = delays[step]
    if iteration is not None:
        arg["round"] = iteration
    result: str = await workflow.execute_activity(
        f"{workflow_type}#{step}",
        arg,
        start_to_close_timeout=_TIMEOUT,
        retry_policy=_RETRY,
        result_type=str,
    )
    return result


def _topic(request: dict[str, Any]) -> str:
    return f"topic: {request.get('topic') or DEFAULT_TOPIC}"


@workflow.defn(name="blog_digest")
class BlogDigest:
    """fetch_article -> extract_points -> draft_digest -> polish_digest."""

    @workflow.run
    async def run(self, request: dict[str, Any]) -> str:
        text = _topic(request)
        for step in STEPS["blog_digest"]:
            text = await _step("blog_digest", step, request, text)
        return text


@workflow.defn(name="loop_digest")
class LoopDigest:
    """outline -> refine x rounds -> publish."""

    @workflow.run
    async def run(self, request: dict[str, Any]) -> str:
        text = await _step("loop_digest", "outline", request, _topic(request))
        for n in range(1, int(request.get("rounds") or DEFAULT_ROUNDS) + 1):
            text = await _step("loop_digest", "refine", request, text, n)
        return await _step("loop_digest", "publish", request, text)


@workflow.defn(name="parallel_digest")
class ParallelDigest:
    """fetch_news and fetch_blogs side by side (one workflow task schedules both) -> merge."""

    @workflow.run
    async def run(self, request: dict[str, Any]) -> str:
        topic = _topic(request)
        news, blogs = await asyncio.gather(
            _step("parallel_digest", "fetch_news", request, topic),
            _step("parallel_digest", "fetch_blogs", request, topic),
        )
        return await _step("parallel_digest", "merge_sources", request, f"{news}\n{blogs}")


@workflow.defn(name="parent_digest")
class ParentDigest:
    """gather_notes -> child workflow section_writer (write_section) -> assemble_digest."""

    @workflow.run
    async def run(self, request: dict[str, Any]) -> str:
        notes = await _step("parent_digest", "gather_notes", request, _topic(request))
        # A new id per parent run, like Output's `<parentId>-<random>` (docs/output-api.md §5.9);
        # workflow.uuid4() is replay-safe and gets a new seed in a reset run.
        child_id = f"{workflow.info().workflow_id}-{workflow.uuid4().hex[:12]}"
        section: str = await workflow.execute_child_workflow(
            "section_writer",
            {"text": notes, "delay_ms": request.get("delay_ms") or {}},
            id=child_id,
            result_type=str,
        )
        return await _step("parent_digest", "assemble_digest", request, section)


@workflow.defn(name="section_writer")
class SectionWriter:
    """write_section, run as a child of parent_digest."""

    @workflow.run
    async def run(self, request: dict[str, Any]) -> str:
        return await _step("section_writer", "write_section", request, str(request.get("text")))


WORKFLOWS: tuple[type, ...] = (BlogDigest, LoopDigest, ParallelDigest, ParentDigest, SectionWriter)
