"""Read an Output project's TypeScript sources (`output-reset init`): workflows and their names,
the steps and evaluators each one calls in order, the prompt files those load and the skills
beside them. Anything it cannot follow becomes a warning, never a crash.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from runner.errors import UsageError
from runner.init.layout import (
    depth_first,
    find_files,
    front_matter_skills,
    is_code,
    resolve_module,
    workflow_dir_of,
)
from runner.init.lexer import Token
from runner.init.project import Kind, Project, PromptUse, Step, Workflow
from runner.init.source import Source


def scan_project(root: Path) -> Project:
    """Scan `root/src/workflows/**/workflow.ts`; raise UsageError when there is none."""
    base = root.resolve()
    files = sorted(find_files(base / "src" / "workflows", lambda name: name == "workflow.ts"))
    if not files:
        raise UsageError(
            f"no src/workflows/**/workflow.ts found under {root}; "
            "run this in an Output project (the folder with package.json and src/)"
        )
    return Scanner(base).scan(files)


@dataclass(slots=True)
class _Decl:
    """A step or evaluator declaration, before its workflow is known."""

    step: Step
    local: str  # the const it is bound to in its file
    start: int  # token range of the step({ ... }) call
    end: int


class Scanner:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.warnings: list[tuple[str, int, str]] = []  # (file, line, text), sorted at the end
        self.sources: dict[Path, Source | None] = {}
        self.declared: dict[Path, list[Step]] = {}
        self.shared_dirs = (
            root / "src" / "shared" / "steps",
            root / "src" / "shared" / "evaluators",
        )

    def warn(self, path: Path, line: int | None, message: str) -> None:
        shown = self.show(path)
        where = shown + (f":{line}" if line else "")
        entry = (shown, line or 0, f"{where}: {message}")
        if entry not in self.warnings:
            self.warnings.append(entry)

    def show(self, path: Path) -> str:
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return str(path)

    def source(self, path: Path) -> Source | None:
        if path not in self.sources:
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
                self.warn(path, None, f"cannot read ({reason}); skipped")
                self.sources[path] = None
            else:
                src = Source.parse(path, text)
                for line, problem in src.problems:
                    self.warn(path, line, problem)
                self.sources[path] = src
        return self.sources[path]

    # -- the project --------------------------------------------------------------------------

    def scan(self, files: list[Path]) -> Project:
        shared = [
            path for folder in self.shared_dirs for path in sorted(find_files(folder, is_code))
        ]
        shared_steps = [s for path in shared for s in self.steps_of(path, shared=True)]
        headers: list[tuple[Path, Source, str, bool, tuple[int, int]]] = []
        names: dict[Path, str] = {}
        for file in files:
            if file.parent.name == "shared":
                self.warn(file, None, "a workflow folder may not be named shared; skipped")
                continue
            found = self.header(file)
            if found is None:
                continue
            src, name, disable_trace, fn = found
            if name in names.values():
                first = next(p for p, n in names.items() if n == name)
                self.warn(
                    file,
                    None,
                    f'workflow name "{name}" is also used by {self.show(first)}; skipped',
                )
                continue
            names[file] = name
            headers.append((file, src, name, disable_trace, fn))
        workflows = [
            self.workflow(file, src, name, disable_trace, fn, shared_steps, names)
            for file, src, name, disable_trace, fn in headers
        ]
        warnings = tuple(text for _, _, text in sorted(self.warnings))
        return Project(root=self.root, workflows=tuple(workflows), warnings=warnings)

    def header(self, file: Path) -> tuple[Source, str, bool, tuple[int, int]] | None:
        """The workflow({ ... }) call: name, disableTrace and the token range of `fn`."""
        src = self.source(file)
        if src is None:
            return None
        callees = src.aliases("workflow")
        for i in src.top:
            tok = src.tokens[i]
            if tok.kind != "id" or tok.text not in callees:
                continue
            call = src.call_object(i)
            if call is None:
                continue
            open_, close = call
            props = src.props(open_, close)
            name = src.string_prop(props, "name", close)
            if name is None:
                self.warn(file, tok.line, "workflow({ ... }) has no literal name: '...'; skipped")
                return None
            disable_trace = any(
                t.kind == "id"
                and t.text == "disableTrace"
                and src.tokens[j + 1].text == ":"
                and src.tokens[j + 2].text == "true"
                for j, t in enumerate(src.tokens[open_:close], start=open_)
            )
            if "fn" in props:
                start = props["fn"]
                fn = (start, src.value_end(start, close))
            else:
                self.warn(
                    file, tok.line, "workflow({ ... }) has no fn; the call order is the file order"
                )
                fn = (src.body_start, src.end)
            return src, name, disable_trace, fn
        self.warn(file, None, "no workflow({ ... }) call found; skipped")
        return None

    def workflow(
        self,
        file: Path,
        src: Source,
        name: str,
        disable_trace: bool,
        fn: tuple[int, int],
        shared_steps: list[Step],
        names: Mapping[Path, str],
    ) -> Workflow:
        folder = file.parent
        local_files = [
            p
            for p in sorted(find_files(folder, is_code, prune=True))
            if (p.parent == folder and p.name in ("steps.ts", "evaluators.ts"))
            or p.is_relative_to(folder / "steps")
            or p.is_relative_to(folder / "evaluators")
        ]
        local_steps = [s for path in local_files for s in self.steps_of(path, shared=False)]
        called: list[Step] = []
        children: list[str] = []
        for i in src.walk(*fn, skip=frozenset()):
            tok = src.tokens[i]
            if tok.text not in src.imports or not src.is_reference(i):
                continue
            spec, imported = src.imports[tok.text]
            target = resolve_module(file, spec)
            if target is not None and target.name == "workflow.ts" and target in names:
                if names[target] not in children:
                    children.append(names[target])
                continue
            step = self.resolve(file, tok.line, spec, imported, target, local_steps, shared_steps)
            if step is not None and step not in called:
                called.append(step)
        for step in local_steps:
            if step not in called:
                self.warn(
                    step.file,
                    step.line,
                    f'{step.kind} "{step.name}" is never called by {name}\'s workflow.ts; '
                    "no rule maps it",
                )
        if not called:
            self.warn(
                file, None, f"{name} calls no step or evaluator that could be found; not listed"
            )
        return Workflow(
            name=name,
            directory=folder,
            file=file,
            disable_trace=disable_trace,
            steps=tuple(called),
            children=tuple(children),
        )

    def resolve(
        self,
        file: Path,
        line: int,
        spec: str,
        imported: str,
        target: Path | None,
        local_steps: list[Step],
        shared_steps: list[Step],
    ) -> Step | None:
        """The step an import names: by its file when it resolves, else by export name."""
        if spec.startswith("@outputai/") or imported in ("default", "*"):
            return None
        for pool in (local_steps, shared_steps):
            exact = [s for s in pool if s.export == imported and s.file == target]
            if exact:
                return exact[0]
        if target is not None and target.is_file() and target not in self.declared:
            return None  # a plain helper module (types, utils), not a steps file
        for pool in (local_steps, shared_steps):
            same = [s for s in pool if s.export == imported]
            if len(same) == 1:
                return same[0]
            if len(same) > 1:
                where = ", ".join(self.show(s.file) for s in same)
                self.warn(file, line, f"{imported} is exported by several files ({where}); skipped")
                return None
        return None

    def steps_of(self, path: Path, *, shared: bool) -> list[Step]:
        """The steps and evaluators a file declares, with the prompts each one loads."""
        if path in self.declared:
            return self.declared[path]
        self.declared[path] = []
        src = self.source(path)
        if src is None:
            return []
        decls: list[_Decl] = []
        seen_calls: set[int] = set()
        kinds: dict[str, Kind] = dict.fromkeys(src.aliases("step"), "step")
        kinds.update(dict.fromkeys(src.aliases("evaluator"), "evaluator"))
        for i in src.top:
            decl = self.declaration(src, i, kinds, shared, seen_calls)
            if decl is not None:
                decls.append(decl)
        for i, tok in enumerate(src.tokens):
            if (
                tok.kind == "id"
                and tok.text in kinds
                and i not in seen_calls
                and src.call_object(i, need_object=False) is not None
                and src.is_reference(i)
            ):
                self.warn(
                    path,
                    tok.line,
                    f"{tok.text}(...) is not assigned to a top-level const with a literal name; "
                    "skipped",
                )
        skip = frozenset(d.local for d in decls)
        steps = []
        for decl in decls:
            prompts = self.prompts(src, decl, skip)
            steps.append(dataclasses.replace(decl.step, prompts=prompts))
        self.declared[path] = steps
        return steps

    def declaration(
        self, src: Source, i: int, kinds: Mapping[str, Kind], shared: bool, seen: set[int]
    ) -> _Decl | None:
        """`[export] const NAME[: T] = step({ ..., name: '...', ... })` starting at token i."""
        toks = src.tokens
        if toks[i].text not in ("const", "let", "var") or i + 2 >= len(toks):
            return None
        if toks[i + 1].kind != "id":
            return None
        local = toks[i + 1].text
        j = i + 2
        if toks[j].text == ":":
            j = src.skip_type(j + 1)
        if j >= len(toks) or toks[j].text != "=" or j + 1 >= len(toks):
            return None
        callee = toks[j + 1]
        if callee.kind != "id" or callee.text not in kinds:
            return None
        seen.add(j + 1)  # reported here if it goes wrong, not again as a stray call
        call = src.call_object(j + 1)
        if call is None:
            src_line = callee.line
            self.warn(src.path, src_line, f"{callee.text}(...) without an object literal; skipped")
            return None
        open_, close = call
        props = src.props(open_, close)
        name = src.string_prop(props, "name", close)
        if name is None:
            self.warn(
                src.path,
                callee.line,
                f"{callee.text} {local}: no literal name: '...' in its object; skipped",
            )
            return None
        if not name or any(c.isspace() for c in name):
            self.warn(
                src.path,
                callee.line,
                f'{callee.text} name "{name}" is empty or has spaces; skipped',
            )
            return None
        step = Step(
            name=name,
            export=src.exports.get(local, local),
            kind=kinds[callee.text],
            file=src.path,
            line=callee.line,
            shared=shared,
        )
        return _Decl(step=step, local=local, start=j + 1, end=src.pairs.get(open_ - 1, close) + 1)

    def prompts(self, src: Source, decl: _Decl, skip: frozenset[str]) -> tuple[PromptUse, ...]:
        found: list[PromptUse] = []
        toks = src.tokens
        for i in src.walk(decl.start, decl.end, skip=skip):
            tok = toks[i]
            if tok.text != "prompt" or tok.kind not in ("id", "str") or not src.is_key(i):
                continue
            has_dir = "promptDir" in src.object_keys(i)
            value = src.value_at(i + 2) if toks[i + 1].text == ":" else src.value_at(i)
            if value is None:
                if toks[i + 1].text == ":" and toks[i + 2].kind in ("id", "tpl"):
                    nxt = toks[i + 3].text if i + 3 < len(toks) else ""
                    if toks[i + 2].kind == "tpl" or nxt in (",", "}", ")"):
                        self.warn(
                            src.path,
                            tok.line,
                            f"{decl.step.name}: cannot tell which prompt file "
                            f"prompt: {_preview(toks[i + 2])} loads; no rule for it",
                        )
                continue
            use = self.prompt_file(src.path, tok.line, decl.step, value, has_dir=has_dir)
            if use is not None and all(u.path != use.path for u in found):
                found.append(use)
        return tuple(found)

    def prompt_file(
        self, caller: Path, line: int, step: Step, name: str, *, has_dir: bool
    ) -> PromptUse | None:
        """Find `<name>.prompt` the way Output's loader does, from the calling file's folder."""
        wanted = f"{name}.prompt"
        path = depth_first(caller.parent, wanted)
        if path is None:
            wider = self.root / "src" if step.shared else workflow_dir_of(caller)
            path = depth_first(wider, wanted) if wider is not None else None
            if path is None:
                if not any(c.isspace() for c in name):
                    self.warn(
                        caller,
                        line,
                        f"{step.name}: no {wanted} found for prompt '{name}'; no rule for it",
                    )
                return None
            if not has_dir:
                self.warn(
                    caller,
                    line,
                    f"{step.name}: {self.show(path)} is not under {self.show(caller.parent)}/, "
                    "where Output looks for it; mapped anyway (pass promptDir if it is the one)",
                )
        return PromptUse(name=name, path=path, line=line, skills=self.skills_of(path))

    def skills_of(self, prompt: Path) -> tuple[Path, ...]:
        """The skills a prompt loads: its front matter `skills:` list, else `skills/` beside it."""
        try:
            text = prompt.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            self.warn(prompt, None, "cannot read this prompt file")
            return ()
        listed = front_matter_skills(text)
        if listed is None:
            beside = prompt.parent / "skills"
            return (beside,) if beside.is_dir() else ()
        if isinstance(listed, str):
            self.warn(prompt, None, f"cannot read its skills: front matter ({listed})")
            return ()
        out: list[Path] = []
        for item in listed:
            path = Path(os.path.normpath(prompt.parent / item))
            if not path.exists():
                self.warn(prompt, None, f"skills path {item} does not exist")
            elif path.is_dir() or path.suffix == ".md":
                out.append(path)
        return tuple(out)


def _preview(tok: Token) -> str:
    return "`...${...}...`" if tok.kind == "tpl" else tok.text
