"""How paths read in text: a few names, then a count."""

from __future__ import annotations

import pytest

from runner.pathnames import file_list, shown


@pytest.mark.parametrize(
    ("count", "expected"),
    [
        (0, ""),
        (1, "f0"),
        (3, "f0, f1, f2"),
        (4, "f0, f1 and 2 more"),
        (4000, "f0, f1 and 3,998 more"),
    ],
)
def test_a_long_list_names_two_and_counts_the_rest(count: int, expected: str) -> None:
    assert file_list([f"f{i}" for i in range(count)]) == expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("prompts/été 2026/a.prompt", "prompts/été 2026/a.prompt"),
        ("x\n08:00:00 blog-1: FAKE", "x\\n08:00:00 blog-1: FAKE"),
        ("a\tb\rc\x1b[31md", "a\\tb\\rc\\x1b[31md"),
        ("evil\u202etxt.prompt", "evil\\u202etxt.prompt"),
        ("latin1-\udce9.prompt", "latin1-\\udce9.prompt"),  # os.fsdecode of a non-UTF-8 byte
    ],
)
def test_control_characters_are_escaped(path: str, expected: str) -> None:
    assert shown(path) == expected


def test_a_list_escapes_the_names_it_shows() -> None:
    assert file_list(["a\nb", "c", "d", "e"]) == "a\\nb, c and 2 more"
