"""Chaos: workers die, servers restart, executions pile up, outputs explode. Nothing is lost."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from agent_runner import wire
from agent_runner.local.temporal_server import TemporalDevServer, free_port
from tests.helpers import async_wait_until
from tests.integration.conftest import TOKEN, Stack, running_stack

pytestmark = [pytest.mark.anyio, pytest.mark.reliability, pytest.mark.timeout(300)]

ax = wire.agentexecution


class Workers:
    """Runner workers as real processes, each in its own process group (a 'machine')."""

    def __init__(self, stack: Stack, data_dir: Path) -> None:
        self.log_dir = data_dir.parent
        self.queue = f"{stack.runner_queue}-chaos"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("STIGMER_", "TEMPORAL_"))},
            "MODE": "local",
            "TEMPORAL_SERVICE_ADDRESS": stack.config.temporal.address,
            "TEMPORAL_AGENT_EXECUTION_RUNNER_TASK_QUEUE": self.queue,
            "STIGMER_BACKEND_ENDPOINT": stack.config.backend.endpoint,
            "STIGMER_API_KEY": TOKEN,
            "SANDBOX_ROOT_DIR": str(stack.workspace),
            "AGENT_RUNNER_DATA_DIR": str(data_dir),
            "STIGMER_LLM_PROVIDER": "scripted",
        }
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        log_path = self.log_dir / f"worker-{len(self.processes) + 1}.log"
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(
                [sys.executable, "-m", "agent_runner", "worker"],
                env=self.env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes.append(process)
        return process

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def logs(self) -> str:
        """Every worker's output, for the report of a failed test."""
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')}"
            for path in sorted(self.log_dir.glob("worker-*.log"))
        )


@pytest.fixture
def workers(stack: Stack, tmp_path: Path) -> Iterator[Workers]:
    pool = Workers(stack, tmp_path / "worker-data")
    stack.options = replace(
        stack.options, runner_task_queue=pool.queue, execute_attempts=2, heartbeat_timeout_s=5
    )
    yield pool
    pool.stop_all()
    print(pool.logs())  # pytest shows it only when the test failed


async def test_a_killed_worker_is_replaced_and_the_run_resumes_without_duplicates(
    stack: Stack, workers: Workers
) -> None:
    turns = [
        {
            "text": "First step.",
            "tool_calls": [{"name": "execute", "args": {"command": "echo one >> log.txt"}}],
        },
        {
            "text": "Second step.",
            "tool_calls": [
                {
                    "name": "execute",
                    "args": {
                        "command": "echo two >> log.txt; if [ ! -f resumed ]; then touch resumed "
                        "started; sleep 600; fi"
                    },
                }
            ],
        },
        {"text": "Both steps done."},
    ]
    first = workers.start()
    execution = await stack.new_execution("Two steps", turns)
    handle = await stack.start(execution)
    await async_wait_until((stack.workspace / "started").exists, within=90, what="step two")
    workers.kill(first)  # the whole machine: worker and its command
    workers.start()
    result = await asyncio.wait_for(handle.result(), 120)
    assert result.phase == ax.EXECUTION_COMPLETED
    # step one ran once (resumed, not restarted); step two, interrupted, ran again
    assert (stack.workspace / "log.txt").read_text() == "one\ntwo\ntwo\n"
    stored = (await stack.stored(execution.metadata.id)).status
    assert [c.id for c in stored.tool_calls] == ["call_1_1", "call_2_1"]
    assert [c.status for c in stored.tool_calls] == [ax.TOOL_CALL_COMPLETED] * 2
    assert [m.content for m in stored.messages] == [
        "Two steps",
        "First step.",
        "Second step.",
        "Both steps done.",
    ]
    history = [e async for e in handle.fetch_history_events()]
    attempts = [
        e.activity_task_started_event_attributes.attempt
        for e in history
        if e.HasField("activity_task_started_event_attributes")
    ]
    assert max(attempts) == 2


async def test_fifty_executions_at_concurrency_ten_all_complete_exactly_once(stack: Stack) -> None:
    executions = []
    for n in range(50):
        turns = [
            {"tool_calls": [{"name": "execute", "args": {"command": f"echo run-{n} >> runs.txt"}}]},
            {"text": f"run {n} done"},
        ]
        executions.append(await stack.new_execution(f"run {n}", turns))
    handles = [await stack.start(execution) for execution in executions]
    results = await asyncio.wait_for(asyncio.gather(*(h.result() for h in handles)), 240)
    assert [r.phase for r in results] == [ax.EXECUTION_COMPLETED] * 50
    lines = (stack.workspace / "runs.txt").read_text().split()
    assert sorted(lines) == sorted(f"run-{n}" for n in range(50))  # none lost, none twice
    for execution in executions:
        assert (await stack.stored(execution.metadata.id)).status.phase == ax.EXECUTION_COMPLETED


async def test_a_200_mb_output_keeps_payloads_small_and_the_whole_output_in_the_sandbox(
    stack: Stack,
) -> None:
    turns = [
        {
            "tool_calls": [
                {"name": "execute", "args": {"command": "head -c 200000000 /dev/zero | tr '\\0' x"}}
            ]
        },
        {"text": "That was big."},
    ]
    execution = await stack.new_execution("Print a lot", turns)
    result = await (await stack.start(execution)).result()
    assert result.phase == ax.EXECUTION_COMPLETED
    assert result.ByteSize() < 1_000_000
    stored = (await stack.stored(execution.metadata.id)).status
    assert stored.ByteSize() < 1_000_000
    kept = list((stack.workspace / ".agent-runner" / "outputs").glob("*.stdout"))
    assert [path.stat().st_size for path in kept] == [200_000_000]
    assert f"/.agent-runner/outputs/{kept[0].name}" in stored.tool_calls[0].result


async def test_the_run_survives_a_temporal_server_restart(tmp_path: Path) -> None:
    port = free_port()
    database = tmp_path / "temporal.sqlite3"
    server = TemporalDevServer(port=port, db_file=database)
    server.start()
    try:
        async with running_stack(server, tmp_path) as stack:
            turns = [
                {
                    "tool_calls": [
                        {"name": "execute", "args": {"command": "touch started; sleep 5"}}
                    ]
                },
                {"text": "Done despite the restart."},
            ]
            execution = await stack.new_execution("Survive", turns)
            handle = await stack.start(execution)
            await async_wait_until(
                (stack.workspace / "started").exists, within=60, what="the command"
            )
            server.stop()
            server = TemporalDevServer(port=port, db_file=database)
            server.start()
            result = await asyncio.wait_for(handle.result(), 120)
            assert result.phase == ax.EXECUTION_COMPLETED
            assert result.messages[-1].content == "Done despite the restart."
    finally:
        server.stop()
