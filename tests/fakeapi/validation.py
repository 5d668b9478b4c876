"""Request validation with the API's zod (v4) issue format: 400 `ValidationError` bodies.

Recorded issue shapes: 1-15 (custom), 2-15 (uuid), 2-19 and 2-20 (invalid_type). The number,
regex and enum issues follow zod v4's wording; the real API produced none of them in a recording.
"""

from __future__ import annotations

import math
import re
from typing import Any, Final

from tests.fakeapi.model import ApiError


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()  # an absent JSON body or field (`undefined` on the Node side)

UUID_PATTERN = (
    "/^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-8][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}"
    "|00000000-0000-0000-0000-000000000000|ffffffff-ffff-ffff-ffff-ffffffffffff)$/"
)
_UUID_RE = re.compile(UUID_PATTERN[1:-1])
NAME_PATTERN = "/^[a-z0-9_.@-]+$/i"
_NAME_RE = re.compile(r"^[a-z0-9_.@-]+$", re.IGNORECASE)
TOKEN_PATTERN = "/^[A-Za-z0-9+/]+={0,2}$/"
_TOKEN_RE = re.compile(r"^[A-Za-z0-9+/]+={0,2}$")


def received(value: Any) -> str:
    if value is MISSING:
        return "undefined"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


class Issues:
    """Collects zod issues; `check()` raises the 400 when there is any."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def check(self) -> None:
        if self.items:
            raise ApiError(400, "ValidationError", "Invalid Payload", extra={"issues": self.items})

    def invalid_type(self, expected: str, value: Any, path: list[str | int]) -> None:
        self.items.append(
            {
                "expected": expected,
                "code": "invalid_type",
                "path": path,
                "message": f"Invalid input: expected {expected}, received {received(value)}",
            }
        )

    def custom(self, path: list[str | int], message: str) -> None:
        self.items.append({"code": "custom", "path": path, "message": message})

    # --- path parameters ---------------------------------------------------------------------

    def uuid(self, value: str) -> None:
        if not _UUID_RE.match(value):
            self.items.append(
                {
                    "origin": "string",
                    "code": "invalid_format",
                    "format": "uuid",
                    "pattern": UUID_PATTERN,
                    "path": [],
                    "message": "Invalid UUID",
                }
            )

    # --- query parameters (strings) ----------------------------------------------------------

    def pattern(self, query: dict[str, str], key: str, *, token: bool = False) -> str | None:
        value = query.get(key)
        if value is None or (token and value == ""):
            return None
        regex, pattern = (_TOKEN_RE, TOKEN_PATTERN) if token else (_NAME_RE, NAME_PATTERN)
        if token and len(value) > 4096:
            self._too_big("string", 4096, key, "Too big: expected string to have <=4096 characters")
        elif not regex.match(value):
            self.items.append(
                {
                    "origin": "string",
                    "code": "invalid_format",
                    "format": "regex",
                    "pattern": pattern,
                    "path": [key],
                    "message": f"Invalid string: must match pattern {pattern}",
                }
            )
        return value

    def boolean(self, query: dict[str, str], key: str) -> bool:
        value = query.get(key)
        if value is None:
            return False
        if value not in ("true", "false"):
            self.items.append(
                {
                    "code": "invalid_value",
                    "values": ["true", "false"],
                    "path": [key],
                    "message": 'Invalid option: expected one of "true"|"false"',
                }
            )
        return value == "true"

    def integer(
        self,
        query: dict[str, str],
        key: str,
        *,
        minimum: int,
        maximum: int | None = None,
        exclusive_minimum: bool = False,
    ) -> int | None:
        text = query.get(key)
        if text is None:
            return None
        try:
            number = float(text) if text.strip() else math.nan
        except ValueError:
            number = math.nan
        if math.isnan(number):
            self.items.append(
                {
                    "expected": "number",
                    "code": "invalid_type",
                    "received": "NaN",
                    "path": [key],
                    "message": "Invalid input: expected number, received NaN",
                }
            )
            return None
        if not number.is_integer():
            self.items.append(
                {
                    "expected": "int",
                    "format": "safeint",
                    "code": "invalid_type",
                    "path": [key],
                    "message": "Invalid input: expected int, received number",
                }
            )
            return None
        value = int(number)
        if value < minimum or (exclusive_minimum and value == minimum):
            relation = ">" if exclusive_minimum else ">="
            self.items.append(
                {
                    "origin": "number",
                    "code": "too_small",
                    "minimum": minimum,
                    "inclusive": not exclusive_minimum,
                    "path": [key],
                    "message": f"Too small: expected number to be {relation}{minimum}",
                }
            )
            return None
        if maximum is not None and value > maximum:
            self._too_big("number", maximum, key, f"Too big: expected number to be <={maximum}")
            return None
        return value

    def _too_big(self, origin: str, maximum: int, key: str, message: str) -> None:
        self.items.append(
            {
                "origin": origin,
                "code": "too_big",
                "maximum": maximum,
                "inclusive": True,
                "path": [key],
                "message": message,
            }
        )

    # --- JSON bodies -------------------------------------------------------------------------

    def body_object(self, body: Any) -> dict[str, Any]:
        if isinstance(body, dict):
            return body
        self.invalid_type("object", body, [])
        return {}

    def string_field(self, body: dict[str, Any], key: str, *, required: bool) -> str | None:
        value = body.get(key, MISSING)
        if value is MISSING and not required:
            return None
        if not isinstance(value, str):
            self.invalid_type("string", value, [key])
            return None
        return value
