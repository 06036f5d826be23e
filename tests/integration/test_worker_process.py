"""`agent-runner worker` as a real process: start-up errors and graceful shutdown."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.client import WorkflowFailureError

from agent_runner import wire
from agent_runner.local.temporal_server import TemporalDevServer, free_port
from tests.helpers import async_wait_until, process_gone
from tests.integration.conftest import TOKEN, Stack

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(180)]

ax = wire.agentexecution


def worker_env(stack: Stack, **extra: str) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("STIGMER_", "TEMPORAL_"))},
        "MODE": "local",
        "TEMPORAL_SERVICE_ADDRESS": stack.config.temporal.address,
        "TEMPORAL_AGENT_EXECUTION_RUNNER_TASK_QUEUE": f"{stack.runner_queue}-process",
        "STIGMER_BACKEND_ENDPOINT": stack.config.backend.endpoint,
        "STIGMER_API_KEY": TOKEN,
        "SANDBOX_ROOT_DIR": str(stack.workspace),
        "AGENT_RUNNER_DATA_DIR": str(stack.config.data_dir.parent / "process-data"),
        "STIGMER_LLM_PROVIDER": "scripted",
        **extra,
    }


@pytest.fixture
async def worker_process(stack: Stack) -> AsyncIterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "agent_runner", "worker"],
        env=worker_env(stack, WORKER_GRACEFUL_SHUTDOWN_SECONDS="2"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    stack.options = type(stack.options)(runner_task_queue=f"{stack.runner_queue}-process")
    yield process
    if process.poll() is None:
        process.kill()
        process.wait()


def test_unreachable_temporal_is_one_clear_line_and_exit_1(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "agent_runner", "worker"],
        env={
            **os.environ,
            "MODE": "local",
            "TEMPORAL_SERVICE_ADDRESS": f"127.0.0.1:{free_port()}",
            "AGENT_RUNNER_DATA_DIR": str(tmp_path),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("agent-runner: cannot reach Temporal at 127.0.0.1:")
    assert "Traceback" not in result.stderr


def test_bad_configuration_is_named_and_exits_before_connecting(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "agent_runner", "worker"],
        env={**os.environ, "MODE": "local", "TEMPORAL_MAX_CONCURRENCY": "lots"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "TEMPORAL_MAX_CONCURRENCY='lots'" in result.stderr


async def test_sigterm_lets_short_runs_finish_and_cancels_long_ones(
    stack: Stack, worker_process: subprocess.Popen[str]
) -> None:
    long = await stack.new_execution(
        "Wait forever",
        [
            {
                "tool_calls": [
                    {"name": "execute", "args": {"command": "echo $$ > long.pid; sleep 600"}}
                ]
            }
        ],
    )
    long_handle = await stack.start(long)
    pid_file = stack.workspace / "long.pid"
    await async_wait_until(pid_file.exists, within=60, what="the long command to start")
    worker_process.send_signal(signal.SIGTERM)
    exit_code = await asyncio.to_thread(worker_process.wait, 60)
    assert exit_code == 0, worker_process.stdout.read() if worker_process.stdout else ""
    stored = await stack.stored(long.metadata.id)
    assert stored.status.phase == ax.EXECUTION_CANCELLED, stored.status.error
    pid = int(pid_file.read_text())
    await async_wait_until(lambda: process_gone(pid), within=10, what="the command to die")
    with pytest.raises(WorkflowFailureError):  # the orchestrator saw the activity end
        await long_handle.result()
    assert (await stack.stored(long.metadata.id)).status.phase == ax.EXECUTION_CANCELLED


async def test_a_run_shorter_than_the_grace_period_completes_after_sigterm(
    stack: Stack, worker_process: subprocess.Popen[str]
) -> None:
    execution = await stack.new_execution(
        "Quick",
        [
            {"tool_calls": [{"name": "execute", "args": {"command": "touch began; sleep 1"}}]},
            {"text": "Finished during shutdown."},
        ],
    )
    handle = await stack.start(execution)
    await async_wait_until((stack.workspace / "began").exists, within=60, what="the command")
    worker_process.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(worker_process.wait, 60) == 0
    result = await handle.result()
    assert result.phase == ax.EXECUTION_COMPLETED


def test_temporal_dev_server_refuses_a_taken_port() -> None:
    with (
        TemporalDevServer(port=free_port()) as running,
        pytest.raises(Exception, match=f"port {running.port} is already taken"),
    ):
        TemporalDevServer(port=running.port).start()
