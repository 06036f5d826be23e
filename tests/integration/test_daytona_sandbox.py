"""ExecuteGraphton and CleanupSandbox with SANDBOX_TYPE=daytona, against the local Daytona API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowFailureError
from temporalio.worker import Worker

from agent_runner import wire
from agent_runner.local.temporal_server import TemporalDevServer
from tests.daytona_api import DAYTONA_TEST_KEY, FakeDaytona
from tests.helpers import async_wait_until, process_gone
from tests.integration.conftest import Stack, running_stack

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(180)]

ax = wire.agentexecution
KEY = DAYTONA_TEST_KEY


@pytest.fixture
async def daytona_stack(
    temporal_server: TemporalDevServer, tmp_path: Path, daytona_cloud: FakeDaytona
) -> AsyncIterator[Stack]:
    extra = {
        "SANDBOX_TYPE": "daytona",
        "DAYTONA_API_KEY": KEY,
        "DAYTONA_API_URL": daytona_cloud.url,
        "DAYTONA_DEV_TOOLS_SNAPSHOT_ID": "dev-tools",
        "DAYTONA_WORK_DIR": str(tmp_path / "sandbox-home"),
    }
    async with running_stack(temporal_server, tmp_path, extra) as stack:
        yield stack


async def test_a_session_gets_one_sandbox_reused_and_cleaned_up(
    daytona_stack: Stack, daytona_cloud: FakeDaytona, tmp_path: Path
) -> None:
    stack = daytona_stack
    session_id = await stack.new_session()
    turns = [
        {
            "tool_calls": [
                {
                    "name": "execute",
                    "args": {
                        "command": "python3 .agent-runner/skills/repo-stats/scripts/stats.py "
                        ".agent-runner/skills > stats.md"
                    },
                }
            ]
        },
        {"text": "Measured."},
    ]
    first = await stack.new_execution("Measure", turns, session_id=session_id)
    assert (await (await stack.start(first)).result()).phase == ax.EXECUTION_COMPLETED
    session = await stack.backend.get_session(session_id)
    sandbox_id = session.spec.sandbox_id
    assert sandbox_id in daytona_cloud.sandboxes
    assert daytona_cloud.sandboxes[sandbox_id].snapshot == "dev-tools"
    assert daytona_cloud.sandboxes[sandbox_id].labels["stigmer.ai/session"] == session_id
    home = tmp_path / "sandbox-home"
    assert "| Python |" in (home / "stats.md").read_text()
    assert (home / ".agent-runner" / "skills" / "repo-stats" / "SKILL.md").exists()

    second = await stack.new_execution("Again", [{"text": "Same sandbox."}], session_id=session_id)
    await (await stack.start(second)).result()
    assert len(daytona_cloud.sandboxes) == 1

    queue = f"cleanup-{stack.runner_queue}"
    async with Worker(stack.temporal, task_queue=queue, workflows=[Cleanup]):
        for attempt in ("first", "again"):  # a sandbox already gone is success too
            await stack.temporal.execute_workflow(
                Cleanup.run,
                args=[sandbox_id, stack.runner_queue],
                id=f"cleanup-{sandbox_id}-{attempt}",
                task_queue=queue,
            )
            assert daytona_cloud.sandboxes[sandbox_id].state == "destroyed"


@workflow.defn(name="Cleanup", sandboxed=False)
class Cleanup:
    """What the platform's orchestrator does when a session ends."""

    @workflow.run
    async def run(self, sandbox_id: str, queue: str) -> None:
        await workflow.execute_activity(
            "CleanupSandbox",
            sandbox_id,
            task_queue=queue,
            start_to_close_timeout=timedelta(seconds=30),
        )


async def test_a_session_whose_sandbox_is_gone_gets_a_new_one(
    daytona_stack: Stack, daytona_cloud: FakeDaytona
) -> None:
    stack = daytona_stack
    session_id = await stack.new_session()
    session = await stack.backend.get_session(session_id)
    session.spec.sandbox_id = "sbx-deleted-long-ago"
    await stack.backend.update_session(session)
    execution = await stack.new_execution("Hi", [{"text": "Fresh sandbox."}], session_id=session_id)
    assert (await (await stack.start(execution)).result()).phase == ax.EXECUTION_COMPLETED
    renewed = (await stack.backend.get_session(session_id)).spec.sandbox_id
    assert renewed != "sbx-deleted-long-ago" and renewed in daytona_cloud.sandboxes


async def test_cancelling_an_execution_stops_its_command_in_the_sandbox(
    daytona_stack: Stack, tmp_path: Path
) -> None:
    stack = daytona_stack
    turns = [
        {"tool_calls": [{"name": "execute", "args": {"command": "echo $$ > long.pid; sleep 600"}}]},
        {"text": "never reached"},
    ]
    execution = await stack.new_execution("Wait", turns, session_id=await stack.new_session())
    handle = await stack.start(execution)
    pid_file = tmp_path / "sandbox-home" / "long.pid"
    await async_wait_until(
        lambda: pid_file.exists() and pid_file.read_text().strip() != "",
        within=60,
        what="the command to start in the sandbox",
    )
    pid = int(pid_file.read_text())
    await handle.cancel()
    with pytest.raises(WorkflowFailureError):
        await handle.result()
    await async_wait_until(lambda: process_gone(pid), within=20, what="the command to die")
    stored = await stack.stored(execution.metadata.id)
    assert stored.status.phase == ax.EXECUTION_CANCELLED
