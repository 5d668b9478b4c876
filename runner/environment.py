"""Environment variables as Output's own CLI sees them: `.env` files, then the real environment.

Output's CLI reads `.env` in the current folder before every command (docs/output-api.md
§1.1). We do the same, and also read the config file's folder when it differs; real variables
always win.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")


class Environment(dict[str, str]):
    """The variables, and the `.env` file each came from (none: the real environment)."""

    def __init__(self) -> None:
        super().__init__()
        self.files: dict[str, Path] = {}


def load_environment(*folders: Path, environ: Mapping[str, str] | None = None) -> Environment:
    """Merge `.env` files (earlier folders win over later) under the real environment."""
    merged = Environment()
    seen: set[Path] = set()
    for folder in folders:
        path = (folder / ".env").resolve()
        if path in seen:
            continue
        seen.add(path)
        for key, value in parse_dotenv(path).items():
            if key not in merged:
                merged[key] = value
                merged.files[key] = path
    real = os.environ if environ is None else environ
    merged.update(real)
    for key in real:
        merged.files.pop(key, None)
    return merged


def parse_dotenv(path: Path) -> dict[str, str]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {}
    values: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            continue
        key, raw = match.groups()
        if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
            value = raw[1:-1]
            if raw[0] == '"':
                value = value.replace("\\n", "\n").replace('\\"', '"')
        else:
            value = re.sub(r"\s+#.*$", "", raw)
        values[key] = value
    return values
