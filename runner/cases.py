"""The pinned runs a config stands for: its entries, with each `datasets:` entry made into one
slot per dataset case (read from the workflow's tests/datasets, and read again when a dataset
file changes while watching).
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from pathlib import Path

from runner.actions import Slot, slots_of
from runner.config import Config, WorkflowConfig
from runner.datasets import read_datasets
from runner.errors import ConfigError


class Cases:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.folders: dict[int, Path] = {}  # entry index -> its tests/datasets folder
        self._cases: dict[int, list[tuple[str, str]]] = {}

    def read(self) -> list[str]:
        """Read every `datasets:` entry's cases; returns the warnings (a dataset file that
        cannot be used, an entry with no case). A case the config names that does not exist
        is a ConfigError (exit 2), with a did-you-mean."""
        warnings: list[str] = []
        cases: dict[int, list[tuple[str, str]]] = {}
        # A new dict, swapped in whole: the watcher's thread reads it (`in_datasets`).
        folders = dict(self.folders)  # a folder that went away is still watched for
        for index, entry in enumerate(self.config.workflows):
            if entry.datasets is None or entry.type is None:
                continue
            found = read_datasets(self.config.root, entry.type)
            warnings += [f"{entry.type}: {p}" for p in found.problems]
            if found.folder is not None:
                folders[index] = found.folder
            named = {c.name: c for c in found.cases}
            chosen = list(named) if entry.datasets == "all" else list(entry.datasets)
            self._check(index, entry, chosen, sorted(named), found.problems)
            cases[index] = [(name, named[name].input_json) for name in chosen]
            if not chosen:
                warnings.append(f"{entry.type}: no dataset case found, so nothing is pinned")
        self._cases, self.folders = cases, folders
        return warnings

    def slots(self) -> list[Slot]:
        return slots_of(self.config.workflows, self._cases)

    def count(self) -> int:
        return sum(len(c) for c in self._cases.values())

    def in_datasets(self, path: Path) -> bool:
        """A dataset file of one of the watched entries."""
        return path.suffix in (".yml", ".yaml") and path.parent in self.folders.values()

    def _check(
        self,
        index: int,
        entry: WorkflowConfig,
        chosen: Sequence[str],
        known: list[str],
        problems: Sequence[str],
    ) -> None:
        for name in chosen:
            if name in known:
                continue
            close = difflib.get_close_matches(name, known, n=1)
            if close:
                hint = f'; did you mean "{close[0]}"?'
            elif known:
                hint = f" (it has: {', '.join(known)})"
            else:
                hint = f" ({problems[0]})" if problems else " (they hold no case)"
            line, col = entry.datasets_at
            raise ConfigError(
                f"{self.config.shown}:{line}:{col}: workflows[{index}].datasets: no case "
                f"{name!r} in the "
                f"datasets of {entry.type}{hint}"
            )
