"""The daemon refuses unauthenticated calls before it reads their bodies."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from agent_runner import wire
from agent_runner.local.temporal_server import free_port, port_is_taken
from tests.helpers import wait_until

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(300)]

TOKEN = "auth-test-token"
UPDATE_STATUS = "/ai.stigmer.agentic.agentexecution.v1.AgentExecutionCommandController/updateStatus"
SUBSCRIBE = "/ai.stigmer.agentic.agentexecution.v1.AgentExecutionQueryController/subscribe"
BODY_BYTES = 60 * 1024 * 1024
CALLS = 12
RSS_GROWTH_LIMIT = 150 * 1024 * 1024


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for process {pid}")


@pytest.fixture
def daemon_process(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "agent_runner", "daemon", "--listen", f"127.0.0.1:{port}"],
        env={
            **os.environ,
            "STIGMER_API_KEY": TOKEN,
            "AGENT_RUNNER_DATA_DIR": str(tmp_path / "data"),
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: port_is_taken(port), timeout=60, what="the daemon to listen")
        yield process, port
    finally:
        process.terminate()
        process.wait(30)


def big_update() -> bytes:
    request = wire.agentexecution.AgentExecutionUpdateStatusInput(execution_id="aex-1")
    request.status.error = "x" * BODY_BYTES
    return request.SerializeToString()


async def test_twelve_unauthenticated_60_mib_calls_leave_the_daemon_small(
    daemon_process: tuple[subprocess.Popen[bytes], int],
) -> None:
    process, port = daemon_process
    body = big_update()
    options = [("grpc.max_send_message_length", 2 * BODY_BYTES)]
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}", options=options) as channel:
        call = channel.unary_unary(UPDATE_STATUS)  # bytes in, bytes out: no serializers
        await asyncio.wait_for(channel.channel_ready(), 30)
        before = rss_bytes(process.pid)
        codes = []
        for _ in range(CALLS):
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await call(body, metadata=(("authorization", "Bearer wrong"),), timeout=60)
            codes.append(refused.value.code())
            assert "STIGMER_API_KEY" in (refused.value.details() or "")
        after = rss_bytes(process.pid)
    assert codes == [grpc.StatusCode.UNAUTHENTICATED] * CALLS
    assert after - before < RSS_GROWTH_LIMIT, f"RSS grew by {(after - before) >> 20} MiB"


async def test_an_unauthenticated_stream_is_refused_at_once(
    daemon_process: tuple[subprocess.Popen[bytes], int],
) -> None:
    _, port = daemon_process
    request = wire.agentexecution.AgentExecutionId(value="aex-1").SerializeToString()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stream = channel.unary_stream(SUBSCRIBE)(request, timeout=30)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            async for _ in stream:
                pass
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "missing bearer token" in (refused.value.details() or "")
