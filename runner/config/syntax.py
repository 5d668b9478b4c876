"""What a gitignore pattern may look like: the check the reader applies to the config's
patterns and the matcher to `.gitignore` lines.

`pattern_problem` mirrors what `pathspec` (runner/paths.py) cannot compile, without importing
it: config sits below paths. tests/unit/test_patterns.py checks the two agree on generated
patterns.
"""

from __future__ import annotations

_OPS = "-&~|"  # doubled inside [...], Python's re reserves them for set operations


class _Dropped(Exception):
    """An unclosed `[`: pathspec drops the whole pattern, as git does (not an error)."""


def pattern_problem(pattern: str) -> str | None:
    """Why this gitignore pattern cannot be used, or None when it can (blank lines, comments
    and patterns with an unclosed `[` are fine: they match nothing)."""
    text = pattern if pattern.endswith("\\ ") else pattern.rstrip()
    if not text or text.startswith("#") or text == "/":
        return None
    body = text[1:] if text.startswith("!") else text
    if not body:
        return '"!" alone excludes nothing; put a pattern after it, such as !drafts/'
    brackets: list[tuple[bool, str]] = []
    for segment in body.split("/"):
        if segment in ("*", "**"):
            continue
        try:
            if _brackets(segment, brackets):
                return "it ends with a \\ that escapes nothing"
        except _Dropped:
            return None
    for negated, inside in brackets:
        problem = _bracket_problem(negated, inside)
        if problem is not None:
            return problem
    return None


def _brackets(segment: str, found: list[tuple[bool, str]]) -> bool:
    """Collect the `[...]` expressions of one path segment, as pathspec reads them; True when
    the segment ends with an escape that escapes nothing."""
    escaped = False
    i, end = 0, len(segment)
    while i < end:
        char = segment[i]
        i += 1
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "[":
            j = i + 1 if i < end and segment[i] in "!^" else i
            j = j + 1 if j < end and segment[j] == "]" else j
            close = segment.find("]", j)
            if close < 0:
                raise _Dropped
            negated = segment[i] in "!^"
            found.append((negated, segment[i + negated : close]))
            i = close + 1
    return escaped


def _bracket_problem(negated: bool, inside: str) -> str | None:
    """What Python's re rejects (or warns about) in `[inside]`, every character a literal."""
    shown = f"[{'!' if negated else ''}{inside}]"
    if not negated and inside.startswith("["):
        return f"{shown}: [ right after [ is not supported (no classes such as [[:alpha:]])"
    k, end = 0, len(inside)
    while k < end:
        this = inside[k]
        k += 1
        if k > 1 and this in _OPS and k < end and inside[k] == this:
            return f"{shown}: {this * 2} inside [...] is not supported; write it once"
        if k < end and inside[k] == "-":
            if k + 1 >= end:
                return None  # "a-]": the - is a literal
            that = inside[k + 1]
            k += 2
            if that == "-":
                return f"{shown}: -- inside [...] is not supported; write it once"
            if that < this:
                return f"{shown}: the range {this}-{that} runs backwards; write {that}-{this}"
    return None
