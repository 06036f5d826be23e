"""Cloud mode: every status update also goes to a Redis stream, for real-time subscribers.

One stream per execution, `stigmer:agent-execution:<id>:status`, capped at
`STREAM_MAX_LENGTH` entries; each entry holds `phase` and the whole `status` as
proto3 JSON. The connection is checked at start-up (a worker that cannot reach
Redis does not start) and closed on shutdown. `MODE=local` never touches Redis.
"""

from __future__ import annotations

import asyncio
import logging

from google.protobuf import json_format
from redis.asyncio import Redis
from redis.exceptions import RedisError

from agent_runner import wire
from agent_runner.config import RedisConfig
from agent_runner.errors import AgentRunnerError

log = logging.getLogger(__name__)

STREAM_MAX_LENGTH = 1000


class RedisUnavailable(AgentRunnerError):
    """Redis could not be reached at start-up."""


def stream_key(execution_id: str) -> str:
    return f"stigmer:agent-execution:{execution_id}:status"


class StatusStream:
    def __init__(self, config: RedisConfig) -> None:
        self._where = f"{config.host}:{config.port}"
        self._redis = Redis(
            host=config.host,
            port=config.port,
            password=config.password.reveal() if config.password else None,
            socket_connect_timeout=5,
            socket_timeout=5,
        )

    async def connect(self) -> None:
        """Ping once; `RedisUnavailable` with a clear message when that fails."""
        try:
            await self._redis.ping()
        except RedisError as err:
            await self._redis.aclose()
            raise RedisUnavailable(
                f"cannot reach Redis at {self._where} ({err}); check REDIS_HOST, REDIS_PORT "
                "and REDIS_PASSWORD, or unset REDIS_HOST"
            ) from None

    async def publish(
        self, execution_id: str, status: wire.agentexecution.AgentExecutionStatus
    ) -> None:
        """Append the status to the execution's stream; a failure is logged, never raised.
        A cancellation is: redis-py (8.1) can swallow one that arrives while the command
        is in flight and return as if it had succeeded, so it is raised here again."""
        task = asyncio.current_task()
        cancels_before = task.cancelling() if task is not None else 0
        try:
            await self._redis.xadd(
                stream_key(execution_id),
                {
                    "phase": wire.agentexecution.ExecutionPhase.Name(status.phase),
                    "status": json_format.MessageToJson(status, indent=None),
                },
                maxlen=STREAM_MAX_LENGTH,
                approximate=True,
            )
        except RedisError as err:
            log.warning("execution %s: publishing to Redis failed: %s", execution_id, err)
        if task is not None and task.cancelling() > cancels_before:
            raise asyncio.CancelledError

    async def aclose(self) -> None:
        await self._redis.aclose()
