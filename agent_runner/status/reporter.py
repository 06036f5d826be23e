"""`StatusReporter`: the status reaches the backend while the agent runs, without slowing it.

The agent only marks the status changed (`changed()`, never awaits). A
background task pushes the whole current status so that each change reaches the
backend within `staleness_s` of being made: it waits after a change for as long
as the budget allows, less what a push has recently taken, so that the changes
of a burst (a streamed answer) travel together; urgent changes (a phase) go at
once; a failing backend is retried with exponential backoff. `finish()` delivers
the final status, retrying until a deadline; a push failure is logged, never
raised.

A refusal (`StatusRefused`: the execution already ended, or a newer attempt
replaced this one) is final, not an outage: the reporter logs it once and
pushes nothing more, the final status included. `fence()` does the same on the
runner's own knowledge that this attempt is no longer current.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from agent_runner import wire
from agent_runner.backend import BackendError, StatusRefused

log = logging.getLogger(__name__)

Status = wire.agentexecution.AgentExecutionStatus
Push = Callable[[Status], Awaitable[object]]

DEFAULT_STALENESS_S = 0.3
"""How long a change may wait before the backend has it (when the backend answers
as fast as it has been): a watcher sees a live status, and a streamed answer costs
about three pushes a second, not one per chunk."""
MAX_BACKOFF_S = 5.0
FIRST_PUSH_ESTIMATE_S = 0.02
"""What a push is assumed to take before one has been timed."""
PUSH_TIME_WEIGHT = 0.2
"""Weight of the latest push in the running estimate of a push's duration."""


class StatusReporter:
    def __init__(
        self,
        push: Push,
        current: Callable[[], Status],
        *,
        what: str = "execution",
        staleness_s: float = DEFAULT_STALENESS_S,
        max_backoff_s: float = MAX_BACKOFF_S,
    ) -> None:
        self._push = push
        self._current = current
        self._what = what
        self._staleness_s = staleness_s
        self._push_estimate_s = min(FIRST_PUSH_ESTIMATE_S, staleness_s / 2)
        self._max_backoff_s = max_backoff_s
        self._version = 0
        self._pushed_version = 0
        self._urgent = False
        self._first_unpushed_at: float | None = None
        self._wake = asyncio.Event()
        self._hurry = asyncio.Event()
        """Set by an urgent change or a fence: stop gathering changes."""
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.pushes = 0
        """Successful pushes so far."""
        self.failures = 0
        """Failed push attempts so far."""
        self.max_staleness_s = 0.0
        """Longest time a change waited before a push carried it to the backend."""
        self.refused: str | None = None
        """Why the backend (or `fence`) ended this reporter's pushes for good, if it did."""

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"status reporter of {self._what}")

    def fenced(self) -> bool:
        """True once the backend refused a push for good, or `fence` was called."""
        return self.refused is not None

    def fence(self, reason: str) -> None:
        """This attempt no longer owns the status: push nothing more, the final status
        included (idempotent; the first reason is kept)."""
        if self.refused is None:
            self.refused = reason
            log.warning("status of %s: no more pushes: %s", self._what, reason)
        self._hurry.set()
        self._wake.set()

    def changed(self, *, urgent: bool = False) -> None:
        """The status changed; `urgent` (a phase change) goes without waiting."""
        self._version += 1
        if self._first_unpushed_at is None:
            self._first_unpushed_at = time.monotonic()
        self._urgent = self._urgent or urgent
        if urgent:
            self._hurry.set()
        self._wake.set()

    async def _run(self) -> None:
        backoff = self._staleness_s
        while not self._over():
            await self._wake.wait()
            self._wake.clear()
            if self._over():
                return
            if self._version == self._pushed_version:
                continue
            await self._gather_changes()
            if self._over():
                return
            if await self._push_once():
                backoff = self._staleness_s
            elif self._over():
                return
            else:
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff_s)
                self._wake.set()

    def _over(self) -> bool:
        """Fenced, or stopping: the background pushes end at their next turn."""
        return self.fenced() or self._stopping

    async def _gather_changes(self) -> None:
        """Let more changes join the push, until the oldest one's budget, less a push's
        expected duration, is spent, or an urgent change (or a fence) arrives."""
        while not self._urgent and not self._over() and self._first_unpushed_at is not None:
            send_by = self._first_unpushed_at + self._staleness_s - self._push_estimate_s
            wait = send_by - time.monotonic()
            if wait <= 0:
                return
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._hurry.wait()

    async def _push_once(self) -> bool:
        # The snapshot taken now carries every change so far; changes made while the
        # push is in flight start a new wait of their own.
        version, changed_at = self._version, self._first_unpushed_at
        self._first_unpushed_at = None
        self._urgent = False
        self._hurry.clear()
        started = time.monotonic()
        try:
            await self._push(self._current())
        except StatusRefused as err:
            self.fence(f"the backend refused it ({err})")
            return False
        except BackendError as err:
            self.failures += 1
            if changed_at is not None:
                self._first_unpushed_at = changed_at  # still undelivered, still waiting
            log.warning("status push for %s failed (will retry): %s", self._what, err)
            return False
        self.pushes += 1
        delivered = time.monotonic()
        took = min(delivered - started, self._staleness_s / 2)  # keep some time to gather
        self._push_estimate_s += PUSH_TIME_WEIGHT * (took - self._push_estimate_s)
        self._pushed_version = max(self._pushed_version, version)
        if changed_at is not None:
            self.max_staleness_s = max(self.max_staleness_s, delivered - changed_at)
        return True

    async def stop(self) -> None:
        """Stop the background pushes without a final one (idempotent)."""
        if self._task is not None:
            # Said before the cancellation, and the task woken: a push whose client
            # swallows the cancellation (redis-py's can) must not leave the task
            # waiting for changes forever, and this call with it.
            self._stopping = True
            self._hurry.set()
            self._wake.set()
            self._task.cancel()
            # Collects the background task's end; only our own cancellation propagates.
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def finish(self, deadline: float) -> bool:
        """Stop the background pushes and deliver the current status, retrying until
        `deadline` (a `time.monotonic()` value). True when the backend has it."""
        await self.stop()
        self._version += 1
        backoff = self._staleness_s
        while not self.fenced():
            if await self._push_once():
                return True
            if self.fenced():
                break
            if time.monotonic() + backoff > deadline:
                log.error(
                    "status of %s could not be delivered before the deadline; "
                    "the backend keeps its last known status",
                    self._what,
                )
                return False
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self._max_backoff_s)
        return False
