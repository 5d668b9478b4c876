"""What a pin is: the run a config entry follows, the file contents it was built on, and the
record of a reset request whose answer is not in yet (pure data and its JSON form).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

# A child's id is `<parent id>-<base64url(uuid4)>`: 22 characters, which (unlike the words of a
# hand-chosen id) mix upper and lower case (docs/output-api.md §5.9).
_CHILD_SUFFIX = re.compile(r".+-(?=[A-Za-z0-9_-]*[A-Z])(?=[A-Za-z0-9_-]*[a-z])[A-Za-z0-9_-]{22}")


def is_child_id(workflow_id: str) -> bool:
    """The id of a child workflow's execution: a reset through it leaves its parent unchanged,
    so a `type:` entry never pins one."""
    return _CHILD_SUFFIX.fullmatch(workflow_id) is not None


@dataclass(slots=True)
class InFlight:
    """A reset request about to be sent: written before the request, cleared after its answer.

    If the process dies in between, the next start looks for the run it may have created
    (by `token`) instead of resetting the old run a second time. `pid` and `since` (epoch
    seconds) tell another output-reset whether the request may still be on its way.
    """

    token: str
    base_run_id: str
    hashes: dict[str, str | None] = field(default_factory=dict)
    pid: int = 0
    since: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "token": self.token,
            "base_run_id": self.base_run_id,
            "hashes": self.hashes,
            "pid": self.pid,
            "since": self.since,
        }

    @classmethod
    def from_json(cls, raw: Any) -> InFlight | None:
        if not isinstance(raw, dict):
            return None
        return cls(
            token=str(raw["token"]),
            base_run_id=str(raw["base_run_id"]),
            hashes=_hashes(raw.get("hashes", {})),
            pid=int(raw.get("pid") or 0),
            since=float(raw.get("since") or 0.0),
        )


@dataclass(slots=True)
class Pin:
    """The run a config entry is pinned to, and the mapped files' content at that point."""

    workflow_id: str
    run_id: str
    fingerprint: str
    hashes: dict[str, str | None] = field(default_factory=dict)
    updated_at: str = ""
    in_flight: InFlight | None = None

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "workflow_id": self.workflow_id,
            "run_id": self.run_id,
            "fingerprint": self.fingerprint,
            "hashes": self.hashes,
            "updated_at": self.updated_at,
        }
        if self.in_flight is not None:
            document["in_flight"] = self.in_flight.to_json()
        return document

    @classmethod
    def from_json(cls, raw: Any) -> Pin:
        if not isinstance(raw, dict):
            raise ValueError("pin is not an object")
        return cls(
            workflow_id=str(raw["workflow_id"]),
            run_id=str(raw["run_id"]),
            fingerprint=str(raw["fingerprint"]),
            hashes=_hashes(raw.get("hashes", {})),
            updated_at=str(raw.get("updated_at", "")),
            in_flight=InFlight.from_json(raw.get("in_flight")),
        )


def _hashes(raw: Any) -> dict[str, str | None]:
    if not isinstance(raw, dict):
        raise ValueError("hashes is not an object")
    return {str(k): (str(v) if v is not None else None) for k, v in raw.items()}
