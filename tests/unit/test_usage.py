"""LLM usage per step from trace trees (docs/output-api.md §7)."""

from __future__ import annotations

from typing import Any

from runner.usage import Usage, slot, usage_by_step


def llm(tokens: int, cost: float | None) -> dict[str, Any]:
    node: dict[str, Any] = {
        "id": f"generateText-{tokens}",
        "kind": "llm",
        "name": "generateText",
        "output": {"usage": {"totalTokens": tokens}},
        "children": [],
        "attributes": {},
    }
    if cost is not None:
        node["attributes"] = {
            "llm:usage": {"type": "llm:usage", "total": cost, "tokensUsed": tokens}
        }
    return node


def step(
    name: str, activity_id: str, *children: dict[str, Any], kind: str = "step"
) -> dict[str, Any]:
    return {
        "id": activity_id,
        "kind": kind,
        "name": name,
        "children": list(children),
        "attributes": {},
    }


def test_usage_is_summed_per_step_slot() -> None:
    tree = {
        "id": "01a2",
        "kind": "workflow",
        "name": "blog",
        "children": [
            step("__internal#getTraceDestinations", "1", kind="internal_step"),
            step("blog#extract", "2", llm(217, 0.000786), llm(100, 0.0004)),
            step("blog#judge", "3", llm(50, None), kind="evaluator"),
            step("blog#fetch", "4", {"kind": "http", "name": "request", "children": []}),
        ],
    }
    found = usage_by_step(tree)
    assert found == {
        slot("blog#extract", "2"): Usage(tokens=317, cost=0.001186),
        slot("blog#judge", "3"): Usage(tokens=50, cost=None),  # unpriced: tokens only
    }


def test_a_fragment_rooted_at_a_step_still_counts() -> None:
    # After a reset the trace file is rooted at the first re-run step (§7.4).
    assert usage_by_step(step("blog#polish", "4", llm(10, 0.001))) == {
        "blog#polish/4": Usage(tokens=10, cost=0.001)
    }


def test_nothing_usable() -> None:
    assert usage_by_step(None) == {}
    assert usage_by_step({"kind": "", "name": "", "children": []}) == {}
