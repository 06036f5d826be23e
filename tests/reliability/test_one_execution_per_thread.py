"""One execution per conversation thread at a time: a second one waits, says so, loses nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from agent_runner import wire
from agent_runner.activities.thread_lock import Holder, PostgresThreadLocks, ThreadLease
from tests.helpers import async_wait_until
from tests.integration.conftest import Stack
from tests.integration.test_postgres_memory import postgres_url

pytestmark = [pytest.mark.anyio, pytest.mark.reliability, pytest.mark.timeout(300)]

ax = wire.agentexecution

__all__ = ["postgres_url"]  # the fixture, imported for the PostgreSQL test


def one_command(command: str, answer: str) -> list[dict[str, object]]:
    return [
        {"tool_calls": [{"name": "execute", "args": {"command": command}}]},
        {"text": answer},
    ]


async def test_two_executions_of_one_session_at_once_both_land_in_the_conversation(
    stack: Stack,
) -> None:
    session = await stack.new_session()
    first = await stack.new_execution(
        "Run the six-second step", one_command("sleep 6; echo six", "Six done."), session_id=session
    )
    second = await stack.new_execution(
        "Run the three-second step",
        one_command("sleep 3; echo three", "Three done."),
        session_id=session,
    )
    handles = [await stack.start(first), await stack.start(second)]
    results = await asyncio.wait_for(asyncio.gather(*(h.result() for h in handles)), 180)
    assert [r.phase for r in results] == [ax.EXECUTION_COMPLETED] * 2

    # Whichever started second waited for the other, and its status says so.
    notes = [
        m.content
        for r in results
        for m in r.messages
        if m.type == ax.MESSAGE_SYSTEM and m.content.startswith("waiting:")
    ]
    ids = {first.metadata.id, second.metadata.id}
    assert len(notes) == 1 and any(f"execution {i} is running" in notes[0] for i in ids), notes

    # Both exchanges are in the thread: a third execution's model sees them all.
    check = await stack.new_execution(
        "What happened?",
        [
            {
                "expect": {
                    "history_contains": [
                        "Run the six-second step",
                        "Six done.",
                        "Run the three-second step",
                        "Three done.",
                    ]
                },
                "text": "Both steps ran.",
            }
        ],
        session_id=session,
    )
    result = await asyncio.wait_for((await stack.start(check)).result(), 120)
    assert result.phase == ax.EXECUTION_COMPLETED


@pytest.fixture
async def two_workers_locks(postgres_url: str) -> AsyncIterator[list[PostgresThreadLocks]]:
    locks = [await PostgresThreadLocks.connect(postgres_url) for _ in range(2)]
    yield locks
    for lock in locks:
        await lock.close()


async def test_in_postgresql_a_thread_is_held_by_one_execution_across_workers(
    two_workers_locks: list[PostgresThreadLocks],
) -> None:
    here, there = two_workers_locks  # two workers, two connections to one database
    thread = "thread-ses-pg"
    running, queued = Holder("aex-running", 1), Holder("aex-queued", 1)
    assert await here.take(thread, running, lease_s=30) == running
    assert await there.take(thread, queued, lease_s=30) == running  # named, not taken

    # the running execution's next attempt (its worker died) takes over at once
    retry = Holder("aex-running", 2)
    assert await there.take(thread, retry, lease_s=30) == retry
    assert not await here.renew(thread, running, lease_s=30)  # the old attempt knows

    # the queued execution waits, saying for whom, and runs once the thread is free
    waited_for: list[Holder] = []
    lease = ThreadLease(there, thread, queued, on_wait=waited_for.append, on_lost=lambda: None)
    waiting = asyncio.create_task(lease.acquire())
    await async_wait_until(lambda: waited_for == [retry], within=10, what="the wait")
    assert not waiting.done()
    await here.release(thread, retry)
    await asyncio.wait_for(waiting, 10)
    await lease.release()

    # a holder that stops renewing frees the thread when its lease runs out
    assert await here.take(thread, running, lease_s=0.5) == running
    assert await there.take(thread, queued, lease_s=30) == running

    async def taken() -> bool:
        return await there.take(thread, queued, lease_s=30) == queued

    await async_wait_until(taken, within=10, what="the lease to run out")
