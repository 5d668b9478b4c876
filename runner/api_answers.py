"""What the Output API answers, read with checks (below the client in runner/output_api.py,
without httpx): JSON that does not fit the contract of docs/output-api.md §3 becomes one
BadAnswer naming the route, never a KeyError or a TypeError further on.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from runner.errors import BadAnswer, one_line

_YEAR_10000 = 253_402_300_800_000  # in epoch ms

NOT_JSON = object()


def parsed(content_type: str, content: bytes) -> Any:
    """The answer's JSON; NOT_JSON when it does not say it is JSON or is not (invalid, invalid
    UTF-8, a number of thousands of digits, nested too deep for Python)."""
    if "json" not in content_type:
        return NOT_JSON
    try:
        return json.loads(content)
    except (ValueError, RecursionError):
        return NOT_JSON


@dataclass(frozen=True, slots=True)
class Answer:
    """A JSON object the API answered, read with checks: what does not fit the contract is a
    BadAnswer that names the route."""

    route: str  # "GET /workflow/wf-1/status"
    body: Mapping[str, Any]
    where: str = ""  # "runs[3]." for a row of a list

    @classmethod
    def of(cls, route: str, body: Any, text: str) -> Answer:
        answer = cls(route, body if isinstance(body, dict) else {})
        if body is NOT_JSON:
            line = one_line_of(text)
            what = "something that is not JSON" + (f": {line}" if line else "")
            raise answer.bad(what, retryable=True)  # a proxy's page, a cut-off body
        if not isinstance(body, dict):
            raise answer.bad(f"JSON that is not an object ({kind(body)})")
        return answer

    def bad(self, what: str, *, retryable: bool = False) -> BadAnswer:
        message = one_line(f"the Output API answered {self.route} with {what}")
        return BadAnswer(message, retryable=retryable)

    def get(self, key: str) -> Any:
        return self.body.get(key)

    def text(self, key: str) -> str | None:
        """A string field, or None when absent or null."""
        value = self.body.get(key)
        if value is None or isinstance(value, str):
            return value
        raise self.bad(f'"{self.where}{key}" as {kind(value)}, not a string')

    def required(self, key: str, fallback: str | None = None) -> str:
        value = self.text(key) or fallback
        if not value:
            raise self.bad(f'no "{self.where}{key}"')
        return value

    def items(self, key: str) -> list[Any]:
        if key not in self.body:
            raise self.bad(f'no "{self.where}{key}"')
        value = self.body[key]
        if not isinstance(value, list):
            raise self.bad(f'"{self.where}{key}" as {kind(value)}, not a list')
        return value

    def rows(self, key: str) -> list[Answer]:
        rows: list[Answer] = []
        for i, row in enumerate(self.items(key)):
            where = f"{self.where}{key}[{i}]"
            if not isinstance(row, dict):
                raise self.bad(f'"{where}" as {kind(row)}, not an object')
            rows.append(Answer(self.route, row, f"{where}."))
        return rows


def kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "a list" if isinstance(value, list) else "an object"


def one_line_of(text: str) -> str:
    """The first line that says something, at most about 120 characters, control characters
    escaped."""
    line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return one_line(line if len(line) <= 120 else line[:117] + "...")


def epoch_ms(value: Any) -> float | None:
    """Epoch milliseconds (§3.2) as seconds; None for "", null and numbers no clock reaches."""
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < _YEAR_10000:
        return float(value) / 1000
    return None


def iso_seconds(value: Any) -> float | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except (ValueError, OverflowError):
        return None
