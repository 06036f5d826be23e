"""`StatusReporter`: the status reaches the backend while the agent runs, without slowing it.

The agent only marks the status changed (`changed()`, never awaits). A
background task pushes the whole current status when it changed, at most
every `interval_s`, at once for urgent changes (phase), and with exponential
backoff while the backend fails. `finish()` delivers the final status,
retrying until a deadline; a push failure is logged, never raised.

A refusal (`StatusRefused`: the execution already ended, or a newer attempt
replaced this one) is final, not an outage: the reporter logs it once and
pushes nothing more, the final status included. `fence()` does the same on the
runner's own knowledge that this attempt is no longer current.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from agent_runner import wire
from agent_runner.backend import BackendError, StatusRefused

log = logging.getLogger(__name__)

Status = wire.agentexecution.AgentExecutionStatus
Push = Callable[[Status], Awaitable[object]]

DEFAULT_INTERVAL_S = 0.25
MAX_BACKOFF_S = 5.0


class StatusReporter:
    def __init__(
        self,
        push: Push,
        current: Callable[[], Status],
        *,
        what: str = "execution",
        interval_s: float = DEFAULT_INTERVAL_S,
        max_backoff_s: float = MAX_BACKOFF_S,
    ) -> None:
        self._push = push
        self._current = current
        self._what = what
        self._interval_s = interval_s
        self._max_backoff_s = max_backoff_s
        self._version = 0
        self._pushed_version = 0
        self._urgent = False
        self._first_unpushed_at: float | None = None
        self._last_push_at = 0.0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
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
        self._wake.set()

    def changed(self, *, urgent: bool = False) -> None:
        """The status changed; `urgent` (a phase change) skips the interval."""
        self._version += 1
        if self._first_unpushed_at is None:
            self._first_unpushed_at = time.monotonic()
        self._urgent = self._urgent or urgent
        self._wake.set()

    async def _run(self) -> None:
        backoff = self._interval_s
        while not self.fenced():
            await self._wake.wait()
            self._wake.clear()
            if self.fenced():
                return
            if self._version == self._pushed_version:
                continue
            if not self._urgent:
                wait = self._last_push_at + self._interval_s - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
            if await self._push_once():
                backoff = self._interval_s
            elif self.fenced():
                return
            else:
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff_s)
                self._wake.set()

    async def _push_once(self) -> bool:
        # The snapshot taken now carries every change so far; changes made while the
        # push is in flight start a new wait of their own.
        version, changed_at = self._version, self._first_unpushed_at
        self._first_unpushed_at = None
        self._urgent = False
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
        self._last_push_at = time.monotonic()
        self._pushed_version = max(self._pushed_version, version)
        if changed_at is not None:
            self.max_staleness_s = max(self.max_staleness_s, self._last_push_at - changed_at)
        return True

    async def stop(self) -> None:
        """Stop the background pushes without a final one (idempotent)."""
        if self._task is not None:
            self._task.cancel()
            # Collects the background task's end; only our own cancellation propagates.
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def finish(self, deadline: float) -> bool:
        """Stop the background pushes and deliver the current status, retrying until
        `deadline` (a `time.monotonic()` value). True when the backend has it."""
        await self.stop()
        self._version += 1
        backoff = self._interval_s
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
