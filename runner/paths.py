"""Which files matter: rule patterns, ignores, and the folders worth watching.

Patterns use gitignore semantics (`**`, anchoring on `/`, `!` negation) through `pathspec`,
the one place that imports it. Paths handled here are POSIX strings relative to the config
file's folder. Hashing lives here too: "did this file really change" is a question about files.
"""

from __future__ import annotations

import errno
import hashlib
import io
import logging
import os
import re
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pathspec

from runner.config import Config, RuleRef
from runner.config.syntax import pattern_problem
from runner.errors import one_line
from runner.pathnames import shown

log = logging.getLogger(__name__)

# Folders that are never worth watching, and the temp files editors write beside a real save.
BUILTIN_IGNORES = (
    ".git/",
    ".hg/",
    ".svn/",
    "node_modules/",
    "dist/",
    "logs/",
    ".output-reset/",
    "__pycache__/",
    ".venv/",
    "*.swp",
    "*.swo",
    "*.swx",
    "*.swpx",
    "*~",
    ".#*",
    "#*#",
    "4913",
    "*.tmp",
    "*.kate-swp",
    "*___jb_tmp___",
    "*___jb_old___",
    ".DS_Store",
)
# What Output's worker reloads on: nodemon --watch src --ext ts,js,json,prompt,md
# (docs/output-api.md §6.1).
RELOAD_EXTENSIONS = frozenset({".ts", ".js", ".json", ".prompt", ".md"})
_GLOB = re.compile(r"[*?\[]")

Digest = str | None  # None: the file does not exist (or is not a regular file)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_SPECIAL = (
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


@dataclass(frozen=True, slots=True)
class WatchRoot:
    """A folder to watch: `tree` watches it and every non-ignored folder below; else flat."""

    path: Path
    tree: bool


class Matcher:
    def __init__(self, config: Config) -> None:
        self.root = config.root
        gitignore = _usable_lines(self.root / ".gitignore")
        self._ignore = pathspec.GitIgnoreSpec.from_lines(
            [*BUILTIN_IGNORES, *gitignore, *config.ignore]
        )
        self._rules: list[tuple[RuleRef, pathspec.GitIgnoreSpec]] = []
        self._patterns: list[str] = []
        for w, workflow in enumerate(config.workflows):
            for r, rule in enumerate(workflow.rules):
                spec = pathspec.GitIgnoreSpec.from_lines(rule.files)
                self._rules.append((RuleRef(w, r), spec))
                self._patterns.extend(p for p in rule.files if not p.startswith("!"))
        # Cached for file events (a storm repeats paths); start-up walks use the uncached one,
        # or a 50,000-file tree would fill the cache for nothing.
        self.rules_for = lru_cache(maxsize=16384)(self._rules_for)
        self._prefix = os.fspath(self.root).rstrip(os.sep) + os.sep

    def relative(self, path: str | Path) -> str | None:
        """The POSIX path relative to the root, or None when it lies outside.

        String work, not PurePath: it runs for every file event of a storm."""
        text = os.fspath(path)
        if not text.startswith(self._prefix):
            return None
        rel = text[len(self._prefix) :]
        if os.sep != "/":
            rel = rel.replace(os.sep, "/")
        return rel or None

    def ignored(self, rel: str) -> bool:
        return self._ignore.match_file(rel)

    def _rules_for(self, rel: str) -> tuple[RuleRef, ...]:
        if self._ignore.match_file(rel):
            return ()
        return tuple(ref for ref, spec in self._rules if spec.match_file(rel))

    def watch_roots(self) -> list[WatchRoot]:
        """The folders to watch so that every mapped file (existing or future) is seen.

        Only the folders rule patterns can reach are watched (plus the root, flat, for the
        config file), so a big tree beside them costs nothing.
        """
        bases = {_existing(self.root / _static_prefix(p), self.root) for p in self._patterns}
        trees: list[Path] = []
        for base in sorted(bases, key=lambda p: len(p.parts)):
            if not any(base.is_relative_to(t) for t in trees):
                trees.append(base)
        roots = [WatchRoot(t, tree=True) for t in trees]
        if self.root not in trees:
            roots.insert(0, WatchRoot(self.root, tree=False))
        return roots

    def mapped_files(self) -> list[str]:
        """Every existing file that some rule maps, as relative paths."""
        found: set[str] = set()
        for root in self.watch_roots():
            names = self.walk(root.path) if root.tree else self._flat(root.path)
            found.update(rel for rel in names if self._rules_for(rel))
        return sorted(found)

    def _flat(self, folder: Path) -> Iterator[str]:
        with os.scandir(folder) as entries:
            for entry in entries:
                if _is_file(entry):
                    rel = self.relative(entry.path)
                    if rel is not None:
                        yield rel

    def walk(self, top: Path) -> Iterator[str]:
        """Files under `top`, pruning ignored folders, as relative paths."""
        for folder, dirs, files in os.walk(top):
            base = self.relative(folder)
            prefix = f"{base}/" if base else ""
            dirs[:] = [d for d in dirs if not self._ignore.match_file(f"{prefix}{d}/")]
            for name in files:
                yield f"{prefix}{name}"

    def reloads(self, rel: str) -> bool:
        return reloads_worker(rel)

    def skip_dir(self, path: str) -> bool:
        rel = self.relative(path)
        return rel is not None and self._ignore.match_file(rel + "/")


class Contents:
    """The last seen content hash of each mapped file: what "really changed" is measured by."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._seen: dict[str, str] = {}
        self._odd: set[str] = set()  # warned about: there, but not a regular file

    def __len__(self) -> int:
        return len(self._seen)

    def __contains__(self, rel: object) -> bool:
        return rel in self._seen

    def known(self) -> set[str]:
        return set(self._seen)

    def index(self, rels: Iterable[str]) -> list[str]:
        """Hash these files, keeping the hash already known for a file seen before (so a
        change made meanwhile is still found by the next `rehash`); returns warnings."""
        fresh: dict[str, str] = {}
        warnings: list[str] = []
        for rel in rels:
            if rel in self._seen:
                fresh[rel] = self._seen[rel]
                continue
            try:
                now = self._read(rel, warnings)
            except PermissionError:
                warnings.append(f"cannot read {shown(rel)} (permission denied)")
                continue
            if now is not None:
                fresh[rel] = now
        self._seen = fresh
        return warnings

    def rehash(self, candidates: Iterable[str]) -> tuple[dict[str, Digest], list[str]]:
        """The files whose content differs from the last seen (a deletion is a change), with
        their new hashes; and warnings for files that could not be read."""
        changed: dict[str, Digest] = {}
        warnings: list[str] = []
        for rel in sorted(candidates):
            try:
                now = self._read(rel, warnings)
            except PermissionError:
                warnings.append(
                    f"cannot read {shown(rel)} (permission denied); keeping its last known content"
                )
                continue
            if now == self._seen.get(rel):
                continue
            changed[rel] = now
            if now is None:
                del self._seen[rel]
            else:
                self._seen[rel] = now
        return changed, warnings

    def _read(self, rel: str, warnings: list[str]) -> Digest:
        """The file's hash. A FIFO, socket or device counts as no file, with one warning (until
        it is a regular file again, or gone)."""
        now = digest(self.root / rel)
        kind = None if now is not None else _special(self.root / rel)
        if kind is None:
            self._odd.discard(rel)
        elif rel not in self._odd:
            self._odd.add(rel)
            warnings.append(f"{shown(rel)} is {kind}, not a regular file; it is ignored")
        return now

    def hashes(self, keep: Callable[[str], bool]) -> dict[str, str | None]:
        return {rel: h for rel, h in self._seen.items() if keep(rel)}


def digest(path: Path) -> Digest:
    """The content hash of a regular file, or None when there is none to read."""
    handle = _open_regular(path)
    if handle is None:
        return None
    with handle:
        return hashlib.file_digest(handle, "blake2b").hexdigest()[:32]


def content(path: Path) -> bytes | None:
    """The bytes of a regular file (what `digest` hashes), or None when there is none."""
    handle = _open_regular(path)
    if handle is None:
        return None
    with handle:
        return handle.read()


def _open_regular(path: Path) -> io.BufferedReader[io.FileIO] | None:
    """The file opened for reading when it is a regular file, else None.

    Nothing else is opened: opening a FIFO blocks until a writer comes (the daemon froze,
    deaf to Ctrl-C), and opening a device may do anything."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return None
        # Should a FIFO take the file's place between the two calls, this does not block.
        fd = os.open(path, os.O_RDONLY | _NONBLOCK)
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            return None  # a socket took its place
        # Unreadable (PermissionError) is not "deleted": keep the last known content and
        # say so upstream.
        raise
    handle = io.BufferedReader(io.FileIO(fd, "rb"))
    if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
        handle.close()
        return None
    return handle


def _special(path: Path) -> str | None:
    """What is there when it is neither a regular file nor a folder ("a FIFO"), else None."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    return next((name for test, name in _SPECIAL if test(mode)), None)


def reloads_worker(rel: str) -> bool:
    """True when Output's dev worker restarts after a change to this file (docs/output-api.md
    §6.1)."""
    parts = rel.split("/")
    if "src" not in parts[:-1] or "dist" in parts:
        return False
    name = parts[-1]
    if ".spec." in name or ".test." in name:
        return False
    return os.path.splitext(name)[1] in RELOAD_EXTENSIONS


def _static_prefix(pattern: str) -> str:
    """The folder part of a pattern before any glob, or "" when it may match anywhere."""
    body = pattern.rstrip("/")
    if "/" not in body:
        return ""  # gitignore: a pattern without a slash matches at any depth
    parts = body.lstrip("/").split("/")
    static: list[str] = []
    for part in parts[:-1]:
        if _GLOB.search(part):
            break
        static.append(part)
    return "/".join(static)


def _existing(path: Path, root: Path) -> Path:
    while path != root and not path.is_dir():
        path = path.parent
    return path


def _usable_lines(gitignore: Path) -> list[str]:
    """The lines of a `.gitignore` that pathspec can compile, in their order. Git accepts
    some that pathspec refuses (`[z-a]`, a lone `!`, a trailing `\\`): each is skipped with a
    warning, and the others mean what they meant (a later `!` still re-includes)."""
    usable: list[str] = []
    for number, line in enumerate(_read_lines(gitignore), start=1):
        if pattern_problem(line) is None and _compiles(line):
            usable.append(line)
        else:
            log.warning(
                "%s:%d: cannot use this pattern (%s); it is ignored",
                gitignore.name,
                number,
                one_line(line.strip()),
            )
    return usable


def _compiles(line: str) -> bool:
    try:
        pathspec.GitIgnoreSpec.from_lines([line])
    except (ValueError, re.error):
        return False
    return True


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []


def _is_file(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_file()
    except OSError:  # a link that loops (ELOOP), or points where we may not look (EACCES)
        return False
