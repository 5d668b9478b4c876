"""Read an Output project's TypeScript sources (`output-reset init`): workflows and eval
workflows, their names, the steps, evaluators and child workflows each one calls in order, and
(through `runner.init.steps`) the prompts those load. Anything it cannot follow becomes a
warning, never a crash.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from runner.datasets import datasets_in
from runner.errors import UsageError
from runner.init.follow import Ref, Walk
from runner.init.layout import find_files, is_code
from runner.init.project import Project, Step, Workflow
from runner.init.reader import Reader
from runner.init.source import Source
from runner.init.steps import Steps

# The calls that declare a workflow, and the key holding what it runs, in order.
_DECLARERS = {"workflow": ("fn", False), "evalWorkflow": ("evals", True)}


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


@dataclass(frozen=True, slots=True)
class _Header:
    """A workflow({ ... }) or evalWorkflow({ ... }) call, before its steps are known."""

    file: Path
    src: Source
    name: str
    disable_trace: bool
    body: tuple[int, int]  # the tokens that call its steps: `fn`, or an eval workflow's `evals`
    is_eval: bool


class Scanner:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.reader = Reader(root)
        self.steps = Steps(self.reader)
        self.shared_dirs = (
            root / "src" / "shared" / "steps",
            root / "src" / "shared" / "evaluators",
        )

    def scan(self, files: list[Path]) -> Project:
        shared = [
            path for folder in self.shared_dirs for path in sorted(find_files(folder, is_code))
        ]
        shared_steps = [s for path in shared for s in self.steps.of(path, shared=True)]
        headers = self._headers(files)
        names = {h.file: h.name for h in headers}
        workflows = tuple(self._workflow(h, shared_steps, names) for h in headers)
        project = Project(root=self.root, workflows=workflows)
        for workflow in project.roots:
            if not project.sequence(workflow):
                self._nothing_to_list(workflow)
        return dataclasses.replace(project, warnings=self.reader.warnings)

    # -- workflow({ ... }) and evalWorkflow({ ... }) ------------------------------------------

    def _headers(self, files: list[Path]) -> list[_Header]:
        headers: dict[str, _Header] = {}
        for file in files:
            if file.parent.name == "shared":
                self.reader.warn(file, None, "a workflow folder may not be named shared; skipped")
                continue
            header = self._header(file)
            if header is None:
                continue
            if header.name in headers:
                first = self.reader.show(headers[header.name].file)
                self.reader.warn(
                    file, None, f'workflow name "{header.name}" is also used by {first}; skipped'
                )
                continue
            headers[header.name] = header
        return list(headers.values())

    def _header(self, file: Path) -> _Header | None:
        src = self.reader.source(file)
        if src is None:
            return None
        callees = {alias: name for name in _DECLARERS for alias in src.aliases(name)}
        for i in src.top:
            tok = src.tokens[i]
            if tok.kind == "id" and tok.text in callees and src.call_object(i) is not None:
                return self._read_header(src, i, callees[tok.text])
        self.reader.warn(
            file, None, "no workflow({ ... }) or evalWorkflow({ ... }) call found; skipped"
        )
        return None

    def _read_header(self, src: Source, i: int, callee: str) -> _Header | None:
        """The name, disableTrace and the token range that calls the steps, in order."""
        call = src.call_object(i)
        assert call is not None
        open_, close = call
        props = src.props(open_, close)
        line = src.tokens[i].line
        name = src.string_prop(props, "name", close)
        if name is None:
            self.reader.warn(
                src.path, line, f"{callee}({{ ... }}) has no literal name: '...'; skipped"
            )
            return None
        disable_trace = any(
            t.kind == "id"
            and t.text == "disableTrace"
            and src.tokens[j + 1].text == ":"
            and src.tokens[j + 2].text == "true"
            for j, t in enumerate(src.tokens[open_:close], start=open_)
        )
        key, is_eval = _DECLARERS[callee]
        start = props.get(key, props.get("fn"))
        if start is not None:
            body = (start, src.value_end(start, close))
        else:
            self.reader.warn(
                src.path,
                line,
                f"{callee}({{ ... }}) has no {key}; the call order is the file order",
            )
            body = (src.body_start, src.end)
        return _Header(src.path, src, name, disable_trace, body, is_eval)

    # -- what a workflow calls ----------------------------------------------------------------

    def _workflow(
        self, header: _Header, shared_steps: list[Step], names: Mapping[Path, str]
    ) -> Workflow:
        local_steps = self._local_steps(header.file.parent)
        calls: dict[Step | str, None] = {}

        def visit(ref: Ref) -> bool:
            """Note a child or a step; say whether to follow a helper module into its code."""
            target = ref.target
            if target is not None and target in names:
                calls.setdefault(names[target], None)
                return False
            step = self._resolve(ref, local_steps, shared_steps)
            if step is not None:
                calls.setdefault(step, None)
                return False
            return (
                target is not None
                and target.name != "workflow.ts"
                and not self.steps.declares(target)
            )

        Walk(self.reader, visit).run(header.src, *header.body)
        for step in local_steps:
            if step not in calls:
                self.reader.warn(
                    step.file,
                    step.line,
                    f'{step.kind} "{step.name}" is never called by {header.name}\'s workflow.ts; '
                    "no rule maps it",
                )
        return Workflow(
            name=header.name,
            directory=header.file.parent,
            file=header.file,
            disable_trace=header.disable_trace,
            calls=tuple(calls),
            is_eval=header.is_eval,
            cases=() if header.is_eval else _cases(header.file.parent, self.root),
        )

    def _local_steps(self, folder: Path) -> list[Step]:
        """Steps and evaluators Output registers for the workflow in `folder`
        (docs/output-api.md §10.1)."""
        files = [
            p
            for p in sorted(find_files(folder, is_code, prune=True))
            if (p.parent == folder and p.name in ("steps.ts", "evaluators.ts"))
            or p.is_relative_to(folder / "steps")
            or p.is_relative_to(folder / "evaluators")
        ]
        return [s for path in files for s in self.steps.of(path, shared=False)]

    def _resolve(self, ref: Ref, local_steps: list[Step], shared_steps: list[Step]) -> Step | None:
        """The step an import names: by its file when it resolves, else by export name."""
        spec, imported, target = ref.spec, ref.imported, ref.target
        if spec.startswith("@outputai/") or imported in ("default", "*"):
            return None
        for pool in (local_steps, shared_steps):
            exact = [s for s in pool if s.export == imported and s.file == target]
            if exact:
                return exact[0]
        if target is not None and target.is_file() and target not in self.steps.declared:
            return None  # a plain helper module (types, utils), not a steps file
        for pool in (local_steps, shared_steps):
            same = [s for s in pool if s.export == imported]
            if len(same) == 1:
                return same[0]
            if len(same) > 1:
                where = ", ".join(self.reader.show(s.file) for s in same)
                line = ref.src.tokens[ref.index].line
                self.reader.warn(
                    ref.src.path,
                    line,
                    f"{imported} is exported by several files ({where}); skipped",
                )
                return None
        return None

    def _nothing_to_list(self, workflow: Workflow) -> None:
        if workflow.children:
            what = (
                "calls no step or evaluator, and neither do the child workflows it starts "
                f"({', '.join(workflow.children)})"
            )
        else:
            what = "calls no step, evaluator or child workflow that could be found"
        self.reader.warn(workflow.file, None, f"{workflow.name} {what}; not listed")


def _cases(folder: Path, root: Path) -> tuple[str, ...]:
    """The workflow's dataset cases (a file that cannot be read is for `validate` to name)."""
    return tuple(datasets_in(folder, root).names())
