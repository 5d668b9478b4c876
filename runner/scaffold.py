"""Read an Output project and write a first `output-reset.yaml` for it (`output-reset init`).

Scanning reads the TypeScript sources with a small lexer and careful token patterns (no Node
toolchain): workflows and their names, the steps and evaluators each one calls in order, the
prompt files those load and the skills beside them. Rendering turns that into commented YAML
text and is pure. Anything the scanner cannot follow becomes a warning, never a crash.
"""

from __future__ import annotations

import bisect
import json
import os
import re
import textwrap
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from runner.errors import UsageError

Kind = Literal["step", "evaluator"]

# Names the API accepts as a workflow type (kept in step with runner.config).
_API_NAME = re.compile(r"^[a-z0-9_.@-]+$", re.IGNORECASE)
_SKIP_DIRS = frozenset({"node_modules", "dist", "vendor", ".git", ".output-reset"})


# -- what a scan finds --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class PromptUse:
    """A `prompt: 'name@v1'` in a step, and the file Output loads for it."""

    name: str
    path: Path  # the `<name>.prompt` file
    line: int  # where the step names it
    skills: tuple[Path, ...] = ()  # folders (or single .md files) of skills the prompt loads


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    """A step or evaluator: `name` is the `name:` value, the name resets use."""

    name: str
    export: str  # the exported identifier the workflow imports and calls
    kind: Kind
    file: Path  # the file that declares it
    line: int
    shared: bool  # declared under src/shared/steps or src/shared/evaluators
    prompts: tuple[PromptUse, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Workflow:
    name: str  # the workflow type (`workflow({ name })`), not the directory name
    directory: Path
    file: Path  # its workflow.ts
    disable_trace: bool
    steps: tuple[Step, ...]  # steps and evaluators, in the order `fn` calls them
    children: tuple[str, ...] = ()  # child workflows `fn` calls, by name

    @property
    def evaluators(self) -> tuple[Step, ...]:
        return tuple(s for s in self.steps if s.kind == "evaluator")

    @property
    def shared_files(self) -> tuple[Path, ...]:
        return tuple(dict.fromkeys(s.file for s in self.steps if s.shared))

    @property
    def skills(self) -> tuple[Path, ...]:
        """Skill folders (or files) that prompts of these steps load, first use first."""
        found = (k for s in self.steps for p in s.prompts for k in p.skills)
        return tuple(dict.fromkeys(found))


@dataclass(frozen=True, slots=True, kw_only=True)
class Project:
    root: Path
    workflows: tuple[Workflow, ...]
    warnings: tuple[str, ...] = ()  # one line each: `path:line: what could not be followed`


def scan_project(root: Path) -> Project:
    """Scan `root/src/workflows/**/workflow.ts`; raise UsageError when there is none."""
    base = root.resolve()
    files = sorted(_find(base / "src" / "workflows", lambda name: name == "workflow.ts"))
    if not files:
        raise UsageError(
            f"no src/workflows/**/workflow.ts found under {root}; "
            "run this in an Output project (the folder with package.json and src/)"
        )
    return _Scanner(base).scan(files)


# -- rendering ----------------------------------------------------------------------------------


def render_config(
    project: Project, *, config_dir: Path, pins: Mapping[str, str] | None = None
) -> str:
    """The commented YAML text of an `output-reset.yaml` living in `config_dir`.

    `pins` maps a workflow type to the workflow id of its latest run; a type without a pin is
    written as `type:` (follow its most recent run).
    """
    config_dir = config_dir.resolve()
    pins = pins or {}
    lines = _header(project, config_dir)
    skipped: list[str] = []
    entries = 0
    for workflow in project.workflows:
        pin = pins.get(workflow.name)
        drafts = _drafts(workflow, config_dir)
        if not drafts or (pin is None and not _API_NAME.match(workflow.name)):
            skipped.append(workflow.name)
            continue
        lines += _entry(workflow, drafts, config_dir, pin)
        entries += 1
    if not entries:
        names = ", ".join(w.name for w in project.workflows)
        raise UsageError(
            f"none of the workflows under {project.root} ({names}) calls a step or evaluator "
            "that output-reset could find; nothing to write"
        )
    if skipped:
        lines.append("")
        lines += _comment(
            "Not listed (no step found that the workflow calls, or a name the API cannot "
            "filter on): " + ", ".join(skipped) + ".",
            indent="",
        )
    return "\n".join(lines) + "\n"


@dataclass(frozen=True, slots=True, kw_only=True)
class _Draft:
    """One rule before it becomes text."""

    section: int  # 0 prompts, 1 skills, 2 step code, 3 workflow code
    order: int  # position of `step` in the call order
    files: str
    step: str
    notes: tuple[str, ...] = ()


_SECTIONS = (
    "Prompts: an edit re-runs the step that loads the prompt, and every step after it.",
    "Skills (.md files a prompt loads with it): an edit re-runs the first step whose prompt "
    "loads them.",
    "Step and evaluator code: an edit re-runs the earliest step of the file that this "
    "workflow calls. To keep a slow step's result, write `reset_after: STEP` instead.",
    "Workflow code: when workflow.ts changes, output-reset starts a fresh run with the same "
    "input, so everything runs again from the first step.",
)


def _drafts(workflow: Workflow, config_dir: Path) -> list[_Draft]:
    order = {s: i for i, s in enumerate(workflow.steps)}
    drafts: list[_Draft] = []
    # Prompts, grouped by file: the earliest user re-runs every later one anyway.
    users: dict[Path, list[Step]] = {}
    for step in workflow.steps:
        for prompt in step.prompts:
            users.setdefault(prompt.path, [])
            if step not in users[prompt.path]:
                users[prompt.path].append(step)
    for path, steps in users.items():
        first, later = steps[0], steps[1:]
        notes: tuple[str, ...] = ()
        if later:
            notes = (
                f"Also loaded by {_names(later)}, which {'run' if len(later) > 1 else 'runs'} "
                f"later: re-running {first.name} re-runs {'them' if len(later) > 1 else 'it'} "
                "too.",
            )
        drafts.append(
            _Draft(
                section=0,
                order=order[first],
                files=_rel(path, config_dir),
                step=first.name,
                notes=notes,
            )
        )
    # Skills: the first step whose prompt loads them.
    for source in workflow.skills:
        using = [s for s in workflow.steps if any(source in p.skills for p in s.prompts)]
        pattern = _rel(source, config_dir) + ("/*.md" if source.suffix != ".md" else "")
        prompts = sorted({p.path.name for s in using for p in s.prompts if source in p.skills})
        drafts.append(
            _Draft(
                section=1,
                order=order[using[0]],
                files=pattern,
                step=using[0].name,
                notes=(f"Skills of {', '.join(prompts)}.",),
            )
        )
    # Code: one rule per declaring file, re-running its earliest step in call order.
    by_file: dict[Path, list[Step]] = {}
    for step in workflow.steps:
        by_file.setdefault(step.file, []).append(step)
    for path, steps in by_file.items():
        first = steps[0]
        notes = ()
        if first.shared:
            notes = (
                f"Shared {first.kind}s: registered for every workflow; {workflow.name} calls "
                f"{_names(steps)} from this file.",
            )
        elif len(steps) > 1:
            notes = (f"Defines {_names(steps)} (in call order).",)
        drafts.append(
            _Draft(
                section=2,
                order=order[first],
                files=_rel(path, config_dir),
                step=first.name,
                notes=notes,
            )
        )
    if workflow.steps:
        drafts.append(
            _Draft(
                section=3,
                order=0,
                files=_rel(workflow.file, config_dir),
                step=workflow.steps[0].name,
            )
        )
    drafts.sort(key=lambda d: (d.section, d.order))
    return drafts


def _header(project: Project, config_dir: Path) -> list[str]:
    where = _rel(project.root, config_dir)
    source = "src/workflows" if where == "." else f"{where}/src/workflows"
    lines = [
        "# output-reset.yaml: which file edits reset which step of your Output workflow runs.",
        *_comment(
            f"Written by `output-reset init` from the sources in {source}; edit it freely.",
            indent="",
        ),
        "#",
        *_comment(
            "`output-reset watch` watches the files listed below. When one really changes, it "
            "resets the pinned run of its workflow so that the named step, and every step after "
            "it, runs again on the new code, while the results of the steps before it are kept.",
            indent="",
        ),
        "#   rerun: STEP        run STEP and everything after it again",
        "#   reset_after: STEP  keep STEP's result, run everything after it again",
        *_comment(
            "Paths are relative to this file and use gitignore-style patterns. Step names are the "
            "`name:` values of step({ ... }) and evaluator({ ... }), not the exported "
            'identifiers. Reference: the output-reset README, section "Config". Check this '
            "file with `output-reset validate`.",
            indent="",
        ),
    ]
    if project.warnings:
        lines += ["#", "# output-reset init could not follow everything; check these by hand:"]
        for warning in project.warnings:
            lines += textwrap.wrap(
                _one_line(warning),
                width=98,
                initial_indent="#   - ",
                subsequent_indent="#     ",
                break_on_hyphens=False,
            )
    lines += [
        "version: 1",
        "",
        *_comment(
            "The Output API: OUTPUT_API_URL (environment or .env) wins over api.url; the default "
            "is http://localhost:3001. Uncomment to point somewhere else:",
            indent="",
        ),
        "# api:",
        "#   url: http://localhost:3001",
        "",
        "workflows:",
    ]
    return lines


def _entry(
    workflow: Workflow, drafts: list[_Draft], config_dir: Path, pin: str | None
) -> list[str]:
    called = ", ".join(s.name for s in workflow.steps)
    about = [
        f"{workflow.name} ({_rel(workflow.file, config_dir)}). Steps and evaluators in the order "
        f"it calls them: {called}."
    ]
    if workflow.disable_trace:
        about.append(
            "Tracing is off (disableTrace: true): re-running its first step starts a fresh run "
            "with the same input, as there is no earlier activity to reset after."
        )
    if workflow.children:
        about.append(
            f"It starts child workflow{'s' if len(workflow.children) > 1 else ''} "
            f"{', '.join(workflow.children)}; each has its own entry for its files."
        )
    lines = [""]
    for text in about:
        lines += _comment(text, indent="  ")
    if pin is not None:
        lines.append(
            f"  - id: {_scalar(pin)}  # latest run of {workflow.name} when this file was written"
        )
    else:
        lines.append(f"  - type: {_scalar(workflow.name)}  # pin the most recent run of this type")
    lines.append("    rules:")
    section = -1
    for draft in drafts:
        if draft.section != section:
            section = draft.section
            lines += _comment(_SECTIONS[section], indent="      ")
        for note in draft.notes:
            lines += _comment(note, indent="      ")
        lines.append(f"      - files: {_scalar(draft.files)}")
        lines.append(f"        rerun: {_scalar(draft.step)}")
    return lines


def _comment(text: str, *, indent: str) -> list[str]:
    width = max(40, 98 - len(indent))
    return [
        f"{indent}# {line}"
        for line in textwrap.wrap(_one_line(text), width=width, break_on_hyphens=False)
    ]


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _names(steps: Sequence[Step]) -> str:
    return ", ".join(s.name for s in steps)


def _rel(path: Path, config_dir: Path) -> str:
    try:
        rel = path.resolve().relative_to(config_dir)
    except ValueError:
        raise UsageError(
            f"{path} is outside {config_dir}; write the config in a folder that contains the "
            "project"
        ) from None
    return rel.as_posix()


# YAML 1.1 scalars that would load as something other than a string.
_YAML_SPECIAL = re.compile(
    r"[-+]?(\d[\d_]*(\.[\d_]*)?([eE][-+]?\d+)?|\.\d[\d_]*|0x[0-9a-fA-F_]+|0o?[0-7_]+|[\d_:]+)"
    r"|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)"
    r"|y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE"
    r"|on|On|ON|off|Off|OFF|null|Null|NULL|~|"
)
_YAML_PLAIN = re.compile(r"[A-Za-z0-9_./][A-Za-z0-9_./@*+-]*")


def _scalar(value: str) -> str:
    """A YAML scalar for `value`: plain when safe, else double-quoted (JSON is valid YAML)."""
    if _YAML_PLAIN.fullmatch(value) and not _YAML_SPECIAL.fullmatch(value):
        return value
    return json.dumps(value)


# -- scanning -----------------------------------------------------------------------------------


@dataclass(slots=True)
class _Decl:
    """A step or evaluator declaration, before its workflow is known."""

    step: Step
    local: str  # the const it is bound to in its file
    start: int  # token range of the step({ ... }) call
    end: int


class _Scanner:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.warnings: list[tuple[str, int, str]] = []  # (file, line, text), sorted at the end
        self.sources: dict[Path, _Source | None] = {}
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

    def source(self, path: Path) -> _Source | None:
        if path not in self.sources:
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
                self.warn(path, None, f"cannot read ({reason}); skipped")
                self.sources[path] = None
            else:
                src = _Source.parse(path, text)
                for line, problem in src.problems:
                    self.warn(path, line, problem)
                self.sources[path] = src
        return self.sources[path]

    # -- the project --------------------------------------------------------------------------

    def scan(self, files: list[Path]) -> Project:
        shared = [path for folder in self.shared_dirs for path in sorted(_find(folder, _is_code))]
        shared_steps = [s for path in shared for s in self.steps_of(path, shared=True)]
        headers: list[tuple[Path, _Source, str, bool, tuple[int, int]]] = []
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

    def header(self, file: Path) -> tuple[_Source, str, bool, tuple[int, int]] | None:
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
        src: _Source,
        name: str,
        disable_trace: bool,
        fn: tuple[int, int],
        shared_steps: list[Step],
        names: Mapping[Path, str],
    ) -> Workflow:
        folder = file.parent
        local_files = [
            p
            for p in sorted(_find(folder, _is_code, prune=True))
            if (p.parent == folder and p.name in ("steps.ts", "evaluators.ts"))
            or _under(p, folder / "steps")
            or _under(p, folder / "evaluators")
        ]
        local_steps = [s for path in local_files for s in self.steps_of(path, shared=False)]
        called: list[Step] = []
        children: list[str] = []
        for i in src.walk(*fn, skip=frozenset()):
            tok = src.tokens[i]
            if tok.text not in src.imports or not src.is_reference(i):
                continue
            spec, imported = src.imports[tok.text]
            target = _resolve_module(file, spec)
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
            steps.append(_replace_prompts(decl.step, prompts))
        self.declared[path] = steps
        return steps

    def declaration(
        self, src: _Source, i: int, kinds: Mapping[str, Kind], shared: bool, seen: set[int]
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

    def prompts(self, src: _Source, decl: _Decl, skip: frozenset[str]) -> tuple[PromptUse, ...]:
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
        path = _depth_first(caller.parent, wanted)
        if path is None:
            wider = self.root / "src" if step.shared else _workflow_dir_of(caller)
            path = _depth_first(wider, wanted) if wider is not None else None
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
        listed = _front_matter_skills(text)
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


def _replace_prompts(step: Step, prompts: tuple[PromptUse, ...]) -> Step:
    return Step(
        name=step.name,
        export=step.export,
        kind=step.kind,
        file=step.file,
        line=step.line,
        shared=step.shared,
        prompts=prompts,
    )


def _preview(tok: _Token) -> str:
    return "`...${...}...`" if tok.kind == "tpl" else tok.text


def _is_code(name: str) -> bool:
    return (
        name.endswith(".ts")
        and not name.endswith(".d.ts")
        and ".spec." not in name
        and ".test." not in name
    )


def _under(path: Path, folder: Path) -> bool:
    return path.is_relative_to(folder)


def _find(top: Path, wanted: Callable[[str], bool], *, prune: bool = False) -> Iterator[Path]:
    """Files under `top` whose name passes `wanted`, skipping build and vendor folders.

    With `prune`, folders holding their own workflow.ts (a nested workflow) are skipped.
    """
    if not top.is_dir():
        return
    for folder, dirs, files in os.walk(top):
        dirs[:] = sorted(
            d
            for d in dirs
            if d not in _SKIP_DIRS
            and not d.startswith(".")
            and not (prune and (Path(folder, d) / "workflow.ts").is_file())
        )
        for name in sorted(files):
            if wanted(name):
                yield Path(folder, name)


def _workflow_dir_of(path: Path) -> Path | None:
    for folder in path.parents:
        if (folder / "workflow.ts").is_file():
            return folder
    return None


def _depth_first(folder: Path, name: str) -> Path | None:
    """Output's prompt search: entries in name order, recursing into folders as met."""
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return None
    for entry in entries:
        if entry.name == name:
            return Path(entry.path)
        if entry.is_dir(follow_symlinks=False) and entry.name not in ("node_modules", ".git"):
            found = _depth_first(Path(entry.path), name)
            if found is not None:
                return found
    return None


def _resolve_module(importer: Path, spec: str) -> Path | None:
    """The .ts file a relative import names (`./steps.js` -> steps.ts), if it exists."""
    if not spec.startswith("."):
        return None
    base = Path(os.path.normpath(importer.parent / spec))
    stem = base.with_suffix("") if base.suffix in (".js", ".mjs", ".cjs", ".ts", ".mts") else base
    for candidate in (
        base if base.suffix in (".ts", ".mts") else None,
        stem.with_name(stem.name + ".ts"),
        stem.with_name(stem.name + ".mts"),
        stem / "index.ts",
    ):
        if candidate is not None and candidate.is_file():
            return candidate
    return None


_SKILLS_KEY = re.compile(r"^skills\s*:(.*)$")


def _front_matter_skills(text: str) -> list[str] | str | None:
    """`skills:` from a prompt's front matter: None when absent, a str when unreadable."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        return None
    body: list[str] = []
    for line in lines[1:]:
        if line.strip() == "---":
            break
        body.append(line)
    for i, line in enumerate(body):
        match = _SKILLS_KEY.match(line)
        if not match:
            continue
        value = re.sub(r"\s+#.*$", "", match.group(1)).strip()
        if value.startswith("[") and value.endswith("]"):
            inner = value[1:-1].strip()
            return [_unquote(v) for v in inner.split(",")] if inner else []
        if value:
            return [_unquote(value)]
        items: list[str] = []
        for item in body[i + 1 :]:
            bullet = re.match(r"^\s+-\s+(.*?)\s*(#.*)?$", item)
            if bullet:
                items.append(_unquote(bullet.group(1)))
            elif item.strip() and not item.startswith((" ", "\t")):
                break
            elif item.strip():
                return f"unexpected line {item.strip()!r}"
        return items
    return None


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


# -- a small TypeScript lexer -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Token:
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


def _unescape(raw: str) -> str:
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


class _Lexer:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.tokens: list[_Token] = []
        self.problems: list[tuple[int, str]] = []
        self._newlines = [i for i, c in enumerate(text) if c == "\n"]

    def line(self, pos: int) -> int:
        return bisect.bisect_left(self._newlines, pos) + 1

    def add(self, kind: str, text: str, pos: int) -> None:
        self.tokens.append(_Token(kind, text, self.line(pos)))

    def run(self, *, inside_template: bool = False) -> None:
        """Tokens up to the end, or (in a `${`) up to its unmatched closing brace."""
        text, depth = self.text, 0
        while self.pos < len(text):
            c = text[self.pos]
            start = self.pos
            if c in " \t\r\n\f\v\ufeff\u00a0\u2028\u2029":
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
            elif c in "'\"":
                self.string(c)
            elif c == "`":
                self.template()
            elif c == "/" and self.regex_allowed() and self.regex():
                pass
            elif match := _IDENT.match(text, start):
                self.add("id", match.group(), start)
                self.pos = match.end()
            elif match := _NUMBER.match(text, start):
                self.add("num", match.group(), start)
                self.pos = match.end()
            else:
                punct = next(
                    (p for p in (*_PUNCT3, *_PUNCT2) if text.startswith(p, start)),
                    c,
                )
                if punct == "?." and text[start + 2 : start + 3].isdigit():
                    punct = "?"
                if inside_template and punct == "}":
                    if depth == 0:
                        self.pos += 1
                        return
                    depth -= 1
                elif inside_template and punct == "{":
                    depth += 1
                self.add("punct", punct, start)
                self.pos += len(punct)
        if inside_template:
            self.problems.append((self.line(len(text)), "unterminated ${ in a template string"))

    def string(self, quote: str) -> None:
        text, start = self.text, self.pos
        i = start + 1
        while i < len(text):
            c = text[i]
            if c == "\\":
                i += 2
                continue
            if c == quote:
                self.add("str", _unescape(text[start + 1 : i]), start)
                self.pos = i + 1
                return
            if c == "\n":
                break
            i += 1
        self.problems.append((self.line(start), "unterminated string"))
        self.add("str", _unescape(text[start + 1 : i]), start)
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
                parts.append(_unescape(text[chunk:i]))
                kind = "tpl" if substituted else "str"
                self.tokens[index] = _Token(kind, "".join(parts), self.line(start))
                self.pos = i + 1
                return
            if text.startswith("${", i):
                parts.append(_unescape(text[chunk:i]))
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


_OPEN = {"(": ")", "[": "]", "{": "}"}
_CLOSE = {v: k for k, v in _OPEN.items()}
# Words that start a new statement: the end of a const initializer without a semicolon.
_STATEMENT = frozenset({"const", "let", "var", "function", "export", "import", "class"})


@dataclass(slots=True)
class _Source:
    """One TypeScript file as tokens, with the facts the scanner asks about."""

    path: Path
    tokens: list[_Token]
    problems: list[tuple[int, str]]
    pairs: dict[int, int] = field(default_factory=dict)  # opener index <-> closer index
    top: list[int] = field(default_factory=list)  # token indices outside any bracket
    imports: dict[str, tuple[str, str]] = field(default_factory=dict)  # local: (spec, name)
    exports: dict[str, str] = field(default_factory=dict)  # local: exported name
    locals: dict[str, tuple[int, int]] = field(default_factory=dict)  # top-level bindings
    consts: dict[str, str] = field(default_factory=dict)  # top-level const = 'string'
    body_start: int = 0  # the first token after the last import statement

    @classmethod
    def parse(cls, path: Path, text: str) -> _Source:
        lexer = _Lexer(text)
        lexer.run()
        # Sentinels so that lookahead never runs off the end.
        tokens = [*lexer.tokens, _Token("end", "", lexer.line(len(text)))] + [
            _Token("end", "", 0)
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
            if tok.text in _OPEN:
                stack.append(i)
            elif tok.text in _CLOSE:
                want = _CLOSE[tok.text]
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
            if tok.kind == "punct" and tok.text in _OPEN:
                i = self.pairs.get(i, i) + 1
                continue
            if tok.kind == "id" and self.is_reference(i):
                if tok.text == "import":
                    self.read_import(i)
                elif tok.text == "export" and toks[i + 1].text == "{":
                    self.read_export_list(i + 1)
                elif tok.text in ("const", "let", "var") and toks[i + 1].kind == "id":
                    self.read_binding(i)
                elif tok.text == "function" and toks[i + 1].kind == "id":
                    self.read_function(i)
            i += 1

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
            for local, imported in names:
                self.imports[local] = (toks[j].text, imported)

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
        if self.tokens[close + 1].text == "from":
            return  # a re-export; steps are found by name when the import goes through one
        for exported, local in self.specifiers(open_ + 1, close):
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
        j = self.pairs.get(j, j) + 1
        angles = 0
        while toks[j].kind != "end":
            text = toks[j].text
            if text == "<":
                angles += 1
            elif text == ">":
                angles -= 1
            elif text == "{" and angles <= 0 and toks[j - 1].text not in (":", "|", "&", "<", ","):
                self.locals.setdefault(toks[i + 1].text, (i, self.pairs.get(j, j) + 1))
                return
            elif text in _OPEN:
                j = self.pairs.get(j, j)
            j += 1

    # -- questions ------------------------------------------------------------------------------

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
        toks = self.tokens
        angles = 0
        while toks[j].kind != "end":
            text = toks[j].text
            if text == "<":
                angles += 1
            elif text == ">":
                angles -= 1
            elif text in _OPEN:
                j = self.pairs.get(j, j)
            elif (
                (text == "=" and angles <= 0) or text == ";" or (text in _STATEMENT and angles <= 0)
            ):
                return j
            j += 1
        return j

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
            if tok.text in _OPEN:
                j = self.pairs.get(j, j)
            j += 1
        return out

    def object_keys(self, i: int) -> dict[str, int]:
        """The keys of the object literal that token i sits in (directly)."""
        depth = 0
        j = i - 1
        while j >= 0:
            text = self.tokens[j].text
            if text in _CLOSE:
                j = self.pairs.get(j, j) - 1
                continue
            if text in _OPEN:
                if text == "{" and depth == 0:
                    return self.props(j, self.pairs.get(j, j))
                return {}
            j -= 1
        return {}

    def value_end(self, start: int, stop: int) -> int:
        """Where a value starting at `start` ends: the next `,` outside brackets, or `stop`."""
        j = start
        while j < stop:
            text = self.tokens[j].text
            if text == ",":
                return j
            if text in _OPEN:
                j = self.pairs.get(j, j)
            j += 1
        return stop

    def statement_end(self, start: int) -> int:
        toks = self.tokens
        j = start
        while toks[j].kind != "end":
            text = toks[j].text
            if text == ";" or text in _CLOSE:
                return j
            if toks[j].kind == "id" and text in _STATEMENT and j > start and self.is_reference(j):
                return j
            if text in _OPEN:
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
