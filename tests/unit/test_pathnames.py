"""How paths read in text: a few names, then a count."""

from __future__ import annotations

import pytest

from runner.pathnames import file_list


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
