"""`output-reset init` through the CLI entry point: exit codes and what it prints."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_process import run_main


def test_init_over_an_existing_file_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "output-reset.yaml").write_text("version: 1\n", encoding="utf-8")
    code, out, err = run_main(["init", str(tmp_path)], capsys)
    assert (code, out) == (2, "")
    assert err == (
        f"error: {tmp_path}/output-reset.yaml already exists; pass --force to overwrite it\n"
    )
    assert (tmp_path / "output-reset.yaml").read_text(encoding="utf-8") == "version: 1\n"


def test_init_outside_a_project_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_main(["init", str(tmp_path)], capsys)
    assert code == 2
    assert err.startswith("error: no src/workflows/**/workflow.ts found under ")
