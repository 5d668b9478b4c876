"""What `watch` watches: the config's mapped files and the dataset folders of its `datasets:`
entries, the content of each (to tell a real change from a save of the same bytes), and the
OS watcher over their folders. The daemon's loop owns one; a new config replaces it whole.

Everything here runs on the daemon's loop thread, except `wanted`, which the watcher's thread
calls for every event (a cheap filter before anything is queued).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from runner.actions import Slot
from runner.cases import Cases
from runner.config import Config, load_config
from runner.errors import RunnerError
from runner.paths import Contents, Matcher, WatchRoot
from runner.watch import Watcher

OnEvent = Callable[[str, bool], None]


class Watched:
    def __init__(self, config: Config, contents: Contents) -> None:
        self.config = config
        self.matcher = Matcher(config)
        self.cases = Cases(config)
        self.contents = contents
        self.watcher: Watcher | None = None
        self.warnings = self.cases.read()  # a case the config names must exist (ConfigError)

    def slots(self) -> list[Slot]:
        return self.cases.slots()

    def index(self) -> list[str]:
        """Hash every mapped file as it is now; the warnings to say (and the case warnings)."""
        warnings, self.warnings = self.warnings, []
        return warnings + self.contents.index(self.matcher.mapped_files())

    def start(self, on_event: OnEvent, on_overflow: Callable[[], None], *, poll: bool) -> None:
        if self.watcher is not None:
            self.watcher.stop()
        self.watcher = Watcher(
            self.roots(),
            on_event,
            skip_dir=self.matcher.skip_dir,
            on_overflow=on_overflow,
            poll=poll,
        )
        self.watcher.start()

    def stop(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()

    def roots(self) -> list[WatchRoot]:
        """The mapped files' folders, and the dataset folders (their cases are pinned); a
        dataset folder that is gone is watched for through its nearest folder still there, so
        that its return is a folder event (then the watches are refreshed, the cases read)."""
        root = self.config.root
        datasets = [
            WatchRoot(_nearest_folder(f, root), tree=False) for f in self.cases.folders.values()
        ]
        return self.matcher.watch_roots() + datasets

    def refresh(self) -> str | None:
        """Watch every root again (folders moved or recreated); an error to say, if any."""
        if self.watcher is None:
            return None
        try:
            self.watcher.refresh(self.roots())
        except RunnerError as exc:
            return str(exc)
        return None

    def wanted(self, path: str, is_dir: bool) -> bool:
        """An event worth queueing: a folder, the config, a mapped or known file, a dataset."""
        rel = self.matcher.relative(path)
        if rel is None or (is_dir and self.matcher.skip_dir(path)):
            return False  # e.g. node_modules or .output-reset appearing: nothing of ours there
        return (
            is_dir
            or rel == self.config.path.name
            or bool(self.matcher.rules_for(rel))
            or rel in self.contents
            or self.cases.in_datasets(Path(path))
        )

    def candidates(self, rels: set[str], *, everything: bool) -> set[str]:
        """The files to re-hash after a burst: those it touched, or every mapped and known one
        when events may have been lost."""
        if everything:
            return set(self.matcher.mapped_files()) | self.contents.known()
        return {r for r in rels if self.matcher.rules_for(r) or r in self.contents}

    def reread_cases(self) -> tuple[list[str], bool]:
        """A dataset file changed: read the cases again. The warnings, and whether the pinned
        runs they stand for changed. ConfigError (a case the config names is gone): the
        previous cases stay."""
        before = self.cases.slots()
        warnings = self.cases.read()
        return warnings, self.cases.slots() != before

    def reload(self) -> Watched | None:
        """The edited config, read with its cases: a new Watched over the same contents, or
        None when nothing changed. ConfigError when it cannot be used."""
        fresh = load_config(self.config.path, shown_as=self.config.path.name)
        if fresh == self.config:
            return None
        return Watched(fresh, self.contents)


def _nearest_folder(folder: Path, root: Path) -> Path:
    """`folder`, or its nearest parent that exists (at most `root`)."""
    while not folder.is_dir() and folder != root and folder.is_relative_to(root):
        folder = folder.parent
    return folder
