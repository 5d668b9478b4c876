"""LLM usage per step, read from an Output trace tree, and what a replay saved (pure core).

Output records token usage and cost only in trace files (docs/output-api.md §7.3), and a reset
overwrites the run's trace with a fragment (§7.4). So usage is read whenever a trace is whole
enough and kept per step slot (activity type and activity id: a reset re-uses the ids of the
steps it re-runs), to say what a later replay saved.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from runner.history import Activity

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


@dataclass(frozen=True, slots=True, kw_only=True)
class Savings:
    """What replaying the kept steps saved, as recorded when they last ran."""

    steps: tuple[str, ...]
    seconds: float
    tokens: int | None  # None: no trace carried usage for them
    cost: float | None  # USD; None when any kept step's cost is unknown

    def to_json(self) -> dict[str, Any]:
        return {
            "steps": list(self.steps),
            "seconds": self.seconds,
            "tokens": self.tokens,
            "cost": self.cost,
        }


def savings(kept: Sequence[Activity], known: Mapping[str, Mapping[str, Any]]) -> Savings:
    """What replaying `kept` saves, from their recorded durations and the usage `known` by slot."""
    seconds = 0.0
    tokens = 0
    cost = 0.0
    priced = bool(kept)
    measured = 0
    for activity in kept:
        seconds += activity.duration_s or 0.0
        raw = known.get(slot(activity.activity_type, activity.activity_id))
        if raw is None:
            priced = False
            continue
        usage = Usage.from_json(raw)
        measured += 1
        tokens += usage.tokens
        if usage.cost is None:
            priced = False
        else:
            cost += usage.cost
    return Savings(
        steps=tuple(a.step for a in kept),
        seconds=round(seconds, 3),
        tokens=tokens if measured else None,
        cost=round(cost, 6) if priced and measured else None,
    )


@dataclass(slots=True)
class Totals:
    """Savings added up: a session's resets, or every reset in the audit log."""

    resets: int = 0
    steps: int = 0
    seconds: float = 0.0
    tokens: int | None = None
    cost: float | None = None

    def add(self, saved: Savings | None) -> None:
        self.add_json(saved.to_json() if saved is not None else None)

    def add_json(self, saved: Mapping[str, Any] | None) -> None:
        """One reset, with what it saved as the audit log records it (or None if unknown)."""
        self.resets += 1
        if not saved:
            return
        self.steps += len(saved.get("steps") or [])
        self.seconds += float(saved.get("seconds") or 0.0)
        if saved.get("tokens") is not None:
            self.tokens = (self.tokens or 0) + int(saved["tokens"])
        if saved.get("cost") is not None:
            self.cost = (self.cost or 0.0) + float(saved["cost"])

    def to_json(self) -> dict[str, Any]:
        return {
            "resets": self.resets,
            "steps": self.steps,
            "seconds": self.seconds,
            "tokens": self.tokens,
            "cost": self.cost,
        }
