"""ExecuteGraphton, CleanupSandbox and the SandboxManager with SANDBOX_TYPE=daytona, against the
local Daytona API (tests/daytona_api.py), which stops, archives and fails as the real one does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowFailureError
from temporalio.common import RetryPolicy
from temporalio.worker import Worker

import graphton
from agent_runner import wire
from agent_runner.backend import BackendUnavailable
from agent_runner.config import Config
from agent_runner.local.temporal_server import TemporalDevServer
from agent_runner.sandboxes import SESSION_LABEL, SandboxManager
from graphton.sandbox.daytona_errors import RetryPolicy as DaytonaRetry
from tests.daytona_api import DAYTONA_TEST_KEY, FakeDaytona
from tests.helpers import async_wait_until, process_gone
from tests.integration.conftest import Stack, running_stack

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(180)]

ax = wire.agentexecution
KEY = DAYTONA_TEST_KEY
SECRET = "tok-9f8e7d6c5b4a"


@pytest.fixture
async def daytona_stack(
    temporal_server: TemporalDevServer, tmp_path: Path, daytona_cloud: FakeDaytona
) -> AsyncIterator[Stack]:
    extra = {
        "SANDBOX_TYPE": "daytona",
        "DAYTONA_API_KEY": KEY,
        "DAYTONA_API_URL": daytona_cloud.url,
        "DAYTONA_DEV_TOOLS_SNAPSHOT_ID": "dev-tools",
        "DAYTONA_SANDBOX_LABELS": "team=platform",
    }
    async with running_stack(temporal_server, tmp_path, extra) as stack:
        yield stack


async def session_sandbox(stack: Stack, session_id: str) -> str:
    return (await stack.backend.get_session(session_id)).spec.sandbox_id


async def test_a_session_gets_one_sandbox_reused_and_cleaned_up(
    daytona_stack: Stack, daytona_cloud: FakeDaytona
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
    sandbox_id = await session_sandbox(stack, session_id)
    fake = daytona_cloud.sandboxes[sandbox_id]
    assert fake.snapshot == "dev-tools"
    assert fake.labels[SESSION_LABEL] == session_id and fake.labels["team"] == "platform"
    assert "| Python |" in (fake.work_dir / "stats.md").read_text()
    assert (fake.work_dir / ".agent-runner" / "skills" / "repo-stats" / "SKILL.md").exists()

    second = await stack.new_execution("Again", [{"text": "Same sandbox."}], session_id=session_id)
    await (await stack.start(second)).result()
    assert len(daytona_cloud.sandboxes) == 1

    async with cleanup_worker(stack):
        for attempt in ("first", "again"):  # a sandbox already gone is success too
            await cleanup(stack, sandbox_id, attempt)
            assert fake.state == "destroyed"


async def test_secrets_reach_commands_but_not_the_sandbox_daytona_keeps(
    daytona_stack: Stack, daytona_cloud: FakeDaytona
) -> None:
    stack = daytona_stack
    turns = [
        {"tool_calls": [{"name": "execute", "args": {"command": "echo $API_TOKEN > seen.txt"}}]},
        {"text": "Done."},
    ]
    execution = await stack.new_execution(
        "Use it", turns, runtime_env={"API_TOKEN": (SECRET, True)}
    )
    assert (await (await stack.start(execution)).result()).phase == ax.EXECUTION_COMPLETED
    [fake] = daytona_cloud.sandboxes.values()
    assert (fake.work_dir / "seen.txt").read_text() == f"{SECRET}\n"
    assert SECRET not in str(fake.env) and "API_TOKEN" not in fake.env


async def test_a_session_turn_after_its_sandbox_was_archived_starts_it_again(
    daytona_stack: Stack, daytona_cloud: FakeDaytona
) -> None:
    """Daytona stops a sandbox after 15 idle minutes and archives it later; the next
    turn (skills uploaded first) must find it started again, files and all."""
    stack = daytona_stack
    session_id = await stack.new_session()
    write = [
        {"tool_calls": [{"name": "execute", "args": {"command": "echo kept > notes.txt"}}]},
        {"text": "Written."},
    ]
    first = await stack.new_execution("Write", write, session_id=session_id)
    await (await stack.start(first)).result()
    sandbox_id = await session_sandbox(stack, session_id)
    daytona_cloud.archive(sandbox_id)
    read = [
        {"tool_calls": [{"name": "execute", "args": {"command": "cat notes.txt"}}]},
        {"expect": {"contains": "kept"}, "text": "Still there."},
    ]
    second = await stack.new_execution("Read", read, session_id=session_id)
    assert (await (await stack.start(second)).result()).phase == ax.EXECUTION_COMPLETED
    assert await session_sandbox(stack, session_id) == sandbox_id
    assert len(daytona_cloud.sandboxes) == 1


async def test_a_passing_outage_keeps_the_sessions_sandbox_and_a_long_one_fails_clearly(
    daytona_stack: Stack, daytona_cloud: FakeDaytona
) -> None:
    stack = daytona_stack
    session_id = await stack.new_session()
    first = await stack.new_execution("Hi", [{"text": "Hello."}], session_id=session_id)
    await (await stack.start(first)).result()
    sandbox_id = await session_sandbox(stack, session_id)

    daytona_cloud.fail(f"^/sandbox/{sandbox_id}$", 503, "Service Unavailable", times=2)
    second = await stack.new_execution("Again", [{"text": "Same."}], session_id=session_id)
    assert (await (await stack.start(second)).result()).phase == ax.EXECUTION_COMPLETED
    assert await session_sandbox(stack, session_id) == sandbox_id

    daytona_cloud.fail(f"^/sandbox/{sandbox_id}$", 503, "Service Unavailable", times=1000)
    third = await stack.new_execution("Once more", [{"text": "-"}], session_id=session_id)
    with pytest.raises(WorkflowFailureError):
        await (await stack.start(third)).result()
    stored = (await stack.stored(third.metadata.id)).status
    assert stored.phase == ax.EXECUTION_FAILED and "Daytona kept failing" in stored.error
    assert await session_sandbox(stack, session_id) == sandbox_id
    assert [s.id for s in daytona_cloud.live()] == [sandbox_id]


async def test_cleanup_fails_while_daytona_is_unreachable_and_succeeds_after(
    daytona_stack: Stack, daytona_cloud: FakeDaytona
) -> None:
    stack = daytona_stack
    session_id = await stack.new_session()
    first = await stack.new_execution("Hi", [{"text": "Hello."}], session_id=session_id)
    await (await stack.start(first)).result()
    sandbox_id = await session_sandbox(stack, session_id)
    daytona_cloud.fail(f"^/sandbox/{sandbox_id}$", 503, "Service Unavailable", times=1000)
    async with cleanup_worker(stack):
        with pytest.raises(WorkflowFailureError) as failed:
            await cleanup(stack, sandbox_id, "unreachable")
        assert "still exists" in str(failed.value.cause.cause)  # type: ignore[union-attr]
        assert daytona_cloud.sandboxes[sandbox_id].state == "started"
        daytona_cloud.faults.clear()
        await cleanup(stack, sandbox_id, "reachable")
    assert daytona_cloud.sandboxes[sandbox_id].state == "destroyed"


@workflow.defn(name="Cleanup", sandboxed=False)
class Cleanup:
    """What the platform's orchestrator does when a session ends (one attempt here)."""

    @workflow.run
    async def run(self, sandbox_id: str, queue: str) -> None:
        await workflow.execute_activity(
            "CleanupSandbox",
            sandbox_id,
            task_queue=queue,
            start_to_close_timeout=timedelta(seconds=60),
            retry_policy=RetryPolicy(maximum_attempts=1),
        )


def cleanup_worker(stack: Stack) -> Worker:
    return Worker(stack.temporal, task_queue=f"cleanup-{stack.runner_queue}", workflows=[Cleanup])


async def cleanup(stack: Stack, sandbox_id: str, attempt: str) -> None:
    await stack.temporal.execute_workflow(
        Cleanup.run,
        args=[sandbox_id, stack.runner_queue],
        id=f"cleanup-{sandbox_id}-{attempt}",
        task_queue=f"cleanup-{stack.runner_queue}",
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
    renewed = await session_sandbox(stack, session_id)
    assert renewed != "sbx-deleted-long-ago" and renewed in daytona_cloud.sandboxes


async def test_cancelling_an_execution_stops_its_command_in_the_sandbox(
    daytona_stack: Stack, daytona_cloud: FakeDaytona
) -> None:
    stack = daytona_stack
    turns = [
        {"tool_calls": [{"name": "execute", "args": {"command": "echo $$ > long.pid; sleep 600"}}]},
        {"text": "never reached"},
    ]
    execution = await stack.new_execution("Wait", turns, session_id=await stack.new_session())
    handle = await stack.start(execution)

    def pid_file() -> Path | None:
        for fake in daytona_cloud.sandboxes.values():
            candidate = fake.work_dir / "long.pid"
            if candidate.exists() and candidate.read_text().strip():
                return candidate
        return None

    await async_wait_until(
        lambda: pid_file() is not None, within=60, what="the command to start in the sandbox"
    )
    found = pid_file()
    assert found is not None
    pid = int(found.read_text())
    await handle.cancel()
    with pytest.raises(WorkflowFailureError):
        await handle.result()
    await async_wait_until(lambda: process_gone(pid), within=20, what="the command to die")
    stored = await stack.stored(execution.metadata.id)
    assert stored.status.phase == ax.EXECUTION_CANCELLED


# -- the SandboxManager alone, with a session store that fails ----------------------------


class SessionStore:
    """Stands in for the backend's UpdateSession: fails while `failing` is set."""

    def __init__(self) -> None:
        self.failing = True
        self.recorded: list[str] = []

    async def update_session(self, session: wire.session.Session) -> wire.session.Session:
        if self.failing:
            raise BackendUnavailable("UpdateSession: the backend is unavailable")
        self.recorded.append(session.spec.sandbox_id)
        return session


async def test_an_attempt_that_cannot_record_its_sandbox_leaves_none_behind(
    daytona_cloud: FakeDaytona,
) -> None:
    config = Config.load_from_env(
        {
            "MODE": "local",
            "SANDBOX_TYPE": "daytona",
            "DAYTONA_API_KEY": KEY,
            "DAYTONA_API_URL": daytona_cloud.url,
        }
    )
    store = SessionStore()
    quick = DaytonaRetry(attempts=2, first_delay_s=0.01, max_delay_s=0.02)
    manager = SandboxManager(config, store, retry=quick)  # type: ignore[arg-type]
    session = wire.session.Session()
    session.metadata.id = "ses-retried"
    try:
        for _ in range(3):  # the activity's attempts, each failing to record
            with pytest.raises(BackendUnavailable):
                await manager.open({}, str, wire.session.Session(metadata=session.metadata))
        assert daytona_cloud.live() == []

        # When even the deletion fails, the next attempt finds the sandbox by its label.
        daytona_cloud.fail("^/sandbox/[^/]+$", 503, "down", times=4, method="DELETE")
        with pytest.raises(BackendUnavailable):
            await manager.open({}, str, wire.session.Session(metadata=session.metadata))
        [left] = daytona_cloud.live()
        store.failing = False
        opened = await manager.open({}, str, wire.session.Session(metadata=session.metadata))
        assert isinstance(opened.backend, graphton.DaytonaBackend)
        assert opened.backend.id == left.id and store.recorded == [left.id]
        assert daytona_cloud.live() == [left]
    finally:
        await manager.aclose()
