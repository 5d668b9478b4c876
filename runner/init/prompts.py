"""Which prompt file a `prompt:` key loads, and the skills beside it (`output-reset init`).

Output's loader searches depth-first from the folder of the file that calls it (docs/output-api.md
§10.2); a prompt loads the `.md` skills of its front matter's `skills:` list, or else those in
`skills/` beside it.
"""

from __future__ import annotations

import os
from pathlib import Path

from runner.init.layout import depth_first, front_matter_skills, workflow_dir_of
from runner.init.lexer import Token
from runner.init.project import PromptUse
from runner.init.reader import Reader
from runner.init.source import Source
from runner.init.tstypes import in_type


def is_prompt_key(src: Source, i: int) -> bool:
    """A `prompt` key of an object literal (not of a type such as `{ prompt: string }`)."""
    tok = src.tokens[i]
    return (
        tok.text == "prompt" and tok.kind in ("id", "str") and src.is_key(i) and not in_type(src, i)
    )


class Prompts:
    def __init__(self, reader: Reader) -> None:
        self.reader = reader
        self.root = reader.root

    def at(self, src: Source, i: int, *, label: str, near: Path, shared: bool) -> PromptUse | None:
        """The prompt file the `prompt` key at token i loads; None (maybe with a warning).

        `label` names the step(s) in warnings; `near` is the step's file, whose workflow folder
        is searched when the prompt is not under the calling file's folder.
        """
        toks = src.tokens
        tok = toks[i]
        has_dir = "promptDir" in src.object_keys(i)
        value = src.value_at(i + 2) if toks[i + 1].text == ":" else src.value_at(i)
        if value is not None:
            return self.find(
                src.path, tok.line, label, value, near=near, shared=shared, has_dir=has_dir
            )
        if toks[i + 1].text == ":" and toks[i + 2].kind in ("id", "tpl"):
            nxt = toks[i + 3].text if i + 3 < len(toks) else ""
            if toks[i + 2].kind == "tpl" or nxt in (",", "}", ")"):
                self.reader.warn(
                    src.path,
                    tok.line,
                    f"{label}: cannot tell which prompt file prompt: {_preview(toks[i + 2])} "
                    "loads; no rule for it",
                )
        return None

    def find(
        self,
        caller: Path,
        line: int,
        label: str,
        name: str,
        *,
        near: Path,
        shared: bool,
        has_dir: bool,
    ) -> PromptUse | None:
        """Find `<name>.prompt` the way Output's loader does, from the calling file's folder."""
        wanted = f"{name}.prompt"
        path = depth_first(caller.parent, wanted)
        if path is None:
            wider = (
                self.root / "src" if shared else workflow_dir_of(caller) or workflow_dir_of(near)
            )
            path = depth_first(wider, wanted) if wider is not None else None
            if path is None:
                if not any(c.isspace() for c in name):
                    self.reader.warn(
                        caller,
                        line,
                        f"{label}: no {wanted} found for prompt '{name}'; no rule for it",
                    )
                return None
            if not has_dir:
                self.reader.warn(
                    caller,
                    line,
                    f"{label}: {self.reader.show(path)} is not under "
                    f"{self.reader.show(caller.parent)}/, where Output looks for it; mapped "
                    "anyway (pass promptDir if it is the one)",
                )
        return PromptUse(name=name, path=path, file=caller, line=line, skills=self.skills_of(path))

    def skills_of(self, prompt: Path) -> tuple[Path, ...]:
        """The skills a prompt loads: its front matter `skills:` list, else `skills/` beside it."""
        try:
            text = prompt.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            self.reader.warn(prompt, None, "cannot read this prompt file")
            return ()
        listed = front_matter_skills(text)
        if listed is None:
            beside = prompt.parent / "skills"
            return (beside,) if beside.is_dir() else ()
        if isinstance(listed, str):
            self.reader.warn(prompt, None, f"cannot read its skills: front matter ({listed})")
            return ()
        out: list[Path] = []
        for item in listed:
            path = Path(os.path.normpath(prompt.parent / item))
            if not path.exists():
                self.reader.warn(prompt, None, f"skills path {item} does not exist")
            elif path.is_dir() or path.suffix == ".md":
                out.append(path)
        return tuple(out)


def _preview(tok: Token) -> str:
    return "`...${...}...`" if tok.kind == "tpl" else tok.text
