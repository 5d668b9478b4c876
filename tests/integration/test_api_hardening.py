"""What a determined user (or a broken proxy) can do to the API client: credentials in the URL,
answers that do not fit, error pages, refused tokens. Each ends in one clear line."""

from __future__ import annotations

import base64
import shutil
from pathlib import Path

import pytest

from runner.config import ApiConfig
from runner.errors import ApiError, AuthError, ResetOutcomeUnknown
from runner.output_api import OutputApi, resolve_settings
from tests.cli_process import run_main
from tests.fakeapi import FakeOutputApi, Step

SECRET = "hunter2secret"


def with_password(url: str) -> str:
    return url.replace("http://", f"http://admin:{SECRET}@")


def client(url: str) -> OutputApi:
    return OutputApi(resolve_settings(ApiConfig(), {"OUTPUT_API_URL": url}), timeout_s=5.0)


# -- 4. a password in the URL is sent, never shown ----------------------------------------------


def test_a_password_in_the_url_is_sent_but_never_shown(fake: FakeOutputApi) -> None:
    shown = fake.url.replace("http://", "http://admin:***@")
    run_id = fake.start_run("probe_three", "wf-1", {})
    fake.wait_closed("wf-1", run_id)
    fake.drop_response("POST", r"/reset$")
    api = client(with_password(fake.url))
    try:
        api.status("wf-1")
        sent = fake.requests[-1].headers["authorization"]
        with pytest.raises(ResetOutcomeUnknown) as lost:
            api.reset("wf-1", run_id, step="draftOutline", event_id=None, reason="x")
        fake.set_down(True)
        with pytest.raises(ApiError) as down:
            api.status("wf-1")
    finally:
        fake.set_down(False)
        api.close()
    assert sent == "Basic " + base64.b64encode(f"admin:{SECRET}".encode()).decode()
    assert api.description == f"Output API at {shown}"
    assert str(lost.value).startswith(f"the reset request to {shown} got no answer (")
    assert str(down.value) == (
        f"cannot reach the Output API at {shown} (connection refused); is `npx output dev` running?"
    )


def test_a_refused_password_is_not_shown() -> None:
    with FakeOutputApi(token="s3cret") as secured:
        api = client(with_password(secured.url))
        try:
            with pytest.raises(AuthError) as caught:
                api.status("wf-1")
        finally:
            api.close()
        shown = secured.url.replace("http://", "http://admin:***@")
    assert str(caught.value) == (
        f"the Output API at {shown} refused the request (401 Unauthorized): "
        "set OUTPUT_API_AUTH_TOKEN to the API's OUTPUT_API_AUTH_TOKEN"
    )


def test_the_cli_never_prints_the_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    examples = Path(__file__).resolve().parents[2] / "examples"
    project = tmp_path / "blog"
    shutil.copytree(examples, project)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OUTPUT_API_AUTH_TOKEN", "t0ken")
    with FakeOutputApi() as api:
        api.define_workflow("blog_evaluator", [Step("fetch_blog_content")])
        monkeypatch.setenv(
            "OUTPUT_API_URL", with_password(api.url).replace("127.0.0.1", "localhost")
        )
        shown = api.url.replace("http://127.0.0.1", "http://admin:***@localhost")
        code, out, err = run_main(["init", str(project)], capsys)
        assert (code, err) == (0, "")
        assert out.splitlines()[0].endswith(
            f"pinned to the latest run of each workflow that has one ({shown})"
        )
        remote = with_password(api.url).replace("127.0.0.1", "127.0.0.2")
        monkeypatch.setenv("OUTPUT_API_URL", remote)
        code, out, err = run_main(["validate", "-c", str(project / "output-reset.yaml")], capsys)
    assert SECRET not in out + err
    assert err.startswith(
        "warning: OUTPUT_API_AUTH_TOKEN will be sent over plain http to "
        f"{remote.replace(SECRET, '***')}; use https for a remote API\n"
    )


# -- 6. error bodies from proxies: status, reason, one line -----------------------------------

NGINX_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>"
)
BIG_404 = "<!DOCTYPE html><html><head><title>404</title><style>" + "x" * 3000 + "</style>"


def error_of(fake: FakeOutputApi, status: int, body: object, content_type: str | None) -> str:
    fake.inject("GET", r"/status$", status=status, body=body, content_type=content_type)
    api = client(fake.url)
    try:
        with pytest.raises(ApiError) as caught:
            api.status("wf-1")
    finally:
        api.close()
    return str(caught.value)


@pytest.mark.parametrize(
    ("status", "body", "content_type", "line"),
    [
        (502, NGINX_502, "text/html", "502 Bad Gateway: <html>"),
        (
            404,
            BIG_404,
            "text/html",
            "404 Not Found: <!DOCTYPE html><html><head><title>404</title><style>"
            + "x" * 65
            + "...",
        ),
        (
            503,
            '{"error": "CatalogNotAvailableError", "message": "no catalog\\n  at line 2"}',
            "application/json",
            "503 Service Unavailable: CatalogNotAvailableError: no catalog",
        ),
        (500, "", None, "500 Internal Server Error"),
        (
            504,
            "\x1b[31mtimeout\x1b[0m\n",
            "text/plain",
            "504 Gateway Timeout: \\x1b[31mtimeout\\x1b[0m",
        ),
        (
            418,
            '{"message": ["not", "text"]}',
            "application/json",
            '418 I\'m a teapot: {"message": ["not", "text"]}',
        ),
    ],
)
def test_an_error_body_is_shown_as_status_reason_and_one_line(
    fake: FakeOutputApi, status: int, body: str, content_type: str | None, line: str
) -> None:
    message = error_of(fake, status, body, content_type)
    assert message == f"the Output API answered GET /workflow/wf-1/status with {line}"


# -- 7. validate fails on a refused token ------------------------------------------------------


def one_rule_project(folder: Path, monkeypatch: pytest.MonkeyPatch, api: str = "") -> None:
    (folder / "x.prompt").write_text("x\n")
    (folder / "output-reset.yaml").write_text(
        f"{api}workflows: [{{id: wf-1, rules: [{{files: x.prompt, rerun: s}}]}}]\n"
    )
    monkeypatch.chdir(folder)


def test_validate_fails_when_the_api_refuses_the_token(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    one_rule_project(tmp_path, monkeypatch, "api: {token_env: MY_TOKEN}\n")
    monkeypatch.setenv("MY_TOKEN", "wrong")
    with FakeOutputApi(token="s3cret") as secured:
        monkeypatch.setenv("OUTPUT_API_URL", secured.url)
        code, out, err = run_main(["validate"], capsys)
        url = secured.url
    assert (code, out, err) == (
        1,
        "",  # one verdict: no "ok" before the failure
        f"error: the Output API at {url} refused the request (401 Unauthorized): set MY_TOKEN "
        "to the API's OUTPUT_API_AUTH_TOKEN\n",
    )


def test_validate_still_passes_when_no_api_answers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    one_rule_project(tmp_path, monkeypatch)
    with FakeOutputApi() as api:
        url = api.url
    monkeypatch.setenv("OUTPUT_API_URL", url)  # nothing listens there any more
    code, out, err = run_main(["validate"], capsys)
    assert (code, err) == (0, "")
    assert out.splitlines()[-1] == (
        "output-reset.yaml: ok (1 workflow, 1 rule, 1 mapped file); step names not checked: "
        f"cannot reach the Output API at {url} (connection refused); is `npx output dev` running?"
    )
