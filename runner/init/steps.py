"""The steps and evaluators a file declares, and the prompts each one loads (`output-reset init`).

A step's prompts are the `prompt:` keys its code reaches, in its own file and in the helper
modules it calls. A prompt in a helper that no step visibly calls counts for every step of
the file that imports the helper (`PromptUse.guessed`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from runner.init.follow import Ref, Walk, closure
from runner.init.project import Kind, PromptUse, Step
from runner.init.prompts import Prompts, is_prompt_key
from runner.init.reader import Reader
from runner.init.source import Source

# What declares a step or an evaluator: `verify()` is @outputai/evals' evaluator (only when
# imported from there).
DECLARERS: Mapping[str, Kind] = {"step": "step", "evaluator": "evaluator", "verify": "evaluator"}
# Non-relative specs that name the project's own files (package.json imports, tsconfig paths).
_INTERNAL_PREFIXES = ("#", "~/", "@/", "src/")


@dataclass(slots=True)
class _Decl:
    """A step or evaluator declaration, before its workflow is known."""

    step: Step
    local: str  # the const it is bound to in its file
    start: int  # token range of the step({ ... }) call
    end: int


@dataclass(slots=True)
class _Found:
    """What the walk of one step's code found."""

    prompts: list[PromptUse]
    opaque: list[Ref]  # helpers it uses whose code the walk could not enter
    keys: set[tuple[Path, int]]  # the `prompt` keys it reached, as (file, token index)


class Steps:
    def __init__(self, reader: Reader) -> None:
        self.reader = reader
        self.prompts = Prompts(reader)
        self.declared: dict[Path, list[Step]] = {}
        self._closures: dict[Path, list[Path]] = {}
        src_dir = reader.root / "src"
        self._src_folders = (
            frozenset(p.name for p in src_dir.iterdir() if p.is_dir())
            if src_dir.is_dir()
            else frozenset()
        )

    def declares(self, path: Path) -> bool:
        """The file imports step(), evaluator() or verify(): a steps or evaluators file."""
        src = self.reader.source(path)
        return src is not None and src.imports_from("@outputai/", frozenset(DECLARERS))

    def of(self, path: Path, *, shared: bool) -> list[Step]:
        """The steps and evaluators a file declares, with the prompts each one loads."""
        if path in self.declared:
            return self.declared[path]
        self.declared[path] = []
        src = self.reader.source(path)
        if src is None:
            return []
        decls = self._declarations(src, shared)
        found = [self._walk(src, decl, decls) for decl in decls]
        self._helpers(src, decls, found)
        steps = [
            dataclasses.replace(decl.step, prompts=tuple(f.prompts))
            for decl, f in zip(decls, found, strict=True)
        ]
        self.declared[path] = steps
        return steps

    # -- declarations -----------------------------------------------------------------------

    def _declarations(self, src: Source, shared: bool) -> list[_Decl]:
        kinds = {alias: kind for name, kind in DECLARERS.items() for alias in src.aliases(name)}
        if not src.imports_from("@outputai/", frozenset({"verify"})):
            kinds.pop("verify", None)  # another verify(), e.g. jsonwebtoken's
        seen_calls: set[int] = set()
        decls = [
            decl
            for i in src.top
            if (decl := self._declaration(src, i, kinds, shared, seen_calls)) is not None
        ]
        for i, tok in enumerate(src.tokens):
            if (
                tok.kind == "id"
                and tok.text in kinds
                and i not in seen_calls
                and src.call_object(i, need_object=False) is not None
                and src.is_reference(i)
            ):
                self.reader.warn(
                    src.path,
                    tok.line,
                    f"{tok.text}(...) is not assigned to a top-level const with a literal name; "
                    "skipped",
                )
        return decls

    def _declaration(
        self, src: Source, i: int, kinds: Mapping[str, Kind], shared: bool, seen: set[int]
    ) -> _Decl | None:
        """`[export] const NAME[: T] = step({ ..., name: '...', ... })` starting at token i."""
        toks = src.tokens
        if toks[i].text not in ("const", "let", "var") or toks[i + 1].kind != "id":
            return None
        local = toks[i + 1].text
        j = i + 2
        if toks[j].text == ":":
            j = src.skip_type(j + 1)
        callee = toks[j + 1]
        if toks[j].text != "=" or callee.kind != "id" or callee.text not in kinds:
            return None
        seen.add(j + 1)  # reported here if it goes wrong, not again as a stray call
        call = src.call_object(j + 1)
        if call is None:
            return self._skip(src, callee.line, f"{callee.text}(...) without an object literal")
        open_, close = call
        name = src.string_prop(src.props(open_, close), "name", close)
        if name is None:
            return self._skip(
                src, callee.line, f"{callee.text} {local}: no literal name: '...' in its object"
            )
        if not name or any(c.isspace() for c in name):
            return self._skip(
                src, callee.line, f'{callee.text} name "{name}" is empty or has spaces'
            )
        step = Step(
            name=name,
            export=src.exports.get(local, local),
            kind=kinds[callee.text],
            file=src.path,
            line=callee.line,
            shared=shared,
        )
        return _Decl(step=step, local=local, start=j + 1, end=src.pairs.get(open_ - 1, close) + 1)

    def _skip(self, src: Source, line: int, problem: str) -> _Decl | None:
        """Warn that a declaration is skipped; None."""
        self.reader.warn(src.path, line, f"{problem}; skipped")
        return None

    # -- prompts ----------------------------------------------------------------------------

    def _walk(self, src: Source, decl: _Decl, decls: list[_Decl]) -> _Found:
        """The prompts a step's code reaches, through its file's helpers and imported ones."""
        walk = Walk(self.reader, self._enter, skip=[(src.path, d.local) for d in decls])
        found = _Found(prompts=[], opaque=walk.opaque, keys=set())
        for s, i in walk.tokens(src, decl.start, decl.end):
            if is_prompt_key(s, i):
                found.keys.add((s.path, i))
                step = decl.step
                use = self.prompts.at(s, i, label=step.name, near=step.file, shared=step.shared)
                _add(found.prompts, use)
        return found

    def _enter(self, ref: Ref) -> bool:
        """Follow a step's code into relative modules; warn about project imports it cannot."""
        if ref.target is None:
            if ref.spec.startswith(_INTERNAL_PREFIXES) or ref.spec.split("/")[0] in (
                self._src_folders
            ):
                self.reader.warn(
                    ref.src.path,
                    ref.src.import_lines.get(ref.local),
                    f"{ref.spec} is not a relative import; output-reset cannot follow it to the "
                    "prompts it may load (map them by hand)",
                )
            return False
        return ref.target.name != "workflow.ts"

    def _helpers(self, src: Source, decls: list[_Decl], found: list[_Found]) -> None:
        """Prompts in the helpers a steps file imports that no step's walk reached."""
        if not decls:
            return
        reached = set().union(*(f.keys for f in found))
        for path in self._closure(src.path):
            helper = self.reader.source(path)
            if helper is None or path.name == "workflow.ts" or self.declares(path):
                continue
            for i in range(helper.end):
                if (path, i) not in reached and is_prompt_key(helper, i):
                    self._unreached(helper, i, decls, found)

    def _unreached(self, helper: Source, i: int, decls: list[_Decl], found: list[_Found]) -> None:
        users = [
            k for k, f in enumerate(found) if any(self._reaches(r, helper.path) for r in f.opaque)
        ]
        guessed = not users
        if guessed:
            users = list(range(len(decls)))
        steps = [decls[k].step for k in users]
        use = self.prompts.at(
            helper,
            i,
            label=", ".join(s.name for s in steps),
            near=steps[0].file,
            shared=all(s.shared for s in steps),
        )
        if use is not None:
            use = dataclasses.replace(use, guessed=guessed)
            for k in users:
                _add(found[k].prompts, use)

    def _reaches(self, ref: Ref, path: Path) -> bool:
        """The helper `ref` imports is `path`, or imports it."""
        return ref.target == path or (ref.target is not None and path in self._closure(ref.target))

    def _closure(self, path: Path) -> list[Path]:
        if path not in self._closures:
            self._closures[path] = closure(self.reader, path)
        return self._closures[path]


def _add(prompts: list[PromptUse], use: PromptUse | None) -> None:
    if use is not None and all(u.path != use.path for u in prompts):
        prompts.append(use)
