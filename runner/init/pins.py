"""Which run an entry pins (`output-reset init`): the newest of its type that is not a child
execution, as a reset through a child's id leaves its parent unchanged (docs/output-api.md §5.9).
"""

from __future__ import annotations

from collections.abc import Iterable

from runner.pins import is_child_id


def choose_pin(workflow_ids: Iterable[str]) -> str | None:
    """The first id (give them newest first) that does not look like a child execution's."""
    return next((i for i in workflow_ids if not is_child_id(i)), None)
