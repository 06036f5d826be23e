"""A worker killed inside a subagent: the retry resumes the subagent where it stopped, and
the final status shows it named and ended, with no turn of the script played twice."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent_runner import wire
from tests.helpers import async_wait_until
from tests.integration.conftest import Stack
from tests.reliability.test_chaos import Workers
from tests.reliability.test_fencing import frozen_workers, warm_up

pytestmark = [pytest.mark.anyio, pytest.mark.reliability, pytest.mark.timeout(300)]

ax = wire.agentexecution


@pytest.fixture
def workers(stack: Stack, tmp_path: Path) -> Iterator[Workers]:
    yield from frozen_workers(stack, tmp_path, attempts=5)


async def test_a_worker_killed_mid_subagent_leaves_a_named_ended_subagent(
    stack: Stack, workers: Workers
) -> None:
    long_step = (
        "echo ran >> runs.txt; touch started; "
        "if [ ! -f again ]; then touch again; sleep 600; fi; echo sub step done"
    )
    turns = [
        {
            "text": "Delegating.",
            "tool_calls": [
                {
                    "name": "task",
                    "args": {
                        "subagent_type": "general-purpose",
                        "description": "Run the long step",
                    },
                }
            ],
        },
        {
            "text": "Running it.",
            "tool_calls": [{"name": "execute", "args": {"command": long_step}}],
        },
        {"expect": {"contains": "sub step done"}, "text": "Sub step finished."},
        {"expect": {"contains": "Sub step finished."}, "text": "All done."},
    ]
    first = workers.start()
    await warm_up(stack)
    execution = await stack.new_execution("Delegate the long step", turns)
    handle = await stack.start(execution)
    await async_wait_until((stack.workspace / "started").exists, within=90, what="the subagent")
    workers.kill(first)  # the whole machine, mid-subagent
    workers.start()
    result = await asyncio.wait_for(handle.result(), 180)
    assert result.phase == ax.EXECUTION_COMPLETED

    stored = (await stack.stored(execution.metadata.id)).status
    for status in (result, stored):
        [sub] = status.sub_agent_executions
        assert (sub.id, sub.name, sub.input) == ("call_1_1", "general-purpose", "Run the long step")
        assert sub.status == ax.SUB_AGENT_COMPLETED and sub.completed_at
        assert "Sub step finished." in sub.output
        assert [(c.name, c.status) for c in status.tool_calls] == [("task", ax.TOOL_CALL_COMPLETED)]
        assert status.messages[-1].content == "All done."
    # the interrupted command ran again once; no scripted turn was played twice
    assert (stack.workspace / "runs.txt").read_text() == "ran\nran\n"
