"""Is a key part of a TypeScript type or of a value? (`output-reset init`)

`{ prompt: string }` in an interface, a type alias or a parameter's annotation names no prompt
file; `{ prompt: name }` in a call does. Token patterns, no type checker.
"""

from __future__ import annotations

from runner.init.source import OPEN, Source

_MAX_DEPTH = 8  # nested object literals looked through to find out what a brace is
_MAX_HEADER = 64  # tokens looked back through for `interface Name extends A<B>, C {`


def in_type(src: Source, i: int) -> bool:
    """Token i sits directly in a type literal's braces."""
    open_ = src.enclosing(i)
    return open_ is not None and src.tokens[open_].text == "{" and _is_type_brace(src, open_, 0)


def _is_type_brace(src: Source, open_: int, depth: int) -> bool:
    toks = src.tokens
    before = toks[open_ - 1].text if open_ > 0 else ""
    if before in ("<", "as", "satisfies", "extends", "implements"):
        return True
    if before in ("|", "&"):
        return toks[open_ - 2].text != before  # `a || {` and `a && {` are values
    if before == "=":
        return _names_a_type(src, open_ - 1)
    if before == ":":
        return _annotates(src, open_ - 1, depth)
    if before == ",":
        return _in_angles(src, open_ - 1)
    return _after_interface(src, open_)


def _names_a_type(src: Source, eq: int) -> bool:
    """`type Name =` or `type Name<T> =` before the `=` at eq."""
    toks = src.tokens
    j = eq - 1
    if toks[j].text == ">":
        j = _angle_open(src, j) - 1
    return j > 0 and toks[j].kind == "id" and toks[j - 1].text == "type"


def _annotates(src: Source, colon: int, depth: int) -> bool:
    """The `:` at colon starts a type annotation (not an object key's value or a ternary)."""
    toks = src.tokens
    before = toks[colon - 1].text
    if before == "?":
        return True  # an optional parameter or property: `x?: {`
    if _ends_a_ternary(src, colon):
        return False
    if before == ")":
        return True  # a return type: `(...): {`
    outer = src.enclosing(colon)
    if outer is None or toks[outer].text != "{":
        return True  # a parameter's or a binding's annotation
    if toks[colon - 2].text in ("{", ",") and depth < _MAX_DEPTH:
        return _is_type_brace(src, outer, depth + 1)  # `key: {` is a type inside a type
    return False


def _ends_a_ternary(src: Source, colon: int) -> bool:
    for j in src.backwards(colon):
        tok = src.tokens[j]
        if tok.kind == "punct" and (tok.text in OPEN or tok.text in (",", ";", "=", "=>", ":")):
            return False
        if tok.kind == "punct" and tok.text == "?":
            return True
    return False


def _in_angles(src: Source, comma: int) -> bool:
    """The `,` at comma separates type arguments: `Map<string, {`."""
    depth = 0
    for j in src.backwards(comma):
        tok = src.tokens[j]
        if tok.text == ">":
            depth += 1
        elif tok.text == "<":
            if depth == 0:
                return True
            depth -= 1
        elif tok.kind == "punct" and (tok.text in OPEN or tok.text in (";", "=")):
            return False
    return False


def _angle_open(src: Source, close: int) -> int:
    depth = 0
    for j in range(close, -1, -1):
        text = src.tokens[j].text
        depth += {">": 1, "<": -1}.get(text, 0)
        if depth == 0:
            return j
    return 0


def _after_interface(src: Source, open_: int) -> bool:
    """The brace opens `interface Name extends A<B>, C {`."""
    toks = src.tokens
    for j in range(open_ - 1, max(-1, open_ - 1 - _MAX_HEADER), -1):
        tok = toks[j]
        if tok.kind == "id" and tok.text == "interface":
            return True
        if tok.kind != "id" and tok.text not in (".", ",", "<", ">"):
            return False
    return False
