"""ExecuteGraphton under `temporalio.testing.ActivityEnvironment`: its heartbeat and
cancellation paths without a Temporal server (the backend is the real local daemon,
the commands real subprocesses)."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from temporalio.common import RawValue
from temporalio.testing import ActivityEnvironment

from agent_runner import wire
from agent_runner.activities import ExecuteGraphton, RunnerDeps
from agent_runner.backend import BackendClient
from agent_runner.converter import InteropPayloadConverter
from agent_runner.local.daemon import DaemonSettings, LocalDaemon
from agent_runner.local.manifests import DEFAULT_RESOURCES_DIR, load_catalog
from agent_runner.local.temporal_server import free_port
from agent_runner.worker import open_runner_deps
from tests.conftest import REPO_ROOT
from tests.helpers import async_wait_until, process_gone
from tests.integration.conftest import TOKEN, stack_config

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]

ax = wire.agentexecution


@dataclasses.dataclass
class Harness:
    deps: RunnerDeps
    backend: BackendClient
    workspace: Path
    scripts: Path

    async def execution(self, turns: list[dict[str, Any]]) -> ax.AgentExecution:
        script = self.scripts / f"{uuid.uuid4().hex[:8]}.yaml"
        script.write_text(yaml.safe_dump({"turns": turns}))
        session = await self.backend.create_session(
            wire.session.Session(spec=wire.session.SessionSpec(agent_instance_id="demo"))
        )
        return await self.backend.create_execution(
            ax.AgentExecution(
                spec=ax.AgentExecutionSpec(
                    session_id=session.metadata.id,
                    message="Work",
                    execution_config=ax.ExecutionConfig(model_name=str(script)),
                )
            )
        )


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    port = free_port()
    daemon = LocalDaemon(
        DaemonSettings(listen=f"127.0.0.1:{port}", token=TOKEN, data_dir=tmp_path / "daemon"),
        load_catalog(DEFAULT_RESOURCES_DIR, REPO_ROOT / "skills"),
    )
    await daemon.start()
    config = stack_config(
        "127.0.0.1:1", port, tmp_path / "workspace", tmp_path / "data", "unused-queue"
    )
    (tmp_path / "scripts").mkdir()
    try:
        async with open_runner_deps(config) as deps:
            yield Harness(deps, deps.backend, tmp_path / "workspace", tmp_path / "scripts")
    finally:
        await daemon.stop()


def environment(heartbeats: list[Any]) -> ActivityEnvironment:
    env = ActivityEnvironment()
    env.payload_converter = InteropPayloadConverter()
    env.info = dataclasses.replace(
        env.info,
        heartbeat_timeout=timedelta(seconds=0.6),
        start_to_close_timeout=timedelta(minutes=2),
    )
    env.on_heartbeat = lambda *details: heartbeats.append(details[0])
    return env


def arguments(execution: ax.AgentExecution, thread: str) -> list[RawValue]:
    converter = InteropPayloadConverter()
    return [RawValue(converter.to_payload(execution)), RawValue(converter.to_payload(thread))]


async def test_a_silent_command_still_heartbeats_with_camel_case_details(harness: Harness) -> None:
    execution = await harness.execution(
        [
            {"tool_calls": [{"name": "execute", "args": {"command": "sleep 2"}}]},
            {"text": "Slept."},
        ]
    )
    heartbeats: list[Any] = []
    status = await environment(heartbeats).run(
        ExecuteGraphton(harness.deps).execute_graphton, *arguments(execution, "thread-hb")
    )
    assert status.phase == ax.EXECUTION_COMPLETED
    # Every 0.2 s (a third of the timeout) while the command printed nothing for 2 s.
    assert len(heartbeats) >= 5
    during = [h for h in heartbeats if h["phase"] == "EXECUTION_IN_PROGRESS"]
    assert during
    assert set(during[-1]) == {"executionId", "phase", "messages", "toolCalls"}
    assert during[-1]["executionId"] == execution.metadata.id
    assert during[-1]["toolCalls"] == 1


async def test_cancelling_pushes_cancelled_and_kills_the_command(harness: Harness) -> None:
    execution = await harness.execution(
        [
            {"tool_calls": [{"name": "execute", "args": {"command": "echo $$ > pid; sleep 600"}}]},
            {"text": "never"},
        ]
    )
    env = environment([])
    run = asyncio.create_task(
        env.run(ExecuteGraphton(harness.deps).execute_graphton, *arguments(execution, "thread-c"))
    )
    pid_file = harness.workspace / "pid"
    await async_wait_until(pid_file.exists, within=60, what="the command to start")
    pid = int(pid_file.read_text())
    env.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    stored = await harness.backend.get_execution(execution.metadata.id)
    assert stored.status.phase == ax.EXECUTION_CANCELLED
    [call] = stored.status.tool_calls
    assert call.status == ax.TOOL_CALL_FAILED
    await async_wait_until(lambda: process_gone(pid), within=10, what="the command to die")
