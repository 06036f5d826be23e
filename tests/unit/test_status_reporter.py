"""StatusReporter: coalesced, never blocking, retried, final push guaranteed."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time

import pytest

from agent_runner import wire
from agent_runner.backend import BackendUnavailable
from agent_runner.status import StatusReporter
from tests.helpers import async_wait_until

pytestmark = pytest.mark.anyio

Status = wire.agentexecution.AgentExecutionStatus


class Backend:
    def __init__(self) -> None:
        self.received: list[str] = []
        self.down = False
        self.delay = 0.0

    async def push(self, status: Status) -> None:
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.down:
            raise BackendUnavailable("down", "UNAVAILABLE")
        self.received.append(status.error)


async def test_a_burst_of_changes_is_coalesced_into_few_pushes() -> None:
    backend, status = Backend(), Status()
    reporter = StatusReporter(backend.push, lambda: status, staleness_s=0.1)
    reporter.start()
    for n in range(500):
        status.error = f"v{n}"
        reporter.changed()
        await asyncio.sleep(0.001)
    assert await reporter.finish(time.monotonic() + 5)
    assert backend.received[-1] == "v499"
    assert len(backend.received) < 50


async def test_urgent_changes_go_at_once() -> None:
    backend, status = Backend(), Status()
    reporter = StatusReporter(backend.push, lambda: status, staleness_s=60)
    reporter.start()
    status.error = "first"
    reporter.changed(urgent=True)
    await async_wait_until(lambda: backend.received == ["first"], within=5)
    await reporter.finish(time.monotonic() + 5)


async def test_a_stuck_backend_never_blocks_the_caller() -> None:
    release = asyncio.Event()
    pushed: list[str] = []
    status = Status()

    async def stuck_push(current: Status) -> None:
        await release.wait()
        pushed.append(current.error)

    reporter = StatusReporter(stuck_push, lambda: status, staleness_s=0.01)
    reporter.start()
    reporter.changed(urgent=True)
    await asyncio.sleep(0.05)  # the first push is now in flight, waiting on `release`
    for n in range(1000):
        status.error = f"v{n}"
        reporter.changed()  # returns at once although the backend never answers
    release.set()
    assert await reporter.finish(time.monotonic() + 10)
    assert pushed[-1] == "v999"


async def test_pushes_retry_while_the_backend_is_down_and_the_final_one_lands() -> None:
    backend, status = Backend(), Status()
    backend.down = True
    reporter = StatusReporter(backend.push, lambda: status, staleness_s=0.01, max_backoff_s=0.05)
    reporter.start()
    status.error = "during outage"
    reporter.changed(urgent=True)
    await async_wait_until(lambda: reporter.failures >= 3, within=5)
    status.error = "final"

    async def recover() -> None:
        await asyncio.sleep(0.3)
        backend.down = False

    recovery = asyncio.create_task(recover())
    assert await reporter.finish(time.monotonic() + 10)
    await recovery
    assert backend.received[-1] == "final"


async def test_the_final_push_gives_up_at_the_deadline_without_raising() -> None:
    backend, status = Backend(), Status()
    backend.down = True
    reporter = StatusReporter(backend.push, lambda: status, staleness_s=0.01, max_backoff_s=0.05)
    reporter.start()
    assert await reporter.finish(time.monotonic() + 0.3) is False
    assert backend.received == []


async def test_staleness_is_measured_per_change_not_since_the_first_one() -> None:
    status = Status()
    reporter = StatusReporter(Backend().push, lambda: status, staleness_s=0.05)
    reporter.start()
    for _ in range(40):  # a steady stream of changes for about a second
        reporter.changed()
        await asyncio.sleep(0.025)
    await reporter.finish(time.monotonic() + 5)
    assert reporter.pushes >= 5
    # each change waited about its budget, not the whole second
    assert reporter.max_staleness_s < 0.5


async def test_a_burst_after_a_quiet_spell_travels_in_one_push_within_the_budget() -> None:
    backend, status = Backend(), Status()
    reporter = StatusReporter(backend.push, lambda: status, staleness_s=0.4)
    reporter.start()
    await asyncio.sleep(0.5)  # quiet: nothing to push
    for n in range(5):  # a tool finishes and the model starts answering
        status.error = f"v{n}"
        reporter.changed()
        await asyncio.sleep(0.01)
    await async_wait_until(lambda: bool(backend.received), within=5)
    await asyncio.sleep(0.5)
    assert backend.received == ["v4"]
    await reporter.stop()


async def test_a_slow_backend_makes_pushes_leave_earlier_to_keep_the_budget() -> None:
    """A push taking 0.2 s of a 0.5 s budget: pushes leave about 0.3 s after the change
    they carry first, not 0.5 s, so each change still lands within the budget."""
    backend, status = Backend(), Status()
    backend.delay = 0.2
    started: list[float] = []

    async def push(current: Status) -> None:
        started.append(time.monotonic())
        await backend.push(current)

    reporter = StatusReporter(push, lambda: status, staleness_s=0.5)
    reporter.start()
    end = time.monotonic() + 4
    while time.monotonic() < end:  # a steady stream of changes
        status.error = str(time.monotonic())
        reporter.changed()
        await asyncio.sleep(0.01)
    await reporter.finish(time.monotonic() + 5)
    gaps = sorted(b - a for a, b in itertools.pairwise(started[4:-1]))
    assert gaps, started
    assert gaps[len(gaps) // 2] < 0.4  # ~0.3 s; 0.5 s if the push's own time were ignored


async def test_finish_ends_even_when_a_push_swallows_its_cancellation() -> None:
    """redis-py's asyncio client can return normally from a command whose task was
    cancelled: the background task must still end, and `finish` deliver the status."""
    status = Status()
    in_push, release = asyncio.Event(), asyncio.Event()
    received: list[str] = []

    async def swallowing_push(current: Status) -> None:
        if not received and not in_push.is_set():
            in_push.set()
            with contextlib.suppress(asyncio.CancelledError):  # lost, as the client lost it
                await release.wait()
        received.append(current.error)

    reporter = StatusReporter(swallowing_push, lambda: status, staleness_s=0.01)
    reporter.start()
    status.error = "first"
    reporter.changed(urgent=True)
    await asyncio.wait_for(in_push.wait(), 5)
    status.error = "final"
    assert await asyncio.wait_for(reporter.finish(time.monotonic() + 5), 10)
    assert received[-1] == "final"
