"""A temporalio `Client` for the configured server, on its own `LoopThread`.

The engine section of the config says where (address, namespace) and how (an API key from the
environment variable it names, TLS files); a missing key or an unreadable file is said here,
before any call.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from temporalio.client import Client
from temporalio.service import TLSConfig

from runner.config import EngineConfig, TlsConfig
from runner.errors import AuthError, ConfigError
from runner.temporal.loop import LoopThread, start_runtime

IDENTITY = "output-reset"


def open_client(
    config: EngineConfig, env: Mapping[str, str], *, timeout_s: float
) -> tuple[Client, LoopThread]:
    """A lazy client (it connects on its first call) and the loop it runs on."""
    tls = _tls(config.tls)
    api_key: str | None = None
    if config.api_key_env is not None:
        api_key = env.get(config.api_key_env) or None
        if api_key is None:
            raise AuthError(
                f"{config.api_key_env} is not set: engine.api_key_env names it as the "
                f"variable holding the API key for Temporal at {config.address}; set it in "
                "the environment or in .env"
            )
    loop = LoopThread(f"output-reset-temporal-{config.address}")
    try:
        loop.run(start_runtime(), timeout_s)
        client = loop.run(
            Client.connect(
                config.address,
                namespace=config.namespace,
                # None lets the SDK turn TLS on by itself when an API key is given.
                tls=tls if tls is not None else (None if api_key else False),
                api_key=api_key,
                identity=IDENTITY,
                lazy=True,
            ),
            timeout_s,
        )
    except BaseException:
        loop.close()
        raise
    return client, loop


def _tls(config: TlsConfig | None) -> TLSConfig | None:
    if config is None:
        return None
    cert = _read(config.client_cert, "engine.tls.client_cert")
    key = _read(config.client_key, "engine.tls.client_key")
    return TLSConfig(
        server_root_ca_cert=_read(config.ca_cert, "engine.tls.ca_cert"),
        client_cert=cert,
        client_private_key=key,
        domain=config.server_name,
    )


def _read(path: Path | None, key: str) -> bytes | None:
    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{key}: cannot read {path} ({exc.strerror or exc})") from None
