"""LLM usage per step, read from an Output trace tree (pure core).

Output records token usage and cost only in trace files (CONTRACT §5.4), and a reset overwrites
the run's trace with a fragment (§5.5). So usage is read whenever a trace is whole enough and
kept per step slot (activity type and activity id: a reset re-uses the ids of the steps it
re-runs), to say what a later replay saved.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

_STEP_KINDS = frozenset({"step", "evaluator"})


@dataclass(frozen=True, slots=True)
class Usage:
    tokens: int
    cost: float | None  # USD, when the trace priced the calls

    def to_json(self) -> dict[str, Any]:
        return {"tokens": self.tokens, "cost": self.cost}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Usage:
        cost = raw.get("cost")
        return cls(tokens=int(raw.get("tokens", 0)), cost=float(cost) if cost is not None else None)


def slot(activity_type: str, activity_id: str) -> str:
    return f"{activity_type}/{activity_id}"


def usage_by_step(tree: Any) -> dict[str, Usage]:
    """Usage of every step node in the tree (whatever node it is rooted at), by slot."""
    found: dict[str, Usage] = {}
    for node in _nodes(tree):
        if node.get("kind") in _STEP_KINDS and isinstance(node.get("name"), str):
            usage = _llm_usage(node)
            if usage is not None:
                found[slot(node["name"], str(node.get("id", "")))] = usage
    return found


def _llm_usage(step: Mapping[str, Any]) -> Usage | None:
    tokens = 0
    cost = 0.0
    priced = True
    calls = 0
    for node in _nodes(step):
        if node.get("kind") != "llm":
            continue
        calls += 1
        attributes = node.get("attributes") or {}
        priced_usage = attributes.get("llm:usage") if isinstance(attributes, dict) else None
        if isinstance(priced_usage, dict):
            tokens += int(priced_usage.get("tokensUsed") or 0)
            cost += float(priced_usage.get("total") or 0.0)
            continue
        priced = False
        output = node.get("output") or {}
        usage = output.get("usage") if isinstance(output, dict) else None
        if isinstance(usage, dict):
            tokens += int(usage.get("totalTokens") or 0)
    if calls == 0:
        return None
    return Usage(tokens=tokens, cost=round(cost, 6) if priced else None)


def _nodes(tree: Any) -> Iterator[Mapping[str, Any]]:
    stack = [tree]
    while stack:
        node = stack.pop()
        if not isinstance(node, Mapping):
            continue
        yield node
        children = node.get("children")
        if isinstance(children, list):
            stack.extend(reversed(children))
