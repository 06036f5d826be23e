"""The daemon's fencing, over real gRPC: only the current attempt writes, a final status
stays final, and each refusal is FAILED_PRECONDITION with a message saying why."""

from __future__ import annotations

import grpc
import pytest

from agent_runner import wire
from agent_runner.backend import BackendClient, StatusRefused
from agent_runner.backend.client import ATTEMPT_METADATA_KEY
from agent_runner.local.daemon import LocalDaemon
from tests.backend.conftest import TOKEN
from tests.backend.test_daemon import new_execution

pytestmark = pytest.mark.anyio

ax = wire.agentexecution


def running(*tools: str) -> ax.AgentExecutionStatus:
    return ax.AgentExecutionStatus(
        phase=ax.EXECUTION_IN_PROGRESS,
        tool_calls=[ax.ToolCall(id=t, name="execute") for t in tools],
    )


async def test_an_attempt_older_than_the_newest_writer_is_refused(client: BackendClient) -> None:
    execution_id = (await new_execution(client)).metadata.id
    await client.update_execution_status(execution_id, running("a"), attempt=1)
    await client.update_execution_status(execution_id, running("b"), attempt=2)
    with pytest.raises(StatusRefused, match="attempt 1 was replaced by attempt 2"):
        await client.update_execution_status(execution_id, running("stale"), attempt=1)
    stored = await client.get_execution(execution_id)
    assert [c.id for c in stored.status.tool_calls] == ["b"]


async def test_a_final_status_is_never_changed_by_anyone(client: BackendClient) -> None:
    execution_id = (await new_execution(client)).metadata.id
    done = ax.AgentExecutionStatus(
        phase=ax.EXECUTION_COMPLETED,
        tool_calls=[ax.ToolCall(id="a", name="execute", status=ax.TOOL_CALL_COMPLETED)],
    )
    await client.update_execution_status(execution_id, done, attempt=1)
    await client.update_execution_status(execution_id, done, attempt=1)  # redelivered: fine
    cancelled = ax.AgentExecutionStatus(phase=ax.EXECUTION_CANCELLED)
    for attempt in (1, 2, None):
        with pytest.raises(StatusRefused, match="already ended \\(EXECUTION_COMPLETED\\)"):
            await client.update_execution_status(execution_id, cancelled, attempt=attempt)
    stored = await client.get_execution(execution_id)
    assert stored.status.phase == ax.EXECUTION_COMPLETED
    assert list(stored.status.tool_calls) == list(done.tool_calls)


async def test_a_malformed_attempt_is_an_invalid_argument(
    daemon: LocalDaemon, client: BackendClient
) -> None:
    execution_id = (await new_execution(client)).metadata.id
    async with grpc.aio.insecure_channel(f"127.0.0.1:{daemon.port}") as channel:
        stub = wire.agentexecution_grpc.AgentExecutionCommandControllerStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.updateStatus(
                ax.AgentExecutionUpdateStatusInput(execution_id=execution_id, status=running()),
                metadata=((ATTEMPT_METADATA_KEY, "two"), ("authorization", f"Bearer {TOKEN}")),
                timeout=5,
            )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert ATTEMPT_METADATA_KEY in (refused.value.details() or "")
