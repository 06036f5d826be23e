"""Metrics and health of a running worker, and structured logs."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from agent_runner import wire
from agent_runner.local.temporal_server import TemporalDevServer, free_port
from agent_runner.logs import configure_logging, current_execution
from tests.helpers import async_wait_until
from tests.integration.conftest import TOKEN, Stack, running_stack

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(180)]

ax = wire.agentexecution


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


def sample(metrics: str, name: str) -> float:
    for line in metrics.splitlines():
        if line.startswith(name + " ") or (
            line.startswith(name + "{") and line.split(" ")[0] == name
        ):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_metrics_count_a_run_and_health_follows_temporal(tmp_path: Path) -> None:
    port = free_port()
    server = TemporalDevServer(port=free_port())
    server.start()
    try:
        async with running_stack(server, tmp_path, {"METRICS_PORT": str(port)}) as stack:
            turns = [
                {"tool_calls": [{"name": "execute", "args": {"command": "sleep 0.2"}}]},
                {"tool_calls": [{"name": "execute", "args": {"command": "exit 3"}}]},
                {"text": "done"},
            ]
            execution = await stack.new_execution("Count me", turns)
            await (await stack.start(execution)).result()
            status, metrics = await get(f"http://127.0.0.1:{port}/metrics")
            assert status == 200
            assert sample(metrics, "agent_runner_executions_started_total") == 1.0
            assert (
                sample(metrics, 'agent_runner_executions_finished_total{outcome="completed"}')
                == 1.0
            )
            assert (
                sample(metrics, 'agent_runner_tool_calls_total{outcome="completed",tool="execute"}')
                == 1.0
            )
            assert (
                sample(metrics, 'agent_runner_tool_calls_total{outcome="failed",tool="execute"}')
                == 1.0
            )
            assert sample(metrics, "agent_runner_sandbox_command_seconds_count") == 2.0
            assert sample(metrics, "agent_runner_status_push_seconds_count") >= 2.0
            assert sample(metrics, "agent_runner_heartbeats_total") >= 1.0

            status, body = await get(f"http://127.0.0.1:{port}/healthz")
            assert (status, json.loads(body)["status"]) == (200, "ok")
            server.stop()
            status, body = await get(f"http://127.0.0.1:{port}/healthz")
            assert status == 503
            assert json.loads(body)["reason"].startswith("cannot reach Temporal")
    finally:
        server.stop()


@pytest.fixture
def root_logger() -> Iterator[logging.Logger]:
    """The root logger, given back as it was: a handler left on this test's captured
    stderr (closed after the test) would break every later test's logging."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield root
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_logs_carry_the_execution_id(
    capsys: pytest.CaptureFixture[str], root_logger: logging.Logger
) -> None:
    configure_logging("INFO", log_format="json")
    token = current_execution.set("aex-123")
    try:
        logging.getLogger("agent_runner.test").info("step %s done", 2)
    finally:
        current_execution.reset(token)
    logging.getLogger("agent_runner.test").info("outside")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert lines[0]["message"] == "step 2 done" and lines[0]["execution_id"] == "aex-123"
    assert "execution_id" not in lines[1]


async def test_traces_reach_the_otlp_collector(stack: Stack, tmp_path: Path) -> None:
    received: list[bytes] = []

    async def collect(request: web.Request) -> web.Response:
        received.append(await request.read())
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/v1/traces", collect)
    runner = web.AppRunner(app)
    await runner.setup()
    collector_port = free_port()
    await web.TCPSite(runner, "127.0.0.1", collector_port).start()
    queue = f"{stack.runner_queue}-traced"
    worker = subprocess.Popen(
        [sys.executable, "-m", "agent_runner", "worker"],
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith(("STIGMER_", "TEMPORAL_"))},
            "MODE": "local",
            "TEMPORAL_SERVICE_ADDRESS": stack.config.temporal.address,
            "TEMPORAL_AGENT_EXECUTION_RUNNER_TASK_QUEUE": queue,
            "STIGMER_BACKEND_ENDPOINT": stack.config.backend.endpoint,
            "STIGMER_API_KEY": TOKEN,
            "SANDBOX_ROOT_DIR": str(stack.workspace),
            "AGENT_RUNNER_DATA_DIR": str(tmp_path / "traced"),
            "STIGMER_LLM_PROVIDER": "scripted",
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{collector_port}",
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        stack.options = replace(stack.options, runner_task_queue=queue)
        execution = await stack.new_execution("Trace me", [{"text": "traced"}])
        assert (await (await stack.start(execution)).result()).phase == ax.EXECUTION_COMPLETED
        worker.send_signal(signal.SIGTERM)  # spans are flushed when the worker exits
        await asyncio.to_thread(worker.wait, 60)
        await async_wait_until(lambda: bool(received), within=30, what="spans to arrive")
    finally:
        if worker.poll() is None:
            worker.kill()
        await runner.cleanup()
    assert b"RunActivity:ExecuteGraphton" in b"".join(received)
