"""The demo's hints promise what an edit will do: only what the evals before any edit back."""

from __future__ import annotations

from pathlib import Path

from runner.demo.flow import _hints
from runner.evals import Cell, Matrix, Row
from runner.reports import Evaluated

PROMPTS = Path("/demo/prompts")


def judged(resets: str) -> Evaluated:
    rows = tuple(
        Row(case, verdict, None, (Cell(verdict, None),))  # type: ignore[arg-type]
        for case, verdict in (("weekly_digest", "pass"), ("resets", resets))
    )
    return Evaluated("blog_digest", "blog_digest_eval", Matrix(("mentions_topic",), rows))


def test_the_edit_that_turns_the_failing_case_is_named_while_it_fails() -> None:
    first, others = _hints(PROMPTS, judged("fail"))
    assert first == (
        'add the word "reset" to /demo/prompts/polish_digest.prompt and save: every case\'s run '
        "resets from polish_digest, then blog_digest_eval judges the cases again (the resets "
        "case goes from fail to pass: better)"
    )
    assert others.startswith("(or edit fetch_article.prompt, extract_points.prompt or ")


def test_no_better_is_promised_when_the_case_passes_already_or_was_not_judged() -> None:
    for evaluated in (judged("pass"), None):
        first, _ = _hints(PROMPTS, evaluated)
        assert first == (
            "edit /demo/prompts/polish_digest.prompt and save: every case's run resets from "
            "polish_digest, then blog_digest_eval judges the cases again"
        )
