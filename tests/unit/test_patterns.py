"""Patterns git accepts but pathspec cannot compile: a bad `.gitignore` line is skipped with one
warning, a bad pattern in the config is a located error; the loader's check agrees with
pathspec on generated patterns."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pathspec
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from runner.config import load_config
from runner.config.syntax import pattern_problem
from runner.paths import Matcher
from tests.cli_process import run_main

RULES = """\
workflows:
  - id: wf-1
    rules:
      - files: prompts/*.prompt
        rerun: draft
      - files: {files}
        rerun: polish
"""


def project(folder: Path, files: str = "prompts/*.prompt", gitignore: str | None = None) -> None:
    (folder / "prompts").mkdir(exist_ok=True)
    (folder / "prompts" / "a.prompt").write_text("a\n")
    (folder / "prompts" / "b.log").write_text("b\n")
    (folder / "output-reset.yaml").write_text(RULES.format(files=files))
    if gitignore is not None:
        (folder / ".gitignore").write_text(gitignore)


# -- 1. .gitignore ------------------------------------------------------------------------------


@pytest.mark.parametrize("line", ["[z-a]", "!", "x\\", "[[:alpha:]]", "[a&&b]"])
def test_a_gitignore_line_pathspec_cannot_compile_is_skipped_with_one_warning(
    line: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    project(tmp_path, gitignore=f"# build output\n*.log\n{line}\n")
    monkeypatch.chdir(tmp_path)
    code, out, err = run_main(["validate", "--offline"], capsys)
    assert (code, err) == (
        0,
        f"warning: .gitignore:3: cannot use this pattern ({line}); it is ignored\n",
    )
    assert out == "output-reset.yaml: ok (1 workflow, 2 rules, 1 mapped file)\n"


def test_the_good_lines_keep_their_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The negation after the bad line still re-includes what the line before it ignored, and
    # the line after it ignores again.
    project(tmp_path, gitignore="prompts/*.prompt\n[z-a]\n!prompts/*.prompt\nprompts/c.*\n")
    for name in ("b", "c"):
        (tmp_path / "prompts" / f"{name}.prompt").write_text(f"{name}\n")
    monkeypatch.chdir(tmp_path)
    code, out, err = run_main(["validate", "--offline"], capsys)
    assert (code, err) == (
        0,
        "warning: .gitignore:2: cannot use this pattern ([z-a]); it is ignored\n",
    )
    assert out == "output-reset.yaml: ok (1 workflow, 2 rules, 2 mapped files)\n"
    matcher = Matcher(load_config(tmp_path / "output-reset.yaml"))
    assert [matcher.ignored(f"prompts/{n}.prompt") for n in "abc"] == [False, False, True]


def test_control_characters_of_a_bad_line_are_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    project(tmp_path, gitignore="\x1b[z-a]\n")
    monkeypatch.chdir(tmp_path)
    code, _, err = run_main(["validate", "--offline"], capsys)
    assert (code, err) == (
        0,
        "warning: .gitignore:1: cannot use this pattern (\\x1b[z-a]); it is ignored\n",
    )


# -- 2. the config's patterns -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (
            '"!"',
            '6:16: workflows[0].rules[1].files: "!" alone excludes nothing; put a pattern '
            "after it, such as !drafts/",
        ),
        (
            '"[z-a].prompt"',
            "6:16: workflows[0].rules[1].files: [z-a]: the range z-a runs backwards; write a-z",
        ),
        (
            '[ok, "prompts/[[:alpha:]]*"]',
            "6:21: workflows[0].rules[1].files[1]: [[:alpha:]: [ right after [ is not supported "
            "(no classes such as [[:alpha:]])",
        ),
        (
            '"[a--z]"',
            "6:16: workflows[0].rules[1].files: [a--z]: -- inside [...] is not supported; "
            "write it once",
        ),
    ],
)
def test_a_config_pattern_pathspec_cannot_compile_is_a_located_error(
    files: str,
    message: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    project(tmp_path, files=files)
    monkeypatch.chdir(tmp_path)
    code, out, err = run_main(["validate", "--offline"], capsys)
    assert (code, out, err) == (2, "", f"error: output-reset.yaml:{message}\n")


def test_an_ignore_pattern_is_checked_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    project(tmp_path)
    config = tmp_path / "output-reset.yaml"
    config.write_text("ignore: ['*.log', '!']\n" + config.read_text())
    monkeypatch.chdir(tmp_path)
    code, _, err = run_main(["validate", "--offline"], capsys)
    assert (code, err) == (
        2,
        'error: output-reset.yaml:1:19: ignore[1]: "!" alone excludes nothing; put a pattern '
        "after it, such as !drafts/\n",
    )


# -- the loader's check is pathspec's verdict --------------------------------------------------


def pathspec_refuses(pattern: str) -> bool:
    """pathspec raises, or Python's re warns that the pattern will change meaning."""
    re.purge()  # a cached regex does not warn a second time
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            pathspec.GitIgnoreSpec.from_lines([pattern])
        except (ValueError, re.error):
            return True
    return any(issubclass(w.category, FutureWarning) for w in caught)


# Pieces of bracket expressions, so that most examples have one (or a broken one).
GLOBBY = st.lists(
    st.sampled_from(["[", "]", "!", "^", "-", "a", "z", "\\", " ", "/", "&", "~", "*", "#"]),
    max_size=8,
).map("".join)


@settings(max_examples=2000, deadline=None, derandomize=True)
@given(pattern=GLOBBY | st.text(max_size=8))
@example("!")
@example("[z-a]")
@example("a[b-a]/c\\")
@example("[/c\\")
@example("a\\/b")
@example("x\\ ")
@example("[--a]")
@example("[&&]")
@example("[![a]")
@example("[!--]")
@example("[a-a]")
@example("[^--]")
@example("[!]a-]")
@example("[]-a]")
def test_the_loader_refuses_exactly_what_pathspec_cannot_compile(pattern: str) -> None:
    assert (pattern_problem(pattern) is not None) == pathspec_refuses(pattern), pattern
