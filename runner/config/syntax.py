"""What a gitignore pattern and the API's URL may look like: the checks the reader applies to
the config, the matcher to `.gitignore` lines and the API client to environment variables.

`pattern_problem` mirrors what `pathspec` (runner/paths.py) cannot compile, without importing
it: config sits below paths. tests/unit/test_patterns.py checks the two agree on generated
patterns. `url_problem` passes only URLs httpx can use (tests/unit/test_urls.py).
"""

from __future__ import annotations

import ipaddress
import re

_OPS = "-&~|"  # doubled inside [...], Python's re reserves them for set operations


_IPV4 = re.compile(r"^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$")
_HOST = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9_])?$")
_CONTROL = {"\n": "a line break", "\r": "a line break", "\t": "a tab"}


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


def url_problem(url: str) -> str | None:
    """Why this is not the base URL of an API (http or https, a host, maybe a port and a
    path), or None when it is one that httpx can use."""
    control = next((c for c in url if not c.isprintable() and c != " "), None)
    if control is not None:
        return f"it contains {_CONTROL.get(control, 'a control character')}"
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in ("http", "https"):
        return "it must start with http:// or https://"
    netloc = re.split(r"[/?#]", rest, maxsplit=1)[0]
    host, port = _host_port(netloc.rpartition("@")[2])
    problem = _host_problem(host)
    if problem is None and port is not None:
        if not (port.isascii() and port.isdigit()):
            problem = "the port is not a number"
        elif not 0 < int(port) < 65536:
            problem = "the port is not between 1 and 65535"
    if problem is None and " " in url:
        problem = "it contains a space"
    if problem is None and ("?" in url or "#" in url):
        problem = "a base URL has no ?query or #fragment"
    return problem


def _host_port(netloc: str) -> tuple[str, str | None]:
    """("[::1]", "3001") from "[::1]:3001"; the port is None when there is none (or it is
    empty, which httpx reads as none)."""
    if netloc.startswith("["):
        inside, close, after = netloc.partition("]")
        host = inside + close
        if close and after and not after.startswith(":"):
            return host, after
        port = after[1:]
    else:
        host, _, port = netloc.partition(":")
    return host, port or None


def _host_problem(host: str) -> str | None:
    if host.startswith("["):
        if not host.endswith("]"):
            return "the [ of the IPv6 address is not closed"
        valid = _is_ip(host[1:-1], ipaddress.IPv6Address)
        return None if valid else "the IPv6 address is not valid"
    if not host:
        return "it has no host"
    if _IPV4.match(host):
        return None if _is_ip(host, ipaddress.IPv4Address) else "the IPv4 address is not valid"
    if not _HOST.match(host):
        return "the host name is not valid (letters, digits, - and . only)"
    return None


def _is_ip(host: str, kind: type[ipaddress.IPv4Address | ipaddress.IPv6Address]) -> bool:
    try:
        kind(host)
    except ValueError:
        return False
    return True
