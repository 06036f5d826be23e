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
from tests.helpers import async_wait_until, process_gone
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


def strays(workspace: Path) -> list[str]:
    """Processes still working in the sandbox (their working folder is in it)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or process_gone(int(proc.name)):
            continue
        try:
            cwd = os.readlink(proc / "cwd")
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if cwd == str(workspace) or cwd.startswith(f"{workspace}/"):
            found.append(f"{proc.name}: {command}")
    return found


def alive(pids: list[int]) -> list[int]:
    return [pid for pid in pids if not process_gone(pid)]


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
                        "command": "echo two >> log.txt; if [ ! -f resumed ]; then touch resumed; "
                        "echo $$ > attempt.pid; touch started; sleep 600; fi"
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
    command = int((stack.workspace / "attempt.pid").read_text())
    await async_wait_until(lambda: process_gone(command), within=10, what="the command to end")
    workers.start()
    result = await asyncio.wait_for(handle.result(), 120)
    assert result.phase == ax.EXECUTION_COMPLETED
    assert strays(stack.workspace) == []
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


async def test_a_200_mb_output_keeps_payloads_small_and_its_first_64_mib_in_the_sandbox(
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
    [kept] = list((stack.workspace / ".agent-runner" / "outputs").glob("*.stdout"))
    size = kept.stat().st_size
    assert 63 * 1024 * 1024 < size <= 64 * 1024 * 1024  # the default cap per stream
    result_text = stored.tool_calls[0].result
    assert f"its first {size} bytes are in /.agent-runner/outputs/{kept.name}" in result_text
    assert "the spool keeps at most 67108864 bytes per stream" in result_text


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


# A command that leaves children of every kind: in its process group, detached
# from it (setsid), and the shell itself; the retry checks that none still runs.
ORPHAN_COMMAND = (
    "if [ ! -f first.done ]; then touch first.done; "
    "sleep 600 & echo $! >> old.pids; "
    "setsid sleep 600 & echo $! >> old.pids; "
    "echo $$ >> old.pids; touch started; sleep 600; "
    "else for p in $(cat old.pids); do "
    "s=$(awk '{print $3}' /proc/$p/stat 2>/dev/null); "
    'if [ -n "$s" ] && [ "$s" != Z ]; then echo "$p $s" >> concurrent.txt; fi; '
    "done; echo retried alone; fi"
)


async def test_a_killed_worker_group_leaves_no_command_and_the_retry_runs_alone(
    stack: Stack, workers: Workers
) -> None:
    turns = [
        {"tool_calls": [{"name": "execute", "args": {"command": ORPHAN_COMMAND}}]},
        {"text": "Done."},
    ]
    first = workers.start()
    execution = await stack.new_execution("Orphans", turns)
    handle = await stack.start(execution)
    await async_wait_until((stack.workspace / "started").exists, within=90, what="the command")
    old = [int(line) for line in (stack.workspace / "old.pids").read_text().split()]
    assert len(old) == 3 and alive(old) == old
    workers.kill(first)  # SIGKILL to the worker's whole process group
    await async_wait_until(lambda: not alive(old), within=10, what="every old process to end")
    assert strays(stack.workspace) == []
    workers.start()
    result = await asyncio.wait_for(handle.result(), 120)
    assert result.phase == ax.EXECUTION_COMPLETED
    assert not (stack.workspace / "concurrent.txt").exists()
    stored = (await stack.stored(execution.metadata.id)).status
    assert "retried alone" in stored.tool_calls[-1].result
    assert strays(stack.workspace) == []


async def test_an_endless_printer_leaves_at_most_the_cap_on_disk(
    temporal_server: TemporalDevServer, tmp_path: Path
) -> None:
    async with running_stack(temporal_server, tmp_path, {"SANDBOX_SPOOL_STREAM_MIB": "1"}) as stack:
        turns = [
            {"tool_calls": [{"name": "execute", "args": {"command": "timeout 5 yes; true"}}]},
            {"text": "Printed a lot."},
        ]
        execution = await stack.new_execution("Print forever", turns)
        result = await (await stack.start(execution)).result()
        assert result.phase == ax.EXECUTION_COMPLETED
        outputs = stack.workspace / ".agent-runner" / "outputs"
        [kept] = list(outputs.iterdir())
        assert kept.stat().st_size <= 1024 * 1024
        stored = (await stack.stored(execution.metadata.id)).status
        note = stored.tool_calls[0].result
        size = kept.stat().st_size
        assert f"its first {size} bytes are in /.agent-runner/outputs/{kept.name}" in note
        assert "the spool keeps at most 1048576 bytes per stream" in note
