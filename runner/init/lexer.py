"""A small TypeScript lexer for `output-reset init`: tokens with line numbers, never a crash.

It knows strings, templates (a template with `${...}` is one `tpl` token), regex literals,
comments and punctuation; everything else is an identifier, a number or one character.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # id, str (a string, or a template without ${}), tpl, num, regex, punct
    text: str  # the identifier, punctuation or decoded string value
    line: int


_IDENT = re.compile(r"(?:[^\W\d]|\$)(?:\w|\$)*")
_NUMBER = re.compile(
    r"0[xXoObB][0-9a-fA-F_]+n?|(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d+)?n?"
)
_PUNCT3 = ("...",)
_PUNCT2 = ("=>", "?.")
# After these words a `/` starts a regular expression, not a division.
_REGEX_AFTER = frozenset(
    {
        "return", "typeof", "case", "do", "else", "in", "of", "new", "delete", "void", "throw",
        "instanceof", "yield", "await",
    }
)  # fmt: skip
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "0": "\0"}
_ESCAPE = re.compile(r"\\(u\{[0-9a-fA-F]+\}|u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|\r\n|[\s\S])")


def unescape(raw: str) -> str:
    """A JavaScript string literal's body as the string it denotes."""

    def one(match: re.Match[str]) -> str:
        body = match.group(1)
        if body.startswith("u{"):
            return chr(int(body[2:-1], 16))
        if body[0] in "ux" and len(body) > 1:
            return chr(int(body[1:], 16))
        if body in ("\n", "\r\n", "\r", "\u2028", "\u2029"):
            return ""
        return _ESCAPES.get(body, body)

    return _ESCAPE.sub(one, raw)


class Lexer:
    """Call `run()`, then read `tokens` and `problems` (line, what is wrong)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.tokens: list[Token] = []
        self.problems: list[tuple[int, str]] = []
        self._newlines = [i for i, c in enumerate(text) if c == "\n"]

    def line(self, pos: int) -> int:
        return bisect.bisect_left(self._newlines, pos) + 1

    def add(self, kind: str, text: str, pos: int) -> None:
        self.tokens.append(Token(kind, text, self.line(pos)))

    def run(self, *, inside_template: bool = False) -> None:
        """Tokens up to the end, or (in a `${`) up to its unmatched closing brace."""
        text, depth = self.text, 0
        while self.pos < len(text):
            c = text[self.pos]
            if self.blank():
                continue
            if c in "'\"":
                self.string(c)
            elif c == "`":
                self.template()
            elif c == "/" and self.regex_allowed() and self.regex():
                pass
            elif not self.word():
                punct = self.punct()
                if inside_template and punct == "}":
                    if depth == 0:
                        self.pos += 1
                        return
                    depth -= 1
                elif inside_template and punct == "{":
                    depth += 1
                self.add("punct", punct, self.pos)
                self.pos += len(punct)
        if inside_template:
            self.problems.append((self.line(len(text)), "unterminated ${ in a template string"))

    def blank(self) -> bool:
        """Skip whitespace or a comment at pos; False when there is none."""
        text, start = self.text, self.pos
        if text[start] in " \t\r\n\f\v\ufeff\u00a0\u2028\u2029":
            self.pos += 1
        elif text.startswith("//", start):
            end = text.find("\n", start)
            self.pos = len(text) if end < 0 else end
        elif text.startswith("/*", start):
            end = text.find("*/", start + 2)
            if end < 0:
                self.problems.append((self.line(start), "unterminated /* comment"))
                self.pos = len(text)
            else:
                self.pos = end + 2
        else:
            return False
        return True

    def word(self) -> bool:
        """An identifier or a number at pos; False when there is none."""
        start = self.pos
        for kind, pattern in (("id", _IDENT), ("num", _NUMBER)):
            match = pattern.match(self.text, start)
            if match:
                self.add(kind, match.group(), start)
                self.pos = match.end()
                return True
        return False

    def punct(self) -> str:
        """The punctuation at pos: `...`, `=>`, `?.` (not before a digit) or one character."""
        text, start = self.text, self.pos
        punct = next(
            (p for p in (*_PUNCT3, *_PUNCT2) if text.startswith(p, start)),
            text[start],
        )
        if punct == "?." and text[start + 2 : start + 3].isdigit():
            return "?"
        return punct

    def string(self, quote: str) -> None:
        text, start = self.text, self.pos
        i = start + 1
        while i < len(text):
            c = text[i]
            if c == "\\":
                i += 2
                continue
            if c == quote:
                self.add("str", unescape(text[start + 1 : i]), start)
                self.pos = i + 1
                return
            if c == "\n":
                break
            i += 1
        self.problems.append((self.line(start), "unterminated string"))
        self.add("str", unescape(text[start + 1 : i]), start)
        self.pos = i

    def template(self) -> None:
        text, start = self.text, self.pos
        index = len(self.tokens)
        self.add("str", "", start)  # replaced below, once the parts are known
        parts: list[str] = []
        substituted = False
        i = start + 1
        chunk = i
        while i < len(text):
            c = text[i]
            if c == "\\":
                i += 2
                continue
            if c == "`":
                parts.append(unescape(text[chunk:i]))
                kind = "tpl" if substituted else "str"
                self.tokens[index] = Token(kind, "".join(parts), self.line(start))
                self.pos = i + 1
                return
            if text.startswith("${", i):
                parts.append(unescape(text[chunk:i]))
                parts.append("*")
                substituted = True
                self.pos = i + 2
                self.run(inside_template=True)
                i = chunk = self.pos
                continue
            i += 1
        self.problems.append((self.line(start), "unterminated template string"))
        self.pos = len(text)

    def regex_allowed(self) -> bool:
        if not self.tokens:
            return True
        prev = self.tokens[-1]
        if prev.kind == "id":
            return prev.text in _REGEX_AFTER
        if prev.kind == "punct":
            return prev.text not in (")", "]")
        return False

    def regex(self) -> bool:
        """A regex literal at pos; False (nothing consumed) when the line has no closing /."""
        text, start = self.text, self.pos
        i, in_class = start + 1, False
        while i < len(text) and text[i] != "\n":
            c = text[i]
            if c == "\\":
                i += 2
                continue
            if c == "[":
                in_class = True
            elif c == "]":
                in_class = False
            elif c == "/" and not in_class:
                flags = re.match(r"[A-Za-z]*", text[i + 1 :])
                end = i + 1 + (flags.end() if flags else 0)
                self.add("regex", text[start:end], start)
                self.pos = end
                return True
            i += 1
        return False
