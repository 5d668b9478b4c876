"""Access to the real API responses recorded in tests/fixtures/recorded (see its README)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from runner.history import RunHistory

RECORDED = Path(__file__).parent / "fixtures" / "recorded"
EVALS = Path(__file__).parent / "fixtures" / "evals" / "recorded"


def recording(prefix: str) -> dict[str, Any]:
    """The recording whose file name starts with `prefix` (e.g. "3-02")."""
    matches = sorted(RECORDED.glob(f"{prefix}*.json"))
    if len(matches) != 1:
        raise LookupError(f"{prefix}: {len(matches)} recordings match")
    data: dict[str, Any] = json.loads(matches[0].read_text())
    return data


def eval_recording(prefix: str) -> dict[str, Any]:
    """A recorded exchange of tests/fixtures/evals/recorded (`request`, `status`, `response`)."""
    matches = sorted(EVALS.glob(f"{prefix}_*.json"))
    if len(matches) != 1:
        raise LookupError(f"{prefix}: {len(matches)} eval recordings match")
    data: dict[str, Any] = json.loads(matches[0].read_text())
    return data


def eval_output(**verdicts: str) -> dict[str, Any]:
    """An EvalOutput shaped like the recorded ones (docs/output-api.md §8.5): per case its
    verdict, from one required evaluator, evaluate_sum."""
    return {
        "cases": [
            {
                "datasetName": case,
                "verdict": verdict,
                "evaluators": [
                    {
                        "name": "evaluate_sum",
                        "verdict": verdict,
                        "criticality": "required",
                        "confidence": 1,
                        "reasoning": f"{case} is {verdict}",
                    }
                ],
            }
            for case, verdict in verdicts.items()
        ],
        "summary": {"total": len(verdicts)},
    }


def history_from(*prefixes: str) -> RunHistory:
    """Fold the recorded history pages (in order) into a summary, as the client does."""
    first = recording(prefixes[0])["body"]
    history = RunHistory(workflow_id=first["workflow"]["workflowId"], run_id=first["runId"])
    for prefix in prefixes:
        history.feed(recording(prefix)["body"]["events"])
    return history
