"""Cloud mode with REDIS_HOST: statuses reach a Redis stream; no Redis, no start-up."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from agent_runner import wire
from agent_runner.config import RedisConfig
from agent_runner.local.temporal_server import TemporalDevServer, free_port, port_is_taken
from agent_runner.redis_status import StatusStream, stream_key
from tests.helpers import wait_until
from tests.integration.conftest import Stack, cloud_worker_start, running_stack

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(180)]

ax = wire.agentexecution


@pytest.fixture(scope="module")
def redis_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    port = free_port()
    folder = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(folder),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: port_is_taken(port), timeout=30, what="redis-server to listen")
        yield port
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture
async def cloud_stack(
    temporal_server: TemporalDevServer, tmp_path: Path, redis_port: int
) -> AsyncIterator[Stack]:
    cloud = {
        "MODE": "cloud",
        "SANDBOX_TYPE": "filesystem",
        "REDIS_HOST": "127.0.0.1",
        "REDIS_PORT": str(redis_port),
    }
    async with running_stack(temporal_server, tmp_path, cloud) as stack:
        yield stack


async def test_every_status_update_reaches_the_executions_redis_stream(
    cloud_stack: Stack, redis_port: int
) -> None:
    assert cloud_stack.config.mode == "cloud" and cloud_stack.config.redis is not None
    turns = [
        {"tool_calls": [{"name": "execute", "args": {"command": "echo streamed"}}]},
        {"text": "Published."},
    ]
    execution = await cloud_stack.new_execution("Publish", turns)
    await (await cloud_stack.start(execution)).result()
    redis = Redis(port=redis_port)
    try:
        entries = await redis.xrange(stream_key(execution.metadata.id))
    finally:
        await redis.aclose()
    phases = [fields[b"phase"].decode() for _, fields in entries]
    assert phases[0] == "EXECUTION_IN_PROGRESS" and phases[-1] == "EXECUTION_COMPLETED"
    final = json.loads(entries[-1][1][b"status"])
    assert final["messages"][-1]["content"] == "Published."
    assert final["toolCalls"][0]["status"] == "TOOL_CALL_COMPLETED"


def test_an_unreachable_redis_stops_the_worker_with_one_line() -> None:
    result = cloud_worker_start({"REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(free_port())})
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("agent-runner: cannot reach Redis at 127.0.0.1:")


async def test_a_publish_cancelled_in_flight_ends_cancelled(redis_port: int) -> None:
    """redis-py can swallow a cancellation that arrives mid-command (about a third of
    them here); the status reporter's task is cancelled while it publishes, and must end."""
    stream = StatusStream(RedisConfig(host="127.0.0.1", port=redis_port, password=None))
    await stream.connect()
    status = ax.AgentExecutionStatus(phase=ax.EXECUTION_IN_PROGRESS)
    lost = 0
    try:
        for attempt in range(300):
            task = asyncio.create_task(stream.publish("aex-cancel", status))
            await asyncio.sleep((attempt % 10) * 0.00005)
            if not task.cancel():
                await task  # it had already finished
                continue
            try:
                await task
                lost += 1
            except asyncio.CancelledError:
                pass
    finally:
        await stream.aclose()
    assert lost == 0
