"""Following code across files (`output-reset init`): from a range of tokens, every helper it
uses, in the same file and in the modules it imports, each entered once where first used.

A helper's tokens come where it is first used, so a step that a helper calls takes the
helper's place in the call order, and a prompt a helper loads belongs to the step calling it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from runner.init.layout import resolve_module
from runner.init.reader import Reader
from runner.init.source import Source

_MAX_REEXPORTS = 8  # `export { x } from` chains followed to find a binding


@dataclass(frozen=True, slots=True)
class Ref:
    """A use of an imported name: where it is, what it imports and the file that resolves to."""

    src: Source
    index: int
    spec: str
    imported: str  # an exported name, `default` or `*`
    target: Path | None  # the .ts file of a relative spec, when it exists

    @property
    def local(self) -> str:
        return self.src.tokens[self.index].text


Visit = Callable[[Ref], bool]  # True: enter the code the import names


class Walk:
    """One walk; `visit` sees each use of an import and says whether to enter its code.

    `opaque` lists the imports it was told to enter but could not find the code of (a class,
    an object exported as default, a name re-exported in a way it does not follow).
    """

    def __init__(
        self, reader: Reader, visit: Visit, *, skip: Iterable[tuple[Path, str]] = ()
    ) -> None:
        self.reader = reader
        self.visit = visit
        self.seen: set[tuple[Path, str]] = set(skip)  # (file, top-level name) entered
        self.opaque: list[Ref] = []

    def tokens(self, src: Source, start: int, end: int) -> Iterator[tuple[Source, int]]:
        for i in range(start, end):
            yield src, i
            if not _is_use(src, i):
                continue
            name = src.tokens[i].text
            if name in src.locals:
                yield from self._local(src, i, name)
            elif name in src.imports:
                yield from self._imported(src, i, name)

    def run(self, src: Source, start: int, end: int) -> None:
        """Walk the range only for what `visit` notes on the way."""
        for _ in self.tokens(src, start, end):
            pass

    def _local(self, src: Source, i: int, name: str) -> Iterator[tuple[Source, int]]:
        key = (src.path, name)
        if key in self.seen:
            return
        self.seen.add(key)
        inner = src.locals[name]
        if not inner[0] <= i < inner[1]:
            yield from self.tokens(src, *inner)

    def _imported(self, src: Source, i: int, name: str) -> Iterator[tuple[Source, int]]:
        spec, imported = src.imports[name]
        ref = Ref(src, i, spec, imported, resolve_module(src.path, spec))
        if not self.visit(ref) or ref.target is None:
            return
        if imported == "*":  # `ns.member`
            member = src.tokens[i + 2]
            is_member = src.tokens[i + 1].text in (".", "?.") and member.kind == "id"
            imported = member.text if is_member else ""
        found = self._find(ref.target, imported, 0) if imported else None
        if found is None:
            self.opaque.append(ref)
            return
        other, local = found
        if (other.path, local) not in self.seen:
            self.seen.add((other.path, local))
            yield from self.tokens(other, *other.locals[local])

    def _find(self, path: Path, exported: str, depth: int) -> tuple[Source, str] | None:
        """The file and top-level name that module `path` exports as `exported`."""
        src = self.reader.source(path)
        local = src.local_of(exported) if src is not None else None
        if src is None or local is None or depth > _MAX_REEXPORTS:
            return None
        if local in src.locals:
            return src, local
        if local in src.imports:  # `import { a } from './a.js'; export { a };`
            spec, imported = src.imports[local]
            target = resolve_module(path, spec)
            return self._find(target, imported, depth + 1) if target is not None else None
        for spec, name, alias in src.reexports:
            target = resolve_module(path, spec)
            if target is not None and alias in (exported, "*"):
                found = self._find(target, exported if name == "*" else name, depth + 1)
                if found is not None:
                    return found
        return None


def _is_use(src: Source, i: int) -> bool:
    """An identifier used as a value: not a property (`x.name`) and not an object key."""
    toks = src.tokens
    if toks[i].kind != "id" or not src.is_reference(i):
        return False
    return not (toks[i + 1].text == ":" and toks[i - 1].text in ("{", ","))


def closure(reader: Reader, path: Path) -> list[Path]:
    """The files `path` imports by relative specs, transitively, first found first."""
    found: dict[Path, None] = {}
    todo = [path]
    while todo:
        src = reader.source(todo.pop())
        if src is None:
            continue
        for spec, _ in src.modules:
            target = resolve_module(src.path, spec)
            if target is not None and target != path and target not in found:
                found[target] = None
                todo.append(target)
    return list(found)
