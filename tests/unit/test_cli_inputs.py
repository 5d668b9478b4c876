"""Bad input never gives a traceback: config fuzzing through the real CLI entry point."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.cli_process import run_main
from tests.unit.test_schema import documents

LOCATED = re.compile(r"^error: output-reset\.yaml(:\d+:\d+)?: \S")


def check(text: str, folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (folder / "output-reset.yaml").write_text(text, encoding="utf-8")
    code, _, err = run_main(
        ["validate", "--offline", "-c", str(folder / "output-reset.yaml")], capsys
    )
    assert "Traceback" not in err
    assert code in (0, 2), err
    if code == 2:
        lines = err.splitlines()
        assert len(lines) == 1, err
        assert LOCATED.match(lines[0].replace(str(folder) + "/", "")), err
        assert re.match(r"^error: \S*output-reset\.yaml:\d+:\d+: ", lines[0]), err


FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@FUZZ
@given(document=documents())
def test_generated_documents(
    document: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    check(yaml.safe_dump(document), tmp_path, capsys)


yaml_ish = st.lists(
    st.sampled_from([*"abc:-[]{}'\"\n\t #&*!|>%@`,?", "workflows", "id", "rules", "  "]),
    max_size=30,
).map("".join)


@FUZZ
@given(text=st.one_of(yaml_ish, st.text(max_size=40)))
def test_arbitrary_text(text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    check(text, tmp_path, capsys)


def test_python_tags_are_never_executed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    marker = tmp_path / "pwned"
    text = f'workflows: !!python/object/apply:os.system ["touch {marker}"]\n'
    (tmp_path / "output-reset.yaml").write_text(text)
    code, _, err = run_main(
        ["validate", "--offline", "-c", str(tmp_path / "output-reset.yaml")], capsys
    )
    assert code == 2
    assert (
        "expected a list, got a value tagged tag:yaml.org,2002:python/object/apply:os.system" in err
    )
    assert not marker.exists()


def test_binary_garbage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "output-reset.yaml").write_bytes(b"\x00\xff\xfe garbage")
    code, _, err = run_main(
        ["validate", "--offline", "-c", str(tmp_path / "output-reset.yaml")], capsys
    )
    assert code == 2
    assert err.startswith("error: ")
    assert "Traceback" not in err


def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_main(["reset", "-c", str(tmp_path / "x.yaml")], capsys)
    assert (code, err) == (
        2,
        "error: give either --step NAME or --file PATH (neither was given)\n",
    )
    both = ["reset", "--step", "a", "--file", "x", "-c", str(tmp_path / "x.yaml")]
    code, _, err = run_main(both, capsys)
    assert (code, err) == (2, "error: give either --step NAME or --file PATH (not both)\n")
    code, _, err = run_main(["log", "-n", "-5"], capsys)
    assert code == 2
    assert "Invalid value for '--limit' / '-n': Input should be greater than or equal to 0" in err
    code, _, _ = run_main(["watch", "--no-such-flag"], capsys)
    assert code == 2


def test_a_token_over_plain_http_to_another_host_is_warned_about(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from runner.cli.common import make_engine
    from runner.config import load_config

    config = tmp_path / "output-reset.yaml"
    config.write_text(
        "api: {url: 'http://api.example.com:3001'}\n"
        "workflows: [{id: a, rules: [{files: x, rerun: s}]}]\n"
    )
    monkeypatch.setenv("OUTPUT_API_AUTH_TOKEN", "s3cret")
    monkeypatch.delenv("OUTPUT_API_URL", raising=False)
    make_engine(load_config(config)).close()
    err = capsys.readouterr().err
    assert err == (
        "warning: OUTPUT_API_AUTH_TOKEN will be sent over plain http to "
        "http://api.example.com:3001; use https for a remote API\n"
    )
    assert "s3cret" not in err


def test_the_temporal_engine_without_its_sdk_says_how_to_install_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # As if `pip install output-reset` had been run without the [temporal] extra.
    for name in [n for n in sys.modules if n == "temporalio" or n.startswith("temporalio.")]:
        monkeypatch.setitem(sys.modules, name, None)  # also when other tests imported it
    monkeypatch.setitem(sys.modules, "temporalio", None)
    for name in [n for n in sys.modules if n.split(".")[:2] == ["runner", "temporal"]]:
        monkeypatch.delitem(sys.modules, name)  # so that the import is tried again
    config = tmp_path / "output-reset.yaml"
    config.write_text(
        "engine: {kind: temporal}\nworkflows: [{id: a, rules: [{files: x, rerun: s}]}]\n"
    )
    code, _, err = run_main(["status", "-c", str(config)], capsys)
    assert (code, err) == (
        2,
        "error: engine.kind: temporal needs the Temporal SDK: "
        "pip install 'output-reset[temporal]'\n",
    )
