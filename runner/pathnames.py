"""How file paths read in text for a person: control characters escaped, a long list cut to
a few names and a count (pure, and low in the layers, so the wording and the adapters both
use it)."""

from __future__ import annotations

from collections.abc import Sequence

from runner.errors import one_line

NAMED = 3  # a list this long is shown whole; a longer one names NAMED - 1 and counts the rest


def shown(path: str) -> str:
    """The path with control characters escaped (a newline as `\\n`): a file named
    "x\\n08:00:00 blog-1: FAKE LINE" must not print a line of its own. Other unprintable
    characters (an escape sequence, a bidi override, a byte that is not UTF-8) too."""
    return one_line(path)


def file_list(paths: Sequence[str]) -> str:
    """ "src/a.prompt, src/b.ts and 3,998 more": a checkout of thousands of files must not
    become a line (or a reset reason) of hundreds of thousands of characters."""
    if len(paths) <= NAMED:
        return ", ".join(shown(p) for p in paths)
    named = ", ".join(shown(p) for p in paths[: NAMED - 1])
    return f"{named} and {len(paths) - NAMED + 1:,} more"
