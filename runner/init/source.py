"""One TypeScript file as tokens, with the facts the scanner asks about (`output-reset init`).

Brackets are matched, top-level imports, exports and bindings are read, and small questions
(is this an object key, where does this value end, what string is this) have answers.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from runner.init.lexer import Lexer, Token

OPEN = {"(": ")", "[": "]", "{": "}"}
CLOSE = {v: k for k, v in OPEN.items()}
# Words that start a new statement: the end of a const initializer without a semicolon.
STATEMENT = frozenset({"const", "let", "var", "function", "export", "import", "class"})


@dataclass(slots=True)
class Source:
    """One TypeScript file as tokens, with the facts the scanner asks about."""

    path: Path
    tokens: list[Token]
    problems: list[tuple[int, str]]
    pairs: dict[int, int] = field(default_factory=dict)  # opener index <-> closer index
    top: list[int] = field(default_factory=list)  # token indices outside any bracket
    imports: dict[str, tuple[str, str]] = field(default_factory=dict)  # local: (spec, name)
    import_lines: dict[str, int] = field(default_factory=dict)  # local: line of its import
    modules: list[tuple[str, int]] = field(default_factory=list)  # every (spec, line) it imports
    exports: dict[str, str] = field(default_factory=dict)  # local: exported name
    reexports: list[tuple[str, str, str]] = field(default_factory=list)  # (spec, name, as)
    default_export: str | None = None  # the local `export default` names
    locals: dict[str, tuple[int, int]] = field(default_factory=dict)  # top-level bindings
    consts: dict[str, str] = field(default_factory=dict)  # top-level const = 'string'
    body_start: int = 0  # the first token after the last import statement

    @classmethod
    def parse(cls, path: Path, text: str) -> Source:
        lexer = Lexer(text)
        lexer.run()
        # Sentinels so that lookahead never runs off the end.
        tokens = [*lexer.tokens, Token("end", "", lexer.line(len(text)))] + [
            Token("end", "", 0)
        ] * 3
        src = cls(path=path, tokens=tokens, problems=lexer.problems)
        src.match_brackets()
        src.read_top_level()
        return src

    @property
    def end(self) -> int:
        """The index of the first sentinel token, just past the file's last real token."""
        return len(self.tokens) - 4

    def match_brackets(self) -> None:
        stack: list[int] = []
        for i, tok in enumerate(self.tokens):
            if tok.kind != "punct":
                continue
            if tok.text in OPEN:
                stack.append(i)
            elif tok.text in CLOSE:
                want = CLOSE[tok.text]
                if not any(self.tokens[j].text == want for j in stack):
                    self.problems.append((tok.line, f"unmatched {tok.text}"))
                    continue
                while stack:
                    j = stack.pop()
                    if self.tokens[j].text == want:
                        self.pairs[j] = i
                        self.pairs[i] = j
                        break
                    self.problems.append((self.tokens[j].line, f"unclosed {self.tokens[j].text}"))
        for j in stack:
            self.problems.append((self.tokens[j].line, f"unclosed {self.tokens[j].text}"))
            self.pairs[j] = self.end

    def read_top_level(self) -> None:
        toks = self.tokens
        i = 0
        while toks[i].kind != "end":
            self.top.append(i)
            tok = toks[i]
            if tok.kind == "punct" and tok.text in OPEN:
                i = self.pairs.get(i, i) + 1
                continue
            if tok.kind == "id" and self.is_reference(i):
                self.read_statement(i)
            i += 1

    def read_statement(self, i: int) -> None:
        word, after = self.tokens[i].text, self.tokens[i + 1]
        if word == "import":
            self.read_import(i)
        elif word == "export":
            self.read_export(i + 1)
        elif word in ("const", "let", "var") and after.kind == "id":
            self.read_binding(i)
        elif word == "function" and after.kind == "id":
            self.read_function(i)

    def read_export(self, j: int) -> None:
        """After `export`: a list, a re-export of everything, or the default export."""
        toks = self.tokens
        if toks[j].text == "{":
            self.read_export_list(j)
        elif toks[j].text == "*" and toks[j + 1].text == "from" and toks[j + 2].kind == "str":
            self.reexports.append((toks[j + 2].text, "*", "*"))
            self.modules.append((toks[j + 2].text, toks[j + 2].line))
        elif toks[j].text == "default":
            j += 2 if toks[j + 1].text == "async" else 1
            if toks[j].text in ("function", "class"):
                j += 1
            if toks[j].kind == "id":
                self.default_export = toks[j].text

    def read_import(self, i: int) -> None:
        toks = self.tokens
        if toks[i + 1].text in ("(", "."):
            return  # import(...) or import.meta
        j = i + 1
        if toks[j].text == "type" and toks[j + 1].text not in (",", "from"):
            return  # import type { ... }: no values
        names: list[tuple[str, str]] = []
        while toks[j].kind not in ("str", "end"):
            tok = toks[j]
            if tok.text == "{":
                close = self.pairs.get(j, j)
                names += self.specifiers(j + 1, close)
                j = close + 1
                continue
            if tok.text == "*" and toks[j + 1].text == "as":
                names.append((toks[j + 2].text, "*"))
                j += 3
                continue
            if tok.kind == "id" and tok.text != "from":
                names.append((tok.text, "default"))
            elif tok.kind != "punct" and tok.text != "from":
                return
            j += 1
        if toks[j].kind == "str":
            self.body_start = max(self.body_start, j + 1)
            self.modules.append((toks[j].text, toks[j].line))
            for local, imported in names:
                self.imports[local] = (toks[j].text, imported)
                self.import_lines[local] = toks[j].line

    def specifiers(self, start: int, end: int) -> list[tuple[str, str]]:
        """`a, b as c, type D` as (local, imported) pairs; type-only names are left out."""
        out: list[tuple[str, str]] = []
        parts: list[list[str]] = [[]]
        for tok in self.tokens[start:end]:
            if tok.text == ",":
                parts.append([])
            else:
                parts[-1].append(tok.text)
        for words in parts:
            if len(words) > 1 and words[0] == "type":
                continue
            if len(words) == 1:
                out.append((words[0], words[0]))
            elif len(words) == 3 and words[1] == "as":
                out.append((words[2], words[0]))
        return out

    def read_export_list(self, open_: int) -> None:
        close = self.pairs.get(open_, open_)
        names = self.specifiers(open_ + 1, close)  # (exported, local) pairs
        spec = self.tokens[close + 2]
        if self.tokens[close + 1].text == "from" and spec.kind == "str":
            self.modules.append((spec.text, spec.line))
            self.reexports += [(spec.text, local, exported) for exported, local in names]
            return
        for exported, local in names:
            self.exports[local] = exported

    def read_binding(self, i: int) -> None:
        toks = self.tokens
        name = toks[i + 1].text
        j = i + 2
        if toks[j].text == ":":
            j = self.skip_type(j + 1)
        if toks[j].text != "=":
            return
        start = j + 1
        end = self.statement_end(start)
        self.locals.setdefault(name, (start, end))
        value = self.value_at(start)
        if value is not None and toks[i].text == "const":
            self.consts.setdefault(name, value)

    def read_function(self, i: int) -> None:
        toks = self.tokens
        j = i + 2
        if toks[j].text == "<":
            j = self.skip_angles(j)
        if toks[j].text != "(":
            return
        # The body: the first `{` after the parameters that does not start a return type.
        for k, angles in self.forwards(self.pairs.get(j, j) + 1):
            if (
                toks[k].text == "{"
                and angles <= 0
                and toks[k - 1].text not in (":", "|", "&", "<", ",")
            ):
                self.locals.setdefault(toks[i + 1].text, (i, self.pairs.get(k, k) + 1))
                return

    # -- questions ------------------------------------------------------------------------------

    def local_of(self, exported: str) -> str | None:
        """The top-level name this file exports as `exported` (None: an unnamed default)."""
        if exported == "default":
            return self.default_export
        return next((k for k, v in self.exports.items() if v == exported), exported)

    def imports_from(self, package: str, names: frozenset[str]) -> bool:
        """It imports one of `names` from a module whose spec starts with `package`."""
        return any(
            spec.startswith(package) and name in names for spec, name in self.imports.values()
        )

    def aliases(self, imported: str) -> set[str]:
        return {imported} | {local for local, (_, name) in self.imports.items() if name == imported}

    def is_reference(self, i: int) -> bool:
        """Not a property access (`x.step`)."""
        return i == 0 or self.tokens[i - 1].text not in (".", "?.")

    def is_key(self, i: int) -> bool:
        """An object key: `{ key: ...`, `, key: ...` or shorthand `{ key }`."""
        toks = self.tokens
        if i == 0 or toks[i - 1].text not in ("{", ","):
            return False
        return toks[i + 1].text == ":" or (toks[i].kind == "id" and toks[i + 1].text in (",", "}"))

    def skip_type(self, j: int) -> int:
        """From a type annotation's first token to the `=` after it (or where it gives up)."""
        for k, angles in self.forwards(j):
            text = self.tokens[k].text
            if (text in ("=", *STATEMENT) and angles <= 0) or text == ";":
                return k
        return self.end

    def forwards(self, j: int) -> Iterator[tuple[int, int]]:
        """Token indices from j on, stepping over whole bracket pairs (each opener is given),
        with the depth of `<` angle brackets at each; up to the end of the file."""
        toks = self.tokens
        angles = 0
        while toks[j].kind != "end":
            text = toks[j].text
            angles += {"<": 1, ">": -1}.get(text, 0)
            yield j, angles
            j = self.pairs.get(j, j) + 1 if text in OPEN else j + 1

    def backwards(self, i: int) -> Iterator[int]:
        """Token indices before i, last first, stepping over whole bracket pairs."""
        j = i - 1
        while j >= 0:
            tok = self.tokens[j]
            if tok.kind == "punct" and tok.text in CLOSE:
                j = self.pairs.get(j, j) - 1
                continue
            yield j
            j -= 1

    def enclosing(self, i: int) -> int | None:
        """The opening bracket that token i sits in directly, if any."""
        return next(
            (
                j
                for j in self.backwards(i)
                if self.tokens[j].kind == "punct" and self.tokens[j].text in OPEN
            ),
            None,
        )

    def skip_angles(self, j: int) -> int:
        toks = self.tokens
        angles = 0
        while toks[j].kind != "end":
            if toks[j].text == "<":
                angles += 1
            elif toks[j].text == ">":
                angles -= 1
                if angles == 0:
                    return j + 1
            elif toks[j].text in (";", "{"):
                return j
            j += 1
        return j

    def call_object(self, i: int, *, need_object: bool = True) -> tuple[int, int] | None:
        """For `callee<T>({ ... })` at i: the object literal's `{` and `}` indices."""
        toks = self.tokens
        j = i + 1
        if toks[j].text == "<":
            j = self.skip_angles(j)
        if toks[j].text != "(":
            return None
        if toks[j + 1].text != "{":
            return None if need_object else (j, self.pairs.get(j, j))
        return j + 1, self.pairs.get(j + 1, j + 1)

    def props(self, open_: int, close: int) -> dict[str, int]:
        """An object literal's own keys and the index of each value's first token."""
        toks = self.tokens
        out: dict[str, int] = {}
        j = open_ + 1
        while j < close:
            tok = toks[j]
            prev = toks[j - 1].text
            lead = prev in ("{", ",") or (
                prev in ("async", "get", "set") and toks[j - 2].text in ("{", ",")
            )
            if lead and tok.kind in ("id", "str") and tok.text not in out:
                nxt = toks[j + 1].text
                if nxt == ":":
                    out[tok.text] = j + 2
                elif nxt in (",", "}") and tok.kind == "id":
                    out[tok.text] = j  # shorthand: the value is the binding of that name
                elif nxt in ("(", "<"):
                    out[tok.text] = j  # a method
            if tok.text in OPEN:
                j = self.pairs.get(j, j)
            j += 1
        return out

    def object_keys(self, i: int) -> dict[str, int]:
        """The keys of the object literal that token i sits in (directly)."""
        open_ = self.enclosing(i)
        if open_ is None or self.tokens[open_].text != "{":
            return {}
        return self.props(open_, self.pairs.get(open_, open_))

    def value_end(self, start: int, stop: int) -> int:
        """Where a value starting at `start` ends: the next `,` outside brackets, or `stop`."""
        j = start
        while j < stop:
            text = self.tokens[j].text
            if text == ",":
                return j
            if text in OPEN:
                j = self.pairs.get(j, j)
            j += 1
        return stop

    def statement_end(self, start: int) -> int:
        toks = self.tokens
        j = start
        while toks[j].kind != "end":
            text = toks[j].text
            if text == ";" or text in CLOSE:
                return j
            if toks[j].kind == "id" and text in STATEMENT and j > start and self.is_reference(j):
                return j
            if text in OPEN:
                j = self.pairs.get(j, j)
            j += 1
        return j

    def value_at(self, j: int) -> str | None:
        """A literal string value at j (`'a'`, `"a"`, `` `a` ``, `'a' as const`, or a const)."""
        toks = self.tokens
        tok = toks[j]
        after = toks[j + 1].text
        ends = after in (",", "}", ")", ";", "]", "as") or toks[j + 1].kind == "end"
        if not ends and self.tokens[j + 1].line > tok.line and tok.kind in ("str", "id"):
            ends = after not in (".", "+", "?", "(", "[", "?.")
        if not ends:
            return None
        if tok.kind == "str":
            return tok.text
        if tok.kind == "id":
            return self.consts.get(tok.text)
        return None

    def string_prop(self, props: Mapping[str, int], key: str, close: int) -> str | None:
        if key not in props:
            return None
        j = props[key]
        if self.tokens[j].text == key and self.tokens[j + 1].text in (",", "}"):
            return self.consts.get(key)  # shorthand `{ name }`
        return self.value_at(j) if j < close else None

    def walk(self, start: int, end: int, *, skip: frozenset[str]) -> Iterator[int]:
        """Token indices of [start, end), entering each top-level binding it refers to.

        A helper's tokens are yielded where it is first referenced, so a step that a helper
        calls takes the helper's place in the call order.
        """
        seen: set[str] = set(skip)
        yield from self._walk(start, end, seen)

    def _walk(self, start: int, end: int, seen: set[str]) -> Iterator[int]:
        for i in range(start, end):
            yield i
            tok = self.tokens[i]
            if (
                tok.kind == "id"
                and tok.text in self.locals
                and tok.text not in seen
                and self.is_reference(i)
                and not (self.tokens[i + 1].text == ":" and self.tokens[i - 1].text in ("{", ","))
            ):
                seen.add(tok.text)
                inner = self.locals[tok.text]
                if not inner[0] <= i < inner[1]:
                    yield from self._walk(*inner, seen)
