"""The commands about iterations (`.output-reset/iterations.jsonl`): `compare`, `restore` and
`save-datasets`; and the iteration lines of `log`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from runner.cli.common import ConfigOption, app, error, flag, load, plural, setup_logging, warn
from runner.config import CONFIG_NAME
from runner.errors import RunnerError, UsageError
from runner.pathnames import file_list, shown

if TYPE_CHECKING:
    from runner.config import Config, WorkflowConfig
    from runner.iterations import CaseResult, Iterations

# -- log ---------------------------------------------------------------------------------------


def timeline(iterations: list[dict[str, Any]], resets: list[dict[str, Any]]) -> list[Any]:
    """Iterations and the resets that belong to none, oldest first. A reset belongs to an
    iteration when it made one of the iteration's runs."""
    made = {
        case.get("newRunId")
        for record in iterations
        for case in record.get("cases") or []
        if isinstance(case, dict)
    }
    alone = [r for r in resets if not r.get("newRunId") or r.get("newRunId") not in made]
    # ISO times sort as text; "Z" and "+00:00" differ only after the milliseconds.
    return sorted([*iterations, *alone], key=lambda e: str(e.get("time", ""))[:23])


def iteration_line(record: dict[str, Any]) -> str:
    when = str(record.get("time", ""))[:19].replace("T", " ")
    cases = _dicts(record.get("cases"))
    unfinished = sum(1 for c in cases if c.get("status") != "completed")
    ran = plural(len(cases), "case") + (f" ({unfinished} did not complete)" if unfinished else "")
    verdicts = record.get("eval")
    line = verdicts.get("line") if isinstance(verdicts, dict) else None
    files = file_list([str(f.get("path")) for f in _dicts(record.get("files"))])
    return (
        f"{when}  #{record['n']}  {record.get('workflow')}  {ran}  {line or 'no eval'}  ({files})"
    )


def _dicts(items: Any) -> list[dict[str, Any]]:
    """The objects of a record's list (a hand-edited or damaged record may hold anything)."""
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []


# -- compare -----------------------------------------------------------------------------------


@app.command("compare")
def compare_iterations(
    first: Annotated[int, typer.Argument(metavar="A", help="An iteration number (see log).")],
    second: Annotated[int, typer.Argument(metavar="B", help="Another iteration number.")],
    config: ConfigOption = Path(CONFIG_NAME),
) -> None:
    """Show what changed from iteration A to B: the changed files' text, each case's output,
    and the verdicts per case and evaluator."""
    from runner.iterations import Iterations

    setup_logging(False)
    cfg = load(config)
    store = Iterations(cfg.state_dir)
    records = store.read()
    a, b = _iteration(records, first), _iteration(records, second)
    typer.echo(f"#{first} -> #{second}")
    for line in _file_diffs(store, records, first, second):
        typer.echo(line)
    for workflow in dict.fromkeys(str(r.get("workflow")) for r in (a, b)):
        for line in _output_diffs(store, records, workflow, first, second):
            typer.echo(line)
        for line in _verdict_changes(store, records, workflow, first, second):
            typer.echo(line)


def _iteration(records: list[dict[str, Any]], n: int) -> dict[str, Any]:
    for record in records:
        if record["n"] == n:
            return record
    if not records:
        raise UsageError(f"no iteration {n}: none is recorded yet")
    known = sorted(r["n"] for r in records)
    raise UsageError(f"no iteration {n} (the log has #{known[0]} to #{known[-1]})")


def _file_diffs(
    store: Iterations, records: list[dict[str, Any]], first: int, second: int
) -> list[str]:
    from runner.compare import diff_lines
    from runner.iterations import file_hashes_at

    before, after = file_hashes_at(records, first), file_hashes_at(records, second)
    lines: list[str] = []
    for path in sorted(set(before) | set(after)):
        old, new = before.get(path, ""), after.get(path, "")
        if old == new:
            continue
        texts = [_text_at(store, h, n) for h, n in ((old, first), (new, second))]
        unknown = next((t for t in texts if isinstance(t, _Unknown)), None)
        if unknown is not None:
            lines.append(f"  {shown(path)}: {unknown.why}")
            continue
        lines.append(f"  {shown(path)}" + ("" if new is not None else " (deleted)"))
        lines += [f"    {line}" for line in diff_lines(texts[0], texts[1])]
    return ["Files", *lines] if lines else ["Files: none differs"]


class _Unknown:
    """No text or output to diff, and why."""

    def __init__(self, why: str) -> None:
        self.why = why


def _text_at(store: Iterations, digest: str | None, n: int) -> str | _Unknown:
    if digest == "":
        return _Unknown(f"not recorded by #{n}")
    if digest is None:
        return ""  # deleted by then
    text = store.text(digest)
    return text if text is not None else _Unknown(f"its text at #{n} is not kept any more")


def _output_at(store: Iterations, result: CaseResult | None, n: int) -> Any:
    from runner.compare import MISSING

    if result is None:
        return _Unknown(f"no run by #{n}")
    digest = result.case.get("output")
    if digest is None:
        return _Unknown(f"no output at #{result.n} ({result.case.get('status')})")
    value = store.json_blob(digest)
    return value if value is not MISSING else _Unknown(f"its output at #{n} is not kept any more")


def _output_diffs(
    store: Iterations, records: list[dict[str, Any]], workflow: str, first: int, second: int
) -> list[str]:
    from runner.compare import diff_lines
    from runner.iterations import case_results_at

    before = case_results_at(records, first, workflow)
    after = case_results_at(records, second, workflow)
    lines = [f"Outputs of {workflow}"]
    for case in dict.fromkeys([*after, *before]):
        old, new = before.get(case), after.get(case)
        runs = " -> ".join(dict.fromkeys(str(r.case.get("newRunId")) for r in (old, new) if r))
        values = [_output_at(store, old, first), _output_at(store, new, second)]
        unknown = next((v for v in values if isinstance(v, _Unknown)), None)
        changes = () if unknown else diff_lines(values[0], values[1])
        if unknown is not None:
            lines.append(f"  {shown(case)}: {unknown.why}  (run {runs})")
        elif not changes:
            lines.append(f"  {shown(case)}: same output  (run {runs})")
        else:
            lines.append(f"  {shown(case)}  (run {runs})")
            lines += [f"    {line}" for line in changes]
    return lines


def _verdict_changes(
    store: Iterations, records: list[dict[str, Any]], workflow: str, first: int, second: int
) -> list[str]:
    from runner.evals import matrix, verdict_line
    from runner.iterations import latest_eval

    before = latest_eval(store, records, workflow, first)
    now = latest_eval(store, records, workflow, second)
    if not now or not before:
        return [f"Verdicts of {workflow}: no eval by #{second if not now else first}"]
    table = matrix(now, before)
    lines = [f"Verdicts of {workflow}: {verdict_line(table)}"]
    same = 0
    for row in table.rows:
        cells = [
            f"    {name}: {cell.before or 'none'} -> {cell.verdict or 'none'}"
            for name, cell in zip(table.evaluators, row.cells, strict=True)
            if cell.verdict != cell.before
        ]
        if row.change == "same" and not cells:
            same += 1
            continue
        was = f"{row.before} -> " if row.before is not None and row.change != "same" else ""
        lines.append(f"  {shown(row.case)}: {was}{row.verdict} ({row.change})")
        lines += cells
    if same:
        lines.append(f"  {plural(same, 'case')} the same")
    return lines


# -- restore -----------------------------------------------------------------------------------


@app.command()
def restore(
    number: Annotated[int, typer.Argument(metavar="N", help="The iteration (see log).")],
    config: ConfigOption = Path(CONFIG_NAME),
    yes: Annotated[bool, flag("--yes", "-y", help="Write without asking.")] = False,
) -> None:
    """Write the mapped files back to their text at iteration N (the newest text recorded at
    or before N), so that a running watch resets as for any edit. Only files the config maps,
    and only those that differ now."""
    from runner.atomic import check_writable, write_atomically
    from runner.iterations import Iterations, file_hashes_at

    setup_logging(False)
    cfg = load(config)
    store = Iterations(cfg.state_dir)
    records = store.read()
    _iteration(records, number)
    at = file_hashes_at(records, number)
    from runner.paths import Matcher

    newest, matcher = max(r["n"] for r in records), Matcher(cfg)
    later = [
        f for f in sorted(set(file_hashes_at(records, newest)) - set(at)) if matcher.rules_for(f)
    ]
    if later:  # first recorded after N: their text at N (before that change) is not kept
        warn(
            f"{file_list(later)}: first changed after #{number}, so its text at #{number} is "
            "not kept; left as it is"
        )
    wanted, lost = _restorable(cfg, store, at)
    if lost:  # all or none: half a restore is a state that never was
        raise RunnerError(f"nothing restored: the text of {file_list(lost)} at #{number} is lost")
    if not wanted:
        typer.echo(f"Nothing to restore: the files already have their text of #{number}.")
        return
    paths = list(wanted)
    for path in paths:  # a file that may not be written stops them all, before asking
        try:
            check_writable(cfg.root / path)
        except OSError as exc:
            raise RunnerError(
                f"cannot write {shown(path)}: {exc.strerror or exc}; nothing written"
            ) from None
    if not yes:
        if not sys.stdin.isatty():
            raise UsageError(f"restore writes {file_list(paths)}; pass --yes to confirm")
        if not typer.confirm(f"Restore {file_list(paths)} as at #{number}?"):
            typer.echo("Nothing written.")
            raise typer.Exit(1)
    for path, data in wanted.items():
        try:
            write_atomically(cfg.root / path, data)
        except OSError as exc:
            raise RunnerError(f"cannot write {shown(path)}: {exc.strerror or exc}") from None
        typer.echo(f"wrote {shown(path)}")


def _restorable(
    cfg: Config, store: Iterations, hashes: dict[str, str | None]
) -> tuple[dict[str, bytes], list[str]]:
    """The text to write for each recorded file that the config maps and whose content
    differs now, and the files that differ but whose text is not kept; a note for each file
    left as it is."""
    from runner.datasets import is_dataset_file
    from runner.paths import Matcher

    matcher = Matcher(cfg)
    wanted: dict[str, bytes] = {}
    lost: list[str] = []
    for path, kept in sorted(hashes.items()):
        if not matcher.rules_for(path):
            warn(f"{shown(path)}: no rule in {cfg.path.name} maps it now; left as it is")
        elif is_dataset_file(path):
            warn(f"{shown(path)}: a dataset file; only save-datasets writes those")
        elif kept is None:
            warn(f"{shown(path)}: it was deleted by then; left as it is")
        elif _current(cfg.root / path) != kept:
            data = store.blob(kept)
            if data is None:
                lost.append(path)
            else:
                wanted[path] = data
    return wanted, lost


def _current(path: Path) -> str | None:
    from runner.paths import digest

    try:
        return digest(path)
    except OSError:
        return None  # unreadable now: written back like a changed file


# -- save-datasets -----------------------------------------------------------------------------


@app.command("save-datasets")
def save_datasets(config: ConfigOption = Path(CONFIG_NAME)) -> None:
    """Write each dataset case's latest output (last_output) and its verdicts (last_eval) into
    its dataset file, as `output workflow test --save` would; every other line and comment
    stays as it was."""
    from runner.datasets import NotWritten, read_datasets, write_cases
    from runner.iterations import Iterations

    setup_logging(False)
    cfg = load(config)
    entries = [w for w in cfg.workflows if w.datasets is not None and w.type is not None]
    if not entries:
        raise UsageError(f"no workflow in {config} has datasets:")
    store = Iterations(cfg.state_dir)
    records = store.read()
    failed = False
    for entry in entries:
        assert entry.type is not None
        found = read_datasets(cfg.root, entry.type)
        for problem in found.problems:
            warn(problem)
        updates, sources = _dataset_updates(store, records, entry, found.cases)
        for path, cases in updates.items():
            rel = shown(_relative(path, cfg.root))
            try:
                written = write_cases(path, cases)
            except NotWritten as exc:
                error(f"{rel}: {exc}")
                failed = True
                continue
            if not written:
                typer.echo(f"{rel}: up to date")
                continue
            numbers = ", ".join(f"#{n}" for n in sorted(sources[path]))
            typer.echo(f"{rel}: {', '.join(cases)} (from {numbers})")
    if failed:
        raise typer.Exit(1)


def _dataset_updates(
    store: Iterations,
    records: list[dict[str, Any]],
    entry: WorkflowConfig,
    cases: Any,
) -> tuple[dict[Path, dict[str, dict[str, Any]]], dict[Path, set[int]]]:
    """Per dataset file, the keys to set in each case; and which iterations they come from."""
    from runner.iterations import case_results_at, workflow_name

    name = workflow_name(entry)
    newest = max((r["n"] for r in records), default=0)
    results = case_results_at(records, newest, name, with_output=True)
    wanted = None if entry.datasets == "all" else set(entry.datasets or ())
    updates: dict[Path, dict[str, dict[str, Any]]] = {}
    sources: dict[Path, set[int]] = {}
    for case in cases:
        result = results.get(case.name)
        if result is None:
            if wanted is None or case.name in wanted:
                warn(f"{name}/{shown(case.name)}: no output recorded yet; not written")
            continue
        update = _case_update(store, name, case.name, result)
        if update:
            updates.setdefault(case.source, {})[case.name] = update
            sources.setdefault(case.source, set()).add(result.n)
    return updates, sources


def _case_update(store: Iterations, workflow: str, case: str, result: CaseResult) -> dict[str, Any]:
    from runner.compare import MISSING
    from runner.datasets import last_eval, last_output

    where = f"{workflow}/{shown(case)}"
    output = store.json_blob(result.case.get("output"))
    if output is MISSING:
        warn(f"{where}: the output of #{result.n} is not kept any more; not written")
        return {}
    ms = result.case.get("executionTimeMs")
    update = {"last_output": last_output(output, result.time, ms if isinstance(ms, int) else None)}
    evaluated = store.json_blob(result.eval_output)
    found = [
        c
        for c in (evaluated.get("cases") or [] if isinstance(evaluated, dict) else [])
        if isinstance(c, dict) and c.get("datasetName") == case
    ]
    if found:
        update["last_eval"] = last_eval(found[0], result.time)
    else:
        warn(f"{where}: #{result.n} has no eval of it; last_eval left as it was")
    return update


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)
