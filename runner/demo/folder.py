"""The demo's folder: made by the demo and marked as its own, used by one demo at a time, and
filled with copies of the example's prompts and dataset, and a config that maps the prompts.

The demo writes only into a folder it created itself, which holds the marker file `MARKER`:
anything else is refused before anything in it is touched. The marker is also the lock a
running demo holds (with its pid inside), so a second demo cannot delete the first one's
Temporal database.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from runner.errors import UsageError
from runner.pathnames import shown
from runner.pidlock import PidLock

MARKER = ".output-reset-demo"
WORKER = "runner.demo.worker"  # the example worker's package: its prompts are package data
ELSEWHERE = "name a new folder with --dir"
# Where Output keeps a workflow's dataset files (docs/output-api.md §8.1), here and in the worker.
DATASETS = Path("src/workflows/blog_digest/tests/datasets")
DATASET = "digests.yml"

CONFIG = """\
# Written by `output-reset demo`: the example {workflow_type} workflow on the demo's own
# Temporal dev server: one pinned run per case of its dataset,
# {dataset}.
# Each prompt re-runs the step that reads it, and the steps after it, in every case's run;
# then the eval workflow {workflow_type}_eval judges the cases again.
engine:
  kind: temporal
  address: {address}
debounce_ms: 200
workflows:
  - type: {workflow_type}
    datasets: all
    rules:
{rules}"""


def claim_folder(folder: Path) -> Callable[[], None]:
    """Create `folder` with the marker in it, or check that it has the marker; then hold the
    marker's lock until the returned function is called. Anything else is a UsageError, with
    nothing touched."""
    lock = PidLock(_open_marker(folder, created=_create(folder)))
    if not lock.acquire():
        holder = lock.holder() or "unknown"
        os.close(lock.fd)
        raise UsageError(
            f"another output-reset demo (pid {holder}) is running in {shown(str(folder))}; "
            f"stop it first, or {ELSEWHERE}"
        )
    return lock.release


def _create(folder: Path) -> bool:
    """True when this call made the folder, False when the demo made it before."""
    try:
        folder.mkdir(parents=True)
    except FileExistsError:
        if not folder.is_dir():
            raise UsageError(
                f"--dir {shown(str(folder))} is a file, not a folder; {ELSEWHERE}"
            ) from None
        if not (folder / MARKER).is_file():
            raise UsageError(
                f"{shown(str(folder))} was not made by the demo (it has no {MARKER} file), "
                f"so the demo will not write into it; {ELSEWHERE}"
            ) from None
        return False
    except NotADirectoryError:
        file = next(p for p in reversed(folder.parents) if p.exists() and not p.is_dir())
        raise UsageError(
            f"--dir {shown(str(folder))}: {shown(str(file))} is a file, not a folder; {ELSEWHERE}"
        ) from None
    except OSError as exc:
        raise UsageError(
            f"cannot create {shown(str(folder))} ({exc.strerror}); {ELSEWHERE}"
        ) from None
    return True


def _open_marker(folder: Path, *, created: bool) -> int:
    path = folder / MARKER
    try:
        # Not inherited by the server and the worker (O_CLOEXEC): the lock ends with the demo.
        return os.open(path, os.O_RDWR | (os.O_CREAT | os.O_EXCL if created else 0), 0o644)
    except OSError as exc:
        raise UsageError(f"cannot open {shown(str(path))} ({exc.strerror}); {ELSEWHERE}") from None


def prepare_folder(folder: Path, steps: tuple[str, ...]) -> Path:
    """Copy in the prompt each step reads and the dataset (an edited copy is kept), and forget
    the previous demo's pins: every demo starts a new, empty server."""
    prompts = folder / "prompts"
    prompts.mkdir(exist_ok=True)
    shipped = resources.files(WORKER)
    for step in steps:
        copy = prompts / f"{step}.prompt"
        if not copy.exists():
            copy.write_bytes((shipped / "prompts" / f"{step}.prompt").read_bytes())
    dataset = folder / DATASETS / DATASET
    if not dataset.exists():
        dataset.parent.mkdir(parents=True, exist_ok=True)
        dataset.write_bytes(shipped.joinpath(*DATASETS.parts, DATASET).read_bytes())
    shutil.rmtree(folder / ".output-reset", ignore_errors=True)
    shutil.rmtree(folder / ".temporal", ignore_errors=True)
    return prompts


def write_config(folder: Path, *, address: str, workflow_type: str, steps: tuple[str, ...]) -> Path:
    """`workflow_type` with `datasets: all`, and one rule per step: `prompts/<step>.prompt`
    re-runs `<step>`."""
    rules = "".join(
        f"      - files: prompts/{step}.prompt\n        rerun: {step}\n" for step in steps
    )
    path = folder / "output-reset.yaml"
    path.write_text(
        CONFIG.format(
            workflow_type=workflow_type,
            address=address,
            dataset=DATASETS / DATASET,
            rules=rules,
        )
    )
    return path
