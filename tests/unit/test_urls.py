"""The API's URL, read where it is written: the config (a located error), the environment and
`.env` (one line naming the variable). What passes the check is a URL httpx can use."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from runner.config import ApiConfig, parse_config
from runner.config.syntax import url_problem
from runner.errors import ConfigError, UsageError
from runner.output_api import OutputApi, resolve_settings
from tests.cli_process import run_main

RULES = "workflows: [{id: wf-1, rules: [{files: x, rerun: s}]}]\n"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ('"http://[::1"', "2:8: api.url: not a URL (the [ of the IPv6 address is not closed)"),
        ('"http://h:3001\\nx"', "2:8: api.url: not a URL (it contains a line break)"),
        ('"http://127.0.0.1: "', "2:8: api.url: not a URL (the port is not a number)"),
        ("http://h:70000", "2:8: api.url: not a URL (the port is not between 1 and 65535)"),
        ("http://999.0.0.1", "2:8: api.url: not a URL (the IPv4 address is not valid)"),
        ("'http://h/a b'", "2:8: api.url: not a URL (it contains a space)"),
        ("'http://h/api?x=1'", "2:8: api.url: not a URL (a base URL has no ?query or #fragment)"),
        (
            "localhost:3001",
            "2:8: api.url: expected an http:// or https:// URL such as http://localhost:3001",
        ),
    ],
)
def test_a_config_url_httpx_cannot_use_is_a_located_error(url: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(
            f"api:\n  url: {url}\n{RULES}", path=Path("/p/output-reset.yaml"), shown_as="c.yaml"
        )
    assert str(caught.value) == f"c.yaml:{message}"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("OUTPUT_API_URL", "OUTPUT_API_HOST_PORT", "OUTPUT_API_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "output-reset.yaml").write_text(RULES)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "OUTPUT_API_URL",
            "http://127.0.0.1: ",
            'OUTPUT_API_URL="http://127.0.0.1: " is not a URL (the port is not a number)',
        ),
        (
            "OUTPUT_API_URL",
            "http://admin:hunter2@[::1",
            'OUTPUT_API_URL="http://admin:***@[::1" is not a URL (the [ of the IPv6 address is '
            "not closed)",
        ),
        (
            "OUTPUT_API_URL",
            "http://h:3001\x1b[2J",
            'OUTPUT_API_URL="http://h:3001\\x1b[2J" is not a URL (it contains a control character)',
        ),
        (
            "OUTPUT_API_HOST_PORT",
            "abc",
            'OUTPUT_API_HOST_PORT="abc" is not a port number (such as 3001)',
        ),
        (
            "OUTPUT_API_HOST_PORT",
            "0",
            'OUTPUT_API_HOST_PORT="0" is not a port number (such as 3001)',
        ),
        (
            "OUTPUT_API_AUTH_TOKEN",
            "s3cret\u00e9",
            "OUTPUT_API_AUTH_TOKEN cannot be sent in an HTTP header (it has a control or "
            "non-ASCII character)",
        ),
    ],
)
def test_a_bad_variable_is_one_line_naming_it(
    name: str,
    value: str,
    message: str,
    project: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(name, value)
    code, out, err = run_main(["status"], capsys)
    assert (code, out, err) == (2, "", f"error: {message}\n")


def test_a_bad_value_in_dotenv_names_the_file(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / ".env").write_text('OUTPUT_API_URL="http://localhost:3001\\nx"\n')
    code, out, err = run_main(["status"], capsys)
    assert (code, out, err) == (
        2,
        "",
        f'error: OUTPUT_API_URL="http://localhost:3001\\nx" (from {project / ".env"}) is not a '
        "URL (it contains a line break)\n",
    )


def test_invalid_utf8_in_dotenv_is_a_clear_error(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / ".env").write_bytes(b"OUTPUT_API_AUTH_TOKEN=s3cr\xffet\n")
    code, out, err = run_main(["status"], capsys)
    assert (code, out, err) == (
        2,
        "",
        f"error: OUTPUT_API_AUTH_TOKEN (from {project / '.env'}) cannot be sent in an HTTP "
        "header (it has a control or non-ASCII character)\n",
    )


# -- what passes the check works with httpx ----------------------------------------------------


def pieces(*choices: str) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(choices), max_size=3).map("".join)


# scheme://userinfo@host:port/path, each part good or broken in its own way.
URLS = st.tuples(
    st.sampled_from(["http://", "https://", "HTTP://", "ftp://", "http:/", ""]),
    st.sampled_from(["", "u@", "u:p@", "u:p@@", "u p@", ":@"]),
    st.sampled_from(["h", "a.b", "127.0.0.1", "999.1.1.1", "1.2.3", "[::1]", "[::1", "[zz]"])
    | st.sampled_from(["", "-a", "h_", "h-", "\u00e4", "a..b", "h.", "[::1]x", "h\n"]),
    st.sampled_from(["", ":", ":3001", ":0", ":65536", ":x", ": ", ":30 1", ":3001\n"]),
    pieces("/", "a", " ", "\n", "\t", "\x01", "\x7f", "?", "#", "%", "\u00e4", "@", ":", "["),
).map("".join)


@settings(max_examples=1000, deadline=None, derandomize=True)
@given(url=URLS | st.text(max_size=12).map("http://".__add__))
@example("http://[::1]x")
@example("http://h:")
@example("http://user@@h/x%zz")
def test_a_url_that_passes_the_check_works_with_httpx(url: str) -> None:
    if url_problem(url) is not None:
        return
    settings_ = resolve_settings(ApiConfig(url=url), {})
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"workflowId": "w", "runId": "r", "status": "running"})

    api = OutputApi(settings_, transport=httpx.MockTransport(answer))
    try:
        api.status("wf 1")
    finally:
        api.close()
    assert seen[0].url.path.endswith("/workflow/wf%201/status") or seen[0].url.path.endswith(
        "/workflow/wf 1/status"
    )


def test_resolve_settings_checks_what_it_is_given() -> None:
    with pytest.raises(UsageError) as caught:
        resolve_settings(ApiConfig(), {"OUTPUT_API_URL": "ftp://h"})
    assert str(caught.value) == (
        'OUTPUT_API_URL="ftp://h" is not a URL (it must start with http:// or https://)'
    )
