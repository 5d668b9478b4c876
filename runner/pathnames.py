"""How file paths read in text for a person: a long list is cut to a few names and a count
(pure, and low in the layers, so the wording and the adapters both use it)."""

from __future__ import annotations

from collections.abc import Sequence

NAMED = 3  # a list this long is shown whole; a longer one names NAMED - 1 and counts the rest


def file_list(paths: Sequence[str]) -> str:
    """ "src/a.prompt, src/b.ts and 3,998 more": a checkout of thousands of files must not
    become a line (or a reset reason) of hundreds of thousands of characters."""
    if len(paths) <= NAMED:
        return ", ".join(paths)
    named = ", ".join(paths[: NAMED - 1])
    return f"{named} and {len(paths) - NAMED + 1:,} more"
