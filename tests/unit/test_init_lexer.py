"""`output-reset init`, the TypeScript lexer: tokens, lines and decoded strings; never a crash."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from runner.init import Project, scan_project
from runner.init.lexer import Lexer, unescape
from tests.unit.init_support import PROMPT, workflow_ts, write


def tokens(text: str) -> list[tuple[str, str, int]]:
    lexer = Lexer(text)
    lexer.run()
    return [(t.kind, t.text, t.line) for t in lexer.tokens]


def test_words_numbers_strings_and_punctuation() -> None:
    assert tokens("const a = 'x\\'y' + 1_000;\nb?.c ?.5 : [...d] => e") == [
        ("id", "const", 1),
        ("id", "a", 1),
        ("punct", "=", 1),
        ("str", "x'y", 1),
        ("punct", "+", 1),
        ("num", "1_000", 1),
        ("punct", ";", 1),
        ("id", "b", 2),
        ("punct", "?.", 2),
        ("id", "c", 2),
        ("punct", "?", 2),
        ("num", ".5", 2),
        ("punct", ":", 2),
        ("punct", "[", 2),
        ("punct", "...", 2),
        ("id", "d", 2),
        ("punct", "]", 2),
        ("punct", "=>", 2),
        ("id", "e", 2),
    ]


def test_comments_vanish_and_count_their_lines() -> None:
    assert tokens("// one\n/* two\nthree */ x") == [("id", "x", 3)]


def test_a_template_with_substitutions_is_a_tpl_token_then_their_tokens() -> None:
    assert tokens("`a@v1` `judge_${kind}@v1` x") == [
        ("str", "a@v1", 1),
        ("tpl", "judge_*@v1", 1),
        ("id", "kind", 1),
        ("id", "x", 1),
    ]


def test_a_slash_is_a_regex_or_a_division_by_what_comes_before() -> None:
    assert tokens("return /a[/]b/g")[1] == ("regex", "/a[/]b/g", 1)
    division = [text for _, text, _ in tokens("(a) / b / c")]
    assert division == ["(", "a", ")", "/", "b", "/", "c"]


def test_problems_are_reported_with_their_line() -> None:
    lexer = Lexer("x\n'open\n`tpl ${ y\n/* never closed")
    lexer.run()
    assert lexer.problems == [
        (2, "unterminated string"),
        (4, "unterminated /* comment"),
        (4, "unterminated ${ in a template string"),
        (3, "unterminated template string"),
    ]


def test_unescape_decodes_javascript_escapes() -> None:
    assert unescape("a\\nb\\x41\\u0042\\u{1F600}\\\nc\\q") == "a\nbAB\U0001f600cq"


# -- the lexer never crashes ----------------------------------------------------------------

FRAGMENTS = [
    "export const s = step({ name: 'n', fn: async () => generateText({ prompt: 'p@v1' }) });",
    "step(",
    "({",
    "})",
    "}",
    "{",
    "'",
    '"',
    "`",
    "${",
    "/*",
    "*/",
    "//",
    "/",
    "/[/]/g",
    "\\",
    "\n",
    "name:",
    "prompt:",
    "import { a as b } from './x.js';",
    "import",
    "export {",
    "const",
    "function f(",
    "<T>",
    "=>",
    "?.",
    ",",
    " ",
    "x",
]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=5), max_size=40))
def test_any_steps_file_is_scanned_without_crashing(parts: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = write(
            Path(tmp),
            {
                "src/workflows/w/workflow.ts": workflow_ts(
                    "w", "await s();" + "".join(parts), "import { s } from './steps.js';"
                ),
                "src/workflows/w/steps.ts": "".join(parts),
                "src/workflows/w/p@v1.prompt": PROMPT,
            },
        )
        project = scan_project(root)
        assert isinstance(project, Project)
        assert all("\n" not in w for w in project.warnings)
