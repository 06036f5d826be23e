"""The daemon's executions as the page follows them: the list, and every change, live.

The feed watches the daemon (every created or changed execution) and keeps a
summary of each of the most recent executions, so that listing hundreds costs
no database read. A subscriber gets the latest state of what changed since it
last looked, never a backlog: a slow page skips the states it missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import Any

from agent_runner import wire
from agent_runner.clock import utc_now
from agent_runner.local.store import Store
from agent_runner.local.web import present
from agent_runner.redaction import Redactor

ax = wire.agentexecution
log = logging.getLogger(__name__)

LIST_LIMIT = 1000
"""Executions the list holds, newest first."""


class Subscription:
    """The executions that changed since the last `next()`, latest state of each."""

    def __init__(self, execution_id: str | None) -> None:
        self.execution_id = execution_id
        """Only this execution's changes; None for every execution."""
        self.closed = False
        self._pending: dict[str, ax.AgentExecution] = {}
        self._ready = asyncio.Event()

    def push(self, execution: ax.AgentExecution) -> None:
        self._pending[execution.metadata.id] = execution
        self._ready.set()

    def close(self) -> None:
        self.closed = True
        self._ready.set()

    async def next(self, timeout_s: float) -> list[ax.AgentExecution]:
        """What changed, waiting at most `timeout_s`; empty on timeout or once closed."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await self._ready.wait()
        self._ready.clear()
        changed, self._pending = list(self._pending.values()), {}
        return changed


def runtime_mask(execution: ax.AgentExecution) -> Redactor:
    """Masks the secret values the execution itself carries (`spec.runtime_env`)."""
    return Redactor(v.value for v in execution.spec.runtime_env.values() if v.is_secret)


class ExecutionFeed:
    def __init__(
        self,
        store: Store,
        watch: Callable[[Callable[[ax.AgentExecution], None]], Callable[[], None]],
        default_model: str,
    ) -> None:
        self._store = store
        self._default_model = default_model
        self._summaries: dict[str, dict[str, Any]] | None = None
        self._subscriptions: set[Subscription] = set()
        self._unwatch = watch(self._changed)

    def close(self) -> None:
        self._unwatch()
        for subscription in self._subscriptions:
            subscription.close()

    def get(self, execution_id: str) -> ax.AgentExecution | None:
        return self._store.get_execution(execution_id)

    def summary(self, execution: ax.AgentExecution, created: str = "") -> dict[str, Any]:
        return present.summary(execution, self._default_model, runtime_mask(execution), created)

    def summaries(self) -> list[dict[str, Any]]:
        """The most recent executions, newest first."""
        if self._summaries is None:
            self._summaries = {}
            for row in reversed(self._store.recent_executions(LIST_LIMIT)):
                execution = self._store.get_execution(row.id)
                if execution is not None:
                    self._summaries[row.id] = self.summary(execution, row.created_at)
        return list(reversed(self._summaries.values()))

    def created(self, execution_id: str) -> str:
        known = (self._summaries or {}).get(execution_id)
        return str(known["created"]) if known else ""

    @contextlib.contextmanager
    def subscribe(self, execution_id: str | None = None) -> Iterator[Subscription]:
        subscription = Subscription(execution_id)
        self._subscriptions.add(subscription)
        try:
            yield subscription
        finally:
            self._subscriptions.discard(subscription)

    def _changed(self, execution: ax.AgentExecution) -> None:
        """Called by the daemon as it stores a change: a failure here must not fail its call."""
        try:
            self._apply(execution)
        except Exception:
            log.exception("the web view could not follow execution %s", execution.metadata.id)

    def _apply(self, execution: ax.AgentExecution) -> None:
        key = execution.metadata.id
        if self._summaries is not None:
            # An update keeps its entry's place; a new execution goes last, as the newest.
            known = self._summaries.get(key)
            created = str(known["created"]) if known else utc_now()
            self._summaries[key] = self.summary(execution, created)
            while len(self._summaries) > LIST_LIMIT:
                del self._summaries[next(iter(self._summaries))]
        for subscription in self._subscriptions:
            if subscription.execution_id in (None, key):
                subscription.push(execution)
