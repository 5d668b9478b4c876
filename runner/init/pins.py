"""Which run an entry pins (`output-reset init`): the newest of its type that is not a child
execution, as a reset through a child's id leaves its parent unchanged (CONTRACT §3.5).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# A child's id is `<parent id>-<base64url(uuid4)>`: 22 characters, which (unlike the words of a
# hand-chosen id) mix upper and lower case.
_CHILD_SUFFIX = re.compile(r".+-(?=[A-Za-z0-9_-]*[A-Z])(?=[A-Za-z0-9_-]*[a-z])[A-Za-z0-9_-]{22}")


def choose_pin(workflow_ids: Iterable[str]) -> str | None:
    """The first id (give them newest first) that does not look like a child execution's."""
    return next((i for i in workflow_ids if not _CHILD_SUFFIX.fullmatch(i)), None)
