"""Metrics and health of a running worker, and structured logs."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import aiohttp
import pytest

from agent_runner import wire
from agent_runner.local.temporal_server import TemporalDevServer, free_port
from agent_runner.logs import configure_logging, current_execution
from tests.integration.conftest import running_stack

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


def test_json_logs_carry_the_execution_id(capsys: pytest.CaptureFixture[str]) -> None:
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
    configure_logging("INFO")
