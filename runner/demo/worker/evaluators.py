"""blog_digest_eval's evaluators: activities `blog_digest_eval#<name>` (Output's naming: the eval
workflow's name, not blog_digest's) that judge a digest's text, deterministically.

Each takes Output's evaluator input `{input, output, ground_truth}` and answers an
EvaluationResult `{value, confidence, reasoning, feedback, dimensions}`. The digest is
blog_digest's result: a `topic: ...` line, then one line per step with its prompt, so an edited
prompt changes what the evaluators see. An output that is not a digest (the case has no
last_output, or a failed run's null) is refused as Output's typed `verify()` evaluators refuse
it: a non-retryable ValidationError, and the eval reports the case as `_error`. Every call is
logged in the invocations log like a step's (with an empty prompt).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from runner.demo.worker.evaluation import EVAL_WORKFLOW, JUDGES
from runner.demo.worker.steps import Settings, log_invocation

DEFAULT_MAX_WORDS = 40
JARGON = frozenset({"leverage", "synergy", "paradigm", "utilize", "holistic", "seamless"})

Judgement = dict[str, Any]
Activity = Callable[[dict[str, Any]], Awaitable[Judgement]]


def digest_body(arg: dict[str, Any], evaluator: str) -> str:
    """The digest's text after its `topic:` line; a ValidationError when there is no digest."""
    output = arg.get("output")
    if not isinstance(output, str):
        received = "undefined" if "output" not in arg else "null" if output is None else "object"
        raise ApplicationError(
            f'Evaluator "{evaluator}" input validation failed: ✖ Invalid input: expected '
            f"string, received {received}\n  → at output",
            type="ValidationError",
            non_retryable=True,
        )
    lines = output.splitlines()
    return "\n".join(lines[1:] if lines and lines[0].startswith("topic:") else lines)


def mentions_topic(arg: dict[str, Any]) -> Judgement:
    """True when the text mentions `ground_truth.topic_word` (default: the topic's last word),
    as a word or the start of one ("reset" is in "resets")."""
    topic = str(arg["input"].get("topic") or "")
    word = str(arg["ground_truth"].get("topic_word") or (topic.split() or [""])[-1])
    found = bool(word) and re.search(
        rf"\b{re.escape(word)}", digest_body(arg, "mentions_topic"), re.I
    )
    said = "mentions" if found else "does not mention"
    return _judged(bool(found), f'{said} "{word}"')


def digest_length(arg: dict[str, Any]) -> Judgement:
    """min(1, max_words / words), two decimals: 1 when within `ground_truth.max_words`."""
    words = len(digest_body(arg, "digest_length").split())
    limit = int(arg["ground_truth"].get("max_words") or DEFAULT_MAX_WORDS)
    score = round(min(1.0, limit / words), 2) if words else 1.0
    return _judged(int(score) if score == 1 else score, f"{words} words (at most {limit})")


def plain_words(arg: dict[str, Any]) -> Judgement:
    """ "plain" without any word of JARGON, "mixed" with one, "jargon" with more."""
    words = set(re.findall(r"[a-z]+", digest_body(arg, "plain_words").lower()))
    found = sorted(words & JARGON)
    label = "plain" if not found else "mixed" if len(found) == 1 else "jargon"
    return _judged(label, f"jargon: {', '.join(found)}" if found else "no jargon")


def _judged(value: Any, reasoning: str) -> Judgement:
    # Deterministic checks answer with confidence 1, like Output's Verdict helpers.
    return {
        "value": value,
        "confidence": 1,
        "reasoning": reasoning,
        "feedback": [],
        "dimensions": [],
    }


EVALUATORS: dict[str, Callable[[dict[str, Any]], Judgement]] = {
    "mentions_topic": mentions_topic,
    "digest_length": digest_length,
    "plain_words": plain_words,
}


def evaluator_activities(
    settings: Settings,
) -> list[Callable[[dict[str, Any]], Awaitable[Judgement]]]:
    """One activity per entry of the eval workflow's JUDGES, named `blog_digest_eval#<name>`."""
    return [_activity(settings, judge.name) for judge in JUDGES]


def _activity(settings: Settings, name: str) -> Activity:
    judge = EVALUATORS[name]

    async def run(arg: dict[str, Any]) -> Judgement:
        log_invocation(settings.log, EVAL_WORKFLOW, name, prompt="")
        return judge(arg)

    run.__name__ = run.__qualname__ = f"{EVAL_WORKFLOW}__{name}"
    return activity.defn(name=f"{EVAL_WORKFLOW}#{name}")(run)
