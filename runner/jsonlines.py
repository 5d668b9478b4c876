"""Each report as one JSON object (pure): `watch --json`, and `plan --json` for decisions.

Editor integrations read these, so field names are part of the interface: camelCase, stable.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from runner import reports as d
from runner.evals import verdict_line
from runner.plan import Decision


def decision_json(label: str, decision: Decision) -> dict[str, Any]:
    return {
        "workflow": label,
        "workflowId": decision.workflow_id,
        "runId": decision.run_id,
        "action": decision.kind,
        "anchor": decision.anchor,
        "resetEventId": decision.boundary,
        "why": decision.why,
        "files": list(decision.files),
        "kept": list(dict.fromkeys(a.step for a in decision.kept)),
        "rerun": list(decision.rerun),
        "rules": [
            {
                "rule": o.change.rule.describe(),
                "files": list(o.change.files),
                "action": o.kind,
                "anchor": o.anchor,
                "why": o.why,
            }
            for o in decision.outcomes
        ],
    }


def event_json(event: d.Report) -> dict[str, Any] | None:
    shape = _SHAPES.get(type(event))
    return shape(event) if shape is not None else None


def _decided(event: d.Decided) -> dict[str, Any]:
    outcome = event.outcome
    payload = {
        "event": "decision",
        **decision_json(event.label, event.decision),
        "dryRun": outcome is None,
    }
    if outcome is not None and outcome.new_run_id:
        payload["newRunId"] = outcome.new_run_id
        payload["reason"] = outcome.reason
        payload["recovered"] = outcome.recovered
        if outcome.savings is not None:
            payload["saved"] = outcome.savings.to_json()
    return payload


def _step(event: d.StepDone) -> dict[str, Any]:
    return {
        "event": "step",
        "workflowId": event.workflow_id,
        "runId": event.run_id,
        "case": event.case,
        "step": event.activity.step,
        "outcome": event.activity.outcome,
        "seconds": event.activity.duration_s,
    }


def _compared(event: d.RunCompared) -> dict[str, Any]:
    return {
        "event": "compared",
        "case": event.case,
        "workflowId": event.workflow_id,
        "runId": event.run_id,
        "previousRunId": event.previous_run_id,
        "result": event.result,
        "diffs": [
            {"step": x.step, "changed": x.changed, "diff": list(x.lines)} for x in event.diffs
        ],
    }


def _summary(event: d.SessionSummary) -> dict[str, Any]:
    totals = event.totals
    return {
        "event": "summary",
        "resets": totals.resets,
        "stepsReplayed": totals.steps,
        "seconds": totals.seconds,
        "tokens": totals.tokens,
        "cost": totals.cost,
    }


def _cases_decided(event: d.CasesDecided) -> dict[str, Any]:
    cases: list[dict[str, Any]] = []
    for case in event.cases:
        if case.decision is None:
            cases.append({"workflow": case.label, "action": "not reset", "error": case.error})
            continue
        one = {**decision_json(case.label, case.decision), "dryRun": case.outcome is None}
        if case.outcome is not None and case.outcome.new_run_id:
            one["newRunId"] = case.outcome.new_run_id
        cases.append(one)
    return {"event": "decisions", "workflow": event.label, "cases": cases}


def _evaluated(event: d.Evaluated) -> dict[str, Any]:
    table = event.matrix
    return {
        "event": "evaluated",
        "workflow": event.label,
        "evalWorkflow": event.eval_workflow,
        "evalRunId": event.run_id,
        "baseline": event.baseline,
        "line": verdict_line(table),
        "trend": table.trend,
        "unjudged": list(event.unjudged),
        "evaluators": list(table.evaluators),
        "cases": [
            {
                "case": row.case,
                "verdict": row.verdict,
                "before": row.before,
                "change": row.change,
                "error": row.error,
                "evaluators": {
                    name: {
                        "verdict": cell.verdict,
                        "before": cell.before,
                        "change": cell.change,
                        "required": cell.required,
                    }
                    for name, cell in zip(table.evaluators, row.cells, strict=True)
                },
            }
            for row in table.rows
        ],
    }


_SHAPES: dict[type, Callable[[Any], dict[str, Any]]] = {
    d.Ready: lambda e: {
        "event": "ready",
        "files": e.files,
        "workflows": e.workflows,
        "watches": e.watches,
        "runs": e.runs,
    },
    d.Pinned: lambda e: {
        "event": "pinned",
        "workflow": e.label,
        "workflowId": e.workflow_id,
        "runId": e.run_id,
        "source": e.source,
        "status": e.status,
    },
    d.Changed: lambda e: {"event": "change", "files": list(e.files), "catchUp": e.catch_up},
    d.WaitingForWorker: lambda e: {
        "event": "waiting",
        "workflow": e.label,
        "files": list(e.files),
        "mdOnly": e.md_only,
    },
    d.Decided: _decided,
    d.StepDone: _step,
    d.RunFinished: lambda e: {
        "event": "run_finished",
        "case": e.case,
        "workflowId": e.workflow_id,
        "runId": e.run_id,
        "status": e.status,
        "seconds": e.seconds,
    },
    d.RunCompared: _compared,
    d.Notice: lambda e: {"event": "notice", "level": e.level, "message": e.message},
    d.ConfigReloaded: lambda e: {"event": "config_reloaded", "path": e.path},
    d.SessionSummary: _summary,
    d.CasesDecided: _cases_decided,
    d.Evaluated: _evaluated,
    d.Recorded: lambda e: {"event": "iteration", "n": e.n, "workflow": e.workflow},
}
