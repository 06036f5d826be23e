"""Heartbeats on a timer, from a background task.

Time-based, never event-based: a command that prints nothing for ten minutes
still heartbeats, and a cancellation (which reaches an activity only through
a heartbeat's answer) arrives within one interval.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from types import TracebackType
from typing import Any

import temporalio.activity

from agent_runner import wire

MAX_INTERVAL_S = 2.0
"""Upper bound, so that cancellation is noticed within seconds whatever the timeout."""


def progress_details(
    execution_id: str, status: wire.agentexecution.AgentExecutionStatus
) -> dict[str, Any]:
    """What each heartbeat carries, in the wire's lowerCamelCase (peers read it as JSON)."""
    return {
        "executionId": execution_id,
        "phase": wire.agentexecution.ExecutionPhase.Name(status.phase),
        "messages": len(status.messages),
        "toolCalls": len(status.tool_calls),
    }


def heartbeat_interval(heartbeat_timeout: timedelta | None) -> float:
    if heartbeat_timeout is None:
        return MAX_INTERVAL_S
    return max(0.1, min(heartbeat_timeout.total_seconds() / 3, MAX_INTERVAL_S))


class Heartbeater:
    """`async with Heartbeater(details)`: heartbeats with `details()` until the block ends."""

    def __init__(
        self, details: Callable[[], dict[str, Any]], on_beat: Callable[[], None] = lambda: None
    ) -> None:
        self._details = details
        self._on_beat = on_beat
        self._interval_s = heartbeat_interval(temporalio.activity.info().heartbeat_timeout)
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            temporalio.activity.heartbeat(self._details())
            self._on_beat()
            await asyncio.sleep(self._interval_s)

    async def __aenter__(self) -> Heartbeater:
        self._task = asyncio.create_task(self._run(), name="heartbeats")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
