"""`BackendClient`: every backend method the runner (and the local CLI) calls.

One instance per process and endpoint, so one channel: the worker builds it at
start-up, passes it to whatever needs it and closes it on shutdown. Every call
has a deadline; failures become `ResourceNotFound`, `BackendAuthError`,
`BackendUnavailable` (retryable) or `BackendError`. The API key is sent by the
channel's interceptor and never logged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from types import TracebackType
from typing import Any, TypeVar

import grpc

from agent_runner import wire
from agent_runner.backend.channel import open_channel
from agent_runner.backend.errors import (
    BackendError,
    BackendUnavailable,
    StatusRefused,
    translate_rpc_error,
)
from agent_runner.config import BackendConfig

ATTEMPT_METADATA_KEY = "stigmer-execution-attempt"
"""gRPC metadata of `updateStatus`: the Temporal attempt of ExecuteGraphton that sends
the status (its fencing token; the backend refuses attempts older than the newest)."""
RECONNECT_WITHIN_S = 120.0
"""`follow_execution` gives up when the backend stays unreachable this long."""
DEFAULT_DEADLINE_S = 10.0
ARTIFACT_DEADLINE_S = 60.0
"""Skill artifacts are ZIPs up to the channel's message limit: they get longer."""

log = logging.getLogger(__name__)

Response = TypeVar("Response")

Session = wire.session.Session
AgentInstance = wire.agentinstance.AgentInstance
Agent = wire.agent.Agent
Skill = wire.skill.Skill
Environment = wire.environment.Environment
AgentExecution = wire.agentexecution.AgentExecution
AgentExecutionStatus = wire.agentexecution.AgentExecutionStatus
Reference = wire.apiresource.ApiResourceReference

_ENDED = frozenset(
    {
        wire.agentexecution.EXECUTION_COMPLETED,
        wire.agentexecution.EXECUTION_FAILED,
        wire.agentexecution.EXECUTION_CANCELLED,
    }
)
"""The final phases (status.phases has them too; the backend layer sits below status)."""


class BackendClient:
    def __init__(self, config: BackendConfig, *, deadline_s: float = DEFAULT_DEADLINE_S) -> None:
        self.endpoint = config.endpoint
        self._deadline_s = deadline_s
        self._channel = open_channel(config)
        channel = self._channel
        self._session_query = wire.session_grpc.SessionQueryControllerStub(channel)
        self._session_command = wire.session_grpc.SessionCommandControllerStub(channel)
        self._instance_query = wire.agentinstance_grpc.AgentInstanceQueryControllerStub(channel)
        self._agent_query = wire.agent_grpc.AgentQueryControllerStub(channel)
        self._skill_query = wire.skill_grpc.SkillQueryControllerStub(channel)
        self._environment_query = wire.environment_grpc.EnvironmentQueryControllerStub(channel)
        self._execution_command = wire.agentexecution_grpc.AgentExecutionCommandControllerStub(
            channel
        )
        self._execution_query = wire.agentexecution_grpc.AgentExecutionQueryControllerStub(channel)

    async def __aenter__(self) -> BackendClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        await self._channel.close(None)

    async def wait_until_ready(self, timeout_s: float) -> None:
        """Wait for the channel to connect; `BackendUnavailable` when it does not in time."""
        try:
            await asyncio.wait_for(self._channel.channel_ready(), timeout_s)
        except TimeoutError as err:
            raise BackendUnavailable(
                f"backend at {self.endpoint} did not accept a connection within {timeout_s:g}s",
                "UNAVAILABLE",
            ) from err

    async def _call(
        self,
        method: Callable[..., Awaitable[Response]],
        request: Any,
        *,
        what: str,
        kind: str,
        key: str,
        deadline_s: float | None = None,
        metadata: tuple[tuple[str, str], ...] | None = None,
    ) -> Response:
        try:
            return await method(request, timeout=deadline_s or self._deadline_s, metadata=metadata)
        except grpc.aio.AioRpcError as err:
            raise translate_rpc_error(err, what, kind, key) from err

    # -- sessions --------------------------------------------------------------

    async def get_session(self, session_id: str) -> Session:
        return await self._call(
            self._session_query.get,
            wire.session.SessionId(value=session_id),
            what="get session",
            kind="session",
            key=session_id,
        )

    async def create_session(self, session: Session) -> Session:
        return await self._call(
            self._session_command.create,
            session,
            what="create session",
            kind="session",
            key=session.metadata.id,
        )

    async def update_session(self, session: Session) -> Session:
        return await self._call(
            self._session_command.update,
            session,
            what="update session",
            kind="session",
            key=session.metadata.id,
        )

    # -- what an execution runs ------------------------------------------------

    async def get_agent_instance(self, instance_id: str) -> AgentInstance:
        return await self._call(
            self._instance_query.get,
            wire.agentinstance.AgentInstanceId(value=instance_id),
            what="get agent instance",
            kind="agent instance",
            key=instance_id,
        )

    async def get_agent(self, agent_id: str) -> Agent:
        return await self._call(
            self._agent_query.get,
            wire.agent.AgentId(value=agent_id),
            what="get agent",
            kind="agent",
            key=agent_id,
        )

    async def get_agent_by_reference(self, reference: Reference) -> Agent:
        return await self._call(
            self._agent_query.getByReference,
            reference,
            what="get agent by reference",
            kind="agent",
            key=reference.slug,
        )

    async def get_skill(self, skill_id: str) -> Skill:
        return await self._call(
            self._skill_query.get,
            wire.skill.SkillId(value=skill_id),
            what="get skill",
            kind="skill",
            key=skill_id,
        )

    async def get_skill_by_reference(self, reference: Reference) -> Skill:
        return await self._call(
            self._skill_query.getByReference,
            reference,
            what="get skill by reference",
            kind="skill",
            key=reference.slug,
        )

    async def get_skill_artifact(self, storage_key: str) -> bytes:
        response = await self._call(
            self._skill_query.getArtifact,
            wire.skill.GetArtifactRequest(artifact_storage_key=storage_key),
            what="get skill artifact",
            kind="skill artifact",
            key=storage_key,
            deadline_s=ARTIFACT_DEADLINE_S,
        )
        artifact: bytes = response.artifact
        return artifact

    async def get_environment(self, environment_id: str) -> Environment:
        return await self._call(
            self._environment_query.get,
            wire.apiresource.ApiResourceId(value=environment_id),
            what="get environment",
            kind="environment",
            key=environment_id,
        )

    async def get_environment_by_reference(self, reference: Reference) -> Environment:
        return await self._call(
            self._environment_query.getByReference,
            reference,
            what="get environment by reference",
            kind="environment",
            key=reference.slug,
        )

    # -- executions ------------------------------------------------------------

    async def create_execution(self, execution: AgentExecution) -> AgentExecution:
        return await self._call(
            self._execution_command.create,
            execution,
            what="create execution",
            kind="agent execution",
            key=execution.metadata.id,
        )

    async def update_execution_status(
        self,
        execution_id: str,
        status: AgentExecutionStatus,
        *,
        deadline_s: float | None = None,
        attempt: int | None = None,
    ) -> AgentExecution:
        """Send the whole status. `attempt` (ExecuteGraphton's Temporal attempt) travels as
        metadata; `StatusRefused` when the backend will never take this update (the
        execution already ended, or a newer attempt replaced this one)."""
        try:
            return await self._call(
                self._execution_command.updateStatus,
                wire.agentexecution.AgentExecutionUpdateStatusInput(
                    execution_id=execution_id, status=status
                ),
                what="update execution status",
                kind="agent execution",
                key=execution_id,
                deadline_s=deadline_s,
                metadata=((ATTEMPT_METADATA_KEY, str(attempt)),) if attempt is not None else None,
            )
        except BackendError as err:
            if err.code == "FAILED_PRECONDITION":
                raise StatusRefused(str(err), err.code) from err
            raise

    async def get_execution(self, execution_id: str) -> AgentExecution:
        return await self._call(
            self._execution_query.get,
            wire.agentexecution.AgentExecutionId(value=execution_id),
            what="get execution",
            kind="agent execution",
            key=execution_id,
        )

    async def subscribe_execution(self, execution_id: str) -> AsyncIterator[AgentExecution]:
        """The execution now, then after every change, until it reaches a final phase.

        No deadline: a run lasts as long as it lasts. Cancel the iteration to stop.
        """
        call = self._execution_query.subscribe(
            wire.agentexecution.AgentExecutionId(value=execution_id)
        )
        try:
            async for execution in call:
                yield execution
        except grpc.aio.AioRpcError as err:
            raise translate_rpc_error(
                err, "subscribe to execution", "agent execution", execution_id
            ) from err
        finally:
            call.cancel()

    async def follow_execution(
        self, execution_id: str, *, reconnect_within_s: float = RECONNECT_WITHIN_S
    ) -> AsyncIterator[AgentExecution]:
        """Like `subscribe_execution`, and when the subscription drops before the final
        phase (the backend restarted, a proxy closed the stream) it is opened again:
        it starts with the current status, so nothing is missed but intermediate
        steps. `BackendUnavailable` once the backend stays unreachable longer than
        `reconnect_within_s`."""
        down_since: float | None = None
        backoff = 0.25
        while True:
            try:
                async for execution in self.subscribe_execution(execution_id):
                    down_since, backoff = None, 0.25
                    yield execution
                    if execution.status.phase in _ENDED:
                        return
                reason = "the stream ended before the execution did"
            except BackendError as err:
                if not (err.retryable or err.code == "CANCELLED"):
                    raise
                reason = str(err)
            now = time.monotonic()
            down_since = down_since if down_since is not None else now
            if now - down_since > reconnect_within_s:
                raise BackendUnavailable(
                    f"lost the subscription to execution {execution_id} and could not "
                    f"reconnect within {reconnect_within_s:g}s: {reason}",
                    "UNAVAILABLE",
                )
            log.info("execution %s: subscription dropped (%s); reconnecting", execution_id, reason)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)
