"""Only the current attempt writes an execution's status, and a final status stays final.

A worker frozen (SIGSTOP) past the heartbeat timeout is a stale attempt when it
thaws: whatever it pushes then must not reach the daemon's stored status.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from temporalio.client import WorkflowFailureError

from agent_runner import wire
from tests.helpers import async_wait_until
from tests.integration.conftest import Stack
from tests.reliability.test_chaos import Workers

pytestmark = [pytest.mark.anyio, pytest.mark.reliability, pytest.mark.timeout(600)]

ax = wire.agentexecution

NO_MORE_PUSHES = "no more pushes"
"""What a worker logs when its attempt stops writing the status for good."""


def frozen_workers(stack: Stack, tmp_path: Path, attempts: int) -> Iterator[Workers]:
    pool = Workers(stack, tmp_path / "worker-data")
    stack.options = replace(
        stack.options,
        runner_task_queue=pool.queue,
        execute_attempts=attempts,
        heartbeat_timeout_s=5,
    )
    yield pool
    for process in pool.processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGCONT)
    pool.stop_all()
    print(pool.logs())  # pytest shows it only when the test failed


@pytest.fixture
def several_attempts(stack: Stack, tmp_path: Path) -> Iterator[Workers]:
    # Many: the frozen worker's pending polls swallow retries (each then times out in
    # turn) until they are used up and a retry reaches the other worker.
    yield from frozen_workers(stack, tmp_path, attempts=10)


@pytest.fixture
def one_attempt(stack: Stack, tmp_path: Path) -> Iterator[Workers]:
    yield from frozen_workers(stack, tmp_path, attempts=1)


def freeze(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, signal.SIGSTOP)


def thaw(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, signal.SIGCONT)


def worker_log(workers: Workers, number: int) -> str:
    path = workers.log_dir / f"worker-{number}.log"
    return path.read_text(errors="replace") if path.exists() else ""


# The command sleeps long in the first attempt only: the stale attempt is still in
# it when it thaws, and the second attempt's rerun of the step ends at once.
SLOW_ONCE = "touch started; if [ ! -f again ]; then touch again; sleep 40; fi; echo step done"


async def command_running(stack: Stack, execution_id: str) -> None:
    """Until the daemon shows the command running (and the sandbox shows it started)."""

    async def shown() -> bool:
        calls = (await stack.stored(execution_id)).status.tool_calls
        return [c.status for c in calls] == [ax.TOOL_CALL_RUNNING]

    await async_wait_until((stack.workspace / "started").exists, within=90, what="attempt 1")
    await async_wait_until(shown, within=30, what="the running command in the status")


async def warm_up(stack: Stack) -> None:
    """One short execution first, so that the worker has loaded what an execution needs."""
    execution = await stack.new_execution("Warm up", [{"text": "Ready."}])
    result = await asyncio.wait_for((await stack.start(execution)).result(), 120)
    assert result.phase == ax.EXECUTION_COMPLETED


async def after_thaw(
    stack: Stack, workers: Workers, stale: subprocess.Popen[bytes], execution_id: str
) -> list[ax.AgentExecution]:
    """Thaw the stale worker; every status change the daemon accepts from then on, until
    the stale worker is gone: once its attempt said it stops pushing (or a change got
    through), it is stopped (SIGTERM: running attempts end as they would) and waited for.

    A frozen worker can hold more than one stale attempt: its pending polls for tasks
    stay open on the server, which hands them retries that can only start on thawing.
    """
    with stack.daemon.watch(execution_id) as accepted:
        thaw(stale)
        await async_wait_until(
            lambda: NO_MORE_PUSHES in worker_log(workers, 1) or not accepted.empty(),
            within=90,
            what="the stale attempt to stop pushing, or a change of the status",
        )
        stale.send_signal(signal.SIGTERM)
        await asyncio.to_thread(stale.wait, 120)
        changes = []
        while not accepted.empty():
            changes.append(accepted.get_nowait())
    return changes


async def test_a_thawed_stale_attempt_never_overwrites_the_completed_status(
    stack: Stack, several_attempts: Workers
) -> None:
    workers = several_attempts
    turns = [
        {"text": "Working.", "tool_calls": [{"name": "execute", "args": {"command": SLOW_ONCE}}]},
        {"text": "Finished."},
    ]
    stale = workers.start()
    await warm_up(stack)
    execution = await stack.new_execution("Survive a freeze", turns)
    execution_id = execution.metadata.id
    handle = await stack.start(execution)
    await command_running(stack, execution_id)
    freeze(stale)
    workers.start()  # a later attempt runs here once attempt 1 misses its heartbeats
    result = await asyncio.wait_for(handle.result(), 400)
    assert result.phase == ax.EXECUTION_COMPLETED

    completed = await stack.stored(execution_id)
    assert completed.status.phase == ax.EXECUTION_COMPLETED
    assert [(c.id, c.status) for c in completed.status.tool_calls] == [
        ("call_1_1", ax.TOOL_CALL_COMPLETED)
    ]

    changes = await after_thaw(stack, workers, stale, execution_id)
    for change in [*changes, await stack.stored(execution_id)]:
        assert change.status.phase == ax.EXECUTION_COMPLETED, ax.ExecutionPhase.Name(
            change.status.phase
        )
        assert list(change.status.tool_calls) == list(completed.status.tool_calls)
        assert list(change.status.messages) == list(completed.status.messages)
    assert NO_MORE_PUSHES in worker_log(workers, 1)


async def test_a_thawed_only_attempt_leaves_the_recorded_failure_as_it_is(
    stack: Stack, one_attempt: Workers
) -> None:
    workers = one_attempt
    turns = [
        {"text": "Working.", "tool_calls": [{"name": "execute", "args": {"command": SLOW_ONCE}}]},
        {"text": "Finished."},
    ]
    stale = workers.start()
    await warm_up(stack)
    execution = await stack.new_execution("Fail by freezing", turns)
    execution_id = execution.metadata.id
    handle = await stack.start(execution)
    await command_running(stack, execution_id)
    freeze(stale)
    with pytest.raises(WorkflowFailureError):
        await asyncio.wait_for(handle.result(), 120)

    failed = await stack.stored(execution_id)
    assert failed.status.phase == ax.EXECUTION_FAILED
    assert "timeout" in failed.status.error.lower()
    # the failure closes what was open, naming why
    [call] = failed.status.tool_calls
    assert (call.name, call.status) == ("execute", ax.TOOL_CALL_FAILED)
    assert "FAILED" in call.error

    changes = await after_thaw(stack, workers, stale, execution_id)
    for change in [*changes, await stack.stored(execution_id)]:
        assert change.status.phase == ax.EXECUTION_FAILED, ax.ExecutionPhase.Name(
            change.status.phase
        )
        assert change.status.error == failed.status.error
        assert list(change.status.tool_calls) == list(failed.status.tool_calls)
    assert NO_MORE_PUSHES in worker_log(workers, 1)
