"""A real local daemon on a free loopback port, and real clients of it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from agent_runner.backend import BackendClient
from agent_runner.config import BackendConfig
from agent_runner.local.daemon import DaemonSettings, LocalDaemon
from agent_runner.local.manifests import DEFAULT_RESOURCES_DIR, Catalog, load_catalog
from agent_runner.secrets import Secret
from tests.conftest import REPO_ROOT

TOKEN = "test-token-123"


@pytest.fixture
def catalog() -> Catalog:
    return load_catalog(DEFAULT_RESOURCES_DIR, REPO_ROOT / "skills")


@pytest.fixture
def daemon_settings(tmp_path: Path) -> DaemonSettings:
    return DaemonSettings(listen="127.0.0.1:0", token=TOKEN, data_dir=tmp_path / "data")


@pytest.fixture
async def daemon(daemon_settings: DaemonSettings, catalog: Catalog) -> AsyncIterator[LocalDaemon]:
    async with LocalDaemon(daemon_settings, catalog) as running:
        yield running


ClientFactory = Callable[..., BackendClient]


@pytest.fixture
async def make_client() -> AsyncIterator[ClientFactory]:
    clients: list[BackendClient] = []

    def make(port: int, token: str = TOKEN) -> BackendClient:
        client = BackendClient(
            BackendConfig(endpoint=f"127.0.0.1:{port}", api_key=Secret(token), tls=False),
            deadline_s=5,
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


@pytest.fixture
async def client(daemon: LocalDaemon, make_client: ClientFactory) -> BackendClient:
    return make_client(daemon.port)
