"""The files a scan reads, each parsed once, and the warnings about them (`output-reset init`)."""

from __future__ import annotations

from pathlib import Path

from runner.init.source import Source


class Reader:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._warnings: list[tuple[str, int, str]] = []  # (file, line, text), sorted at the end
        self._sources: dict[Path, Source | None] = {}

    def warn(self, path: Path, line: int | None, message: str) -> None:
        shown = self.show(path)
        where = shown + (f":{line}" if line else "")
        entry = (shown, line or 0, f"{where}: {message}")
        if entry not in self._warnings:
            self._warnings.append(entry)

    @property
    def warnings(self) -> tuple[str, ...]:
        """One line each, `path:line: what could not be followed`, by file and line."""
        return tuple(text for _, _, text in sorted(self._warnings))

    def show(self, path: Path) -> str:
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return str(path)

    def source(self, path: Path) -> Source | None:
        """The parsed file; None (with a warning) when it cannot be read."""
        if path not in self._sources:
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
                self.warn(path, None, f"cannot read ({reason}); skipped")
                self._sources[path] = None
            else:
                src = Source.parse(path, text)
                for line, problem in src.problems:
                    self.warn(path, line, problem)
                self._sources[path] = src
        return self._sources[path]
