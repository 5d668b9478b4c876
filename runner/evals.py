"""What an eval workflow said, against what it said last time (pure core).

Output's eval workflow answers with an `EvalOutput` (docs/output-api.md §8.5): per case a
verdict and its evaluators' verdicts, each `required` or `informational`. This module reads it
(anything that does not fit is a BadAnswer), lines it up with the previous iteration's, and
says in one line whether the change made things better or worse.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from runner.errors import BadAnswer

Verdict = Literal["pass", "partial", "fail"]
Change = Literal["new", "improved", "regressed", "same"]
VERDICTS: tuple[Verdict, ...] = ("pass", "partial", "fail")
_RANK: dict[str, int] = {"fail": 0, "partial": 1, "pass": 2}
ERROR = "_error"  # the evaluator name of a case whose evaluator threw


@dataclass(frozen=True, slots=True)
class Judged:
    """One evaluator's verdict on one case."""

    name: str
    verdict: Verdict
    required: bool
    reasoning: str | None = None


@dataclass(frozen=True, slots=True)
class CaseVerdict:
    case: str
    verdict: Verdict
    evaluators: tuple[Judged, ...]

    @property
    def error(self) -> str | None:
        """Why the case has no verdicts: an evaluator threw (Output replaces the case)."""
        for judged in self.evaluators:
            if judged.name == ERROR:
                return judged.reasoning or "an evaluator failed"
        return None


@dataclass(frozen=True, slots=True)
class Cell:
    verdict: Verdict | None  # None: this evaluator said nothing on the case this time
    before: Verdict | None
    required: bool = True

    @property
    def change(self) -> Change:
        return _change(self.verdict, self.before)


@dataclass(frozen=True, slots=True)
class Row:
    case: str
    verdict: Verdict
    before: Verdict | None
    cells: tuple[Cell, ...]  # one per Matrix.evaluators
    error: str | None = None

    @property
    def change(self) -> Change:
        return _change(self.verdict, self.before)


@dataclass(frozen=True, slots=True)
class Matrix:
    """Cases by evaluators, each cell with its change since the previous iteration."""

    evaluators: tuple[str, ...]
    rows: tuple[Row, ...]

    def counts(self, *, before: bool = False) -> Counter[str]:
        found = [r.before if before else r.verdict for r in self.rows]
        return Counter(v for v in found if v is not None)

    @property
    def first(self) -> bool:
        return all(r.before is None for r in self.rows)

    @property
    def trend(self) -> Literal["better", "worse", "mixed", "same", "first"]:
        if self.first:
            return "first"
        changes = {r.change for r in self.rows} | {c.change for r in self.rows for c in r.cells}
        up, down = "improved" in changes, "regressed" in changes
        if up and down:
            return "mixed"
        return "better" if up else "worse" if down else "same"

    @property
    def all_pass(self) -> bool:
        return all(r.verdict == "pass" for r in self.rows)


def parse(output: Any) -> list[CaseVerdict]:
    """An EvalOutput's cases; BadAnswer when it is not one."""
    if not isinstance(output, Mapping) or not isinstance(output.get("cases"), list):
        raise BadAnswer(f"the eval workflow's output is not an EvalOutput ({_shown(output)})")
    return [_case(raw) for raw in output["cases"]]


def matrix(now: Sequence[CaseVerdict], before: Sequence[CaseVerdict] = ()) -> Matrix:
    """Line this iteration's verdicts up with the previous one's (by case, then evaluator)."""
    previous = {c.case: c for c in before}
    names: dict[str, None] = {}
    for case in now:
        for one in case.evaluators:
            if one.name != ERROR:
                names.setdefault(one.name, None)
    evaluators = tuple(names)
    rows: list[Row] = []
    for case in now:
        old = previous.get(case.case)
        judged = {j.name: j for j in case.evaluators}
        was = {j.name: j for j in old.evaluators} if old is not None else {}
        cells = tuple(
            Cell(
                verdict=judged[name].verdict if name in judged else None,
                before=was[name].verdict if name in was else None,
                required=judged[name].required if name in judged else True,
            )
            for name in evaluators
        )
        before_verdict = old.verdict if old is not None else None
        rows.append(Row(case.case, case.verdict, before_verdict, cells, case.error))
    return Matrix(evaluators=evaluators, rows=tuple(rows))


def verdict_line(table: Matrix) -> str:
    """ "3 pass, 1 partial (was 2 pass, 2 partial): better"."""
    now = _counts(table.counts())
    if table.first:
        return now
    return f"{now} (was {_counts(table.counts(before=True))}): {table.trend}"


def case_verdict(evaluators: Sequence[Judged]) -> Verdict:
    """Output's aggregation: a failed required evaluator fails the case, else a partial one
    makes it partial; informational evaluators never count."""
    required = [j.verdict for j in evaluators if j.required]
    if "fail" in required:
        return "fail"
    return "partial" if "partial" in required else "pass"


def _case(raw: Any) -> CaseVerdict:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("datasetName"), str):
        raise BadAnswer(f"an eval case is not {{datasetName, verdict, evaluators}} ({_shown(raw)})")
    evaluators = raw.get("evaluators")
    if not isinstance(evaluators, list):
        raise BadAnswer(f"eval case {raw['datasetName']!r} has no evaluators list")
    judged = tuple(_judged(raw["datasetName"], e) for e in evaluators)
    verdict = raw.get("verdict")
    if verdict not in VERDICTS:
        verdict = case_verdict(judged)  # trust Output's own verdict when there is one
    return CaseVerdict(raw["datasetName"], verdict, judged)


def _judged(case: str, raw: Any) -> Judged:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("name"), str):
        raise BadAnswer(f"an evaluator of eval case {case!r} has no name ({_shown(raw)})")
    given = raw.get("verdict")
    if given not in VERDICTS:
        raise BadAnswer(f"evaluator {raw['name']} of case {case!r} has verdict {_shown(given)}")
    reasoning = raw.get("reasoning")
    return Judged(
        name=raw["name"],
        verdict=_verdict(given),
        required=raw.get("criticality", "required") != "informational",
        reasoning=reasoning if isinstance(reasoning, str) else None,
    )


def _verdict(value: Any) -> Verdict:
    return "pass" if value == "pass" else "partial" if value == "partial" else "fail"


def _change(now: Verdict | None, before: Verdict | None) -> Change:
    if before is None or now is None:
        return "new"
    if now == before:
        return "same"
    return "improved" if _RANK[now] > _RANK[before] else "regressed"


def _counts(counts: Counter[str]) -> str:
    parts = [f"{counts[v]} {v}" for v in VERDICTS if counts[v]]
    return ", ".join(parts) or "no cases"


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
