"""An entry's burst as one round (pure core): its pinned runs are reset together; a fanned-out
entry's decisions make one summary; once every new run has finished, the round is an
iteration to record (after its evals, for dataset cases).

The board tells a round which trackers it sent off, what each came back with, and when each
new run ended; the round says when the summary is due and when the evals are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from runner.reports import CaseDecided, CasesDecided


@dataclass(slots=True)
class Round:
    index: int  # the config entry
    label: str
    fanned: bool  # the entry's runs are summed up together (dataset cases, an id list)
    members: list[int] = field(default_factory=list)  # tracker serials, in board order
    files: dict[str, str | None] = field(default_factory=dict)  # what the resets built on
    decided: dict[int, CaseDecided] = field(default_factory=dict)
    waiting: dict[int, str] = field(default_factory=dict)  # serial -> new run not ended yet
    ended: dict[int, tuple[str, str | None, Any]] = field(
        default_factory=dict
    )  # run, status, output

    @property
    def all_decided(self) -> bool:
        return len(self.decided) == len(self.members)


class Rounds:
    """The rounds under way. A tracker is in at most one round while its reset is out (`_of`),
    and each new run it made is awaited by the round of the save that made it (`_runs`): a
    second save while the first one's runs still run is a round of its own."""

    def __init__(self) -> None:
        self._open: dict[int, Round] = {}  # entry index -> the round still collecting decisions
        self._of: dict[int, Round] = {}  # tracker serial -> the round its reset out belongs to
        self._runs: dict[tuple[int, str], Round] = {}  # (serial, new run) -> its round

    def join(
        self,
        index: int,
        label: str,
        serial: int,
        files: Mapping[str, str | None],
        *,
        fanned: bool,
    ) -> None:
        """A tracker of entry `index` was sent off to reset `files` (their content hashes):
        it is part of the open round, unless it came back in that round already (a later
        save: a round of its own)."""
        current = self._open.get(index)
        if current is None or current.all_decided or serial in current.decided:
            current = self._open[index] = Round(index=index, label=label, fanned=fanned)
        if serial not in current.members:
            current.members.append(serial)
        current.files.update(files)
        self._of[serial] = current

    def member(self, serial: int) -> bool:
        """The tracker's reset out belongs to a round (its result goes to the summary)."""
        return serial in self._of

    def decided(
        self, serial: int, case: CaseDecided, new_run: str | None
    ) -> tuple[CasesDecided | None, Round | None]:
        """A member came back: the summary once every member has; and the round, if that
        made its evals due (every new run had already ended)."""
        current = self._of.pop(serial, None)
        if current is None or serial in current.decided:
            return None, None
        current.decided[serial] = case
        if new_run is not None:
            current.waiting[serial] = new_run
            self._runs[(serial, new_run)] = current
        if not current.all_decided:
            return None, None
        if self._open.get(current.index) is current:
            del self._open[current.index]
        ordered = tuple(current.decided[s] for s in current.members)
        return CasesDecided(current.label, ordered), self._due(current)

    def ended(self, serial: int, run_id: str, status: str | None, output: Any) -> Round | None:
        """A member's new run ended (`status` None: its follow was cut off before the end).
        The round, once every new run of a fully decided round has ended with a status."""
        current = self._runs.pop((serial, run_id), None)
        if current is None or current.waiting.get(serial) != run_id:
            return None
        del current.waiting[serial]
        current.ended[serial] = (run_id, status, output)
        return self._due(current)

    @staticmethod
    def _due(current: Round) -> Round | None:
        if not current.all_decided or current.waiting or not current.ended:
            return None
        if any(status is None for _, status, _ in current.ended.values()):
            return None  # a run was replaced before it ended: the next round evaluates
        return current

    def forget(self, serials: set[int]) -> list[tuple[CasesDecided | None, Round | None]]:
        """Trackers dropped by a new config (or a dataset edit) leave their rounds, which no
        longer wait for them: for each round that this leaves fully decided, its summary
        (unless said already) and the round, if its evals are now due."""
        rounds = [self._of.pop(serial) for serial in serials if serial in self._of]
        for key in [k for k in self._runs if k[0] in serials]:
            rounds.append(self._runs.pop(key))
        left: dict[int, tuple[Round, bool]] = {}  # id -> the round, whether it was decided
        for current in rounds:
            left.setdefault(id(current), (current, current.all_decided))
        for current, _ in left.values():
            for serial in serials & set(current.members):
                current.members.remove(serial)
                current.decided.pop(serial, None)
                current.waiting.pop(serial, None)
                current.ended.pop(serial, None)
        done: list[tuple[CasesDecided | None, Round | None]] = []
        for current, was_decided in left.values():
            if not current.members or not current.all_decided:
                if not current.members and self._open.get(current.index) is current:
                    del self._open[current.index]
                continue
            if self._open.get(current.index) is current:
                del self._open[current.index]
            summary = None
            if not was_decided:
                ordered = tuple(current.decided[s] for s in current.members)
                summary = CasesDecided(current.label, ordered)
            done.append((summary, self._due(current)))
        return done
