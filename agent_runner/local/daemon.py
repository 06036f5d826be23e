"""The local daemon: the Stigmer backend's gRPC services, for one developer's machine.

Serves every method the runner calls (and the `create`/`subscribe` the local
CLI uses) from the resources of `manifests.py` and the SQLite store of
`store.py`. Every call must carry `authorization: Bearer <token>`, checked on the
call's metadata before its body is read; the standard gRPC health service
answers without it so that probes need no secret.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from agent_runner import wire
from agent_runner.backend.channel import MAX_MESSAGE_BYTES, SERVER_KEEPALIVE_OPTIONS
from agent_runner.backend.client import ATTEMPT_METADATA_KEY
from agent_runner.local.manifests import API_VERSION, Catalog
from agent_runner.local.store import (
    FINAL_PHASES,
    StatusRefused,
    Store,
    check_attempt,
    merge_status,
)

Found = TypeVar("Found")

HEALTH_PREFIX = "/grpc.health.v1.Health/"

AgentExecution = wire.agentexecution.AgentExecution
Session = wire.session.Session


@dataclass(frozen=True)
class DaemonSettings:
    listen: str
    token: str
    data_dir: Path


async def _abort(
    context: grpc.aio.ServicerContext[Any, Any], code: grpc.StatusCode, details: str
) -> NoReturn:
    await context.abort(code, details)


class _RequireBearer(grpc.aio.ServerInterceptor):  # type: ignore[type-arg]  # stubs lag grpc
    """Refuses every call without the daemon's bearer token, unary and streaming."""

    def __init__(self, token: str) -> None:
        self._expected = f"Bearer {token}"

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any]]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any]:
        handler = await continuation(handler_call_details)
        if handler is None or handler_call_details.method.startswith(HEALTH_PREFIX):
            return handler
        metadata = dict(handler_call_details.invocation_metadata or ())
        if metadata.get("authorization") == self._expected:
            return handler
        reason = "missing bearer token" if "authorization" not in metadata else "wrong bearer token"
        return _refusal(handler, f"{reason}: send 'authorization: Bearer <STIGMER_API_KEY>'")


def _refusal(
    handler: grpc.RpcMethodHandler[Any, Any], details: str
) -> grpc.RpcMethodHandler[Any, Any]:
    """A handler that refuses the call without reading its request.

    It takes the request as a stream it never reads, with no deserializer, so gRPC
    neither buffers nor parses the body of an unauthenticated call: what such a caller
    can make the daemon hold is bounded by HTTP/2 flow control, not by the message
    size limit.
    """

    async def refuse(requests: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        await _abort(context, grpc.StatusCode.UNAUTHENTICATED, details)

    if handler.unary_stream or handler.stream_stream:
        return grpc.stream_stream_rpc_method_handler(refuse)
    return grpc.stream_unary_rpc_method_handler(refuse)


class _Broadcaster:
    """Fans every stored change of an execution out to its `subscribe` streams, and every
    change of any execution out to the watchers (the web view)."""

    def __init__(self) -> None:
        self._queues: dict[str, set[asyncio.Queue[AgentExecution]]] = defaultdict(set)
        self.watchers: set[Callable[[AgentExecution], None]] = set()

    def publish(self, execution: AgentExecution) -> None:
        for queue in self._queues.get(execution.metadata.id, ()):
            queue.put_nowait(execution)
        for watcher in tuple(self.watchers):
            watcher(execution)

    def open(self, execution_id: str) -> asyncio.Queue[AgentExecution]:
        queue: asyncio.Queue[AgentExecution] = asyncio.Queue()
        self._queues[execution_id].add(queue)
        return queue

    def close(self, execution_id: str, queue: asyncio.Queue[AgentExecution]) -> None:
        queues = self._queues.get(execution_id)
        if queues is not None:
            queues.discard(queue)
            if not queues:
                del self._queues[execution_id]


class _Resources:
    """Query services over the catalog: agents, instances, skills, environments."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    async def agent_get(self, request: Any, context: Any) -> wire.agent.Agent:
        return await _found(context, self.catalog.agents.get(request.value), "agent", request.value)

    async def agent_by_reference(self, request: Any, context: Any) -> wire.agent.Agent:
        agent = self.catalog.agent_by_slug(request.slug)
        return await _found(context, agent, "agent", request.slug)

    async def instance_get(self, request: Any, context: Any) -> wire.agentinstance.AgentInstance:
        instance = self.catalog.instances.get(request.value)
        return await _found(context, instance, "agent instance", request.value)

    async def skill_get(self, request: Any, context: Any) -> wire.skill.Skill:
        return await _found(context, self.catalog.skills.get(request.value), "skill", request.value)

    async def skill_by_reference(self, request: Any, context: Any) -> wire.skill.Skill:
        skill = next(
            (s for s in self.catalog.skills.values() if s.metadata.slug == request.slug), None
        )
        return await _found(context, skill, "skill", request.slug)

    async def skill_artifact(self, request: Any, context: Any) -> wire.skill.GetArtifactResponse:
        key = request.artifact_storage_key
        artifact = await _found(context, self.catalog.artifacts.get(key), "skill artifact", key)
        return wire.skill.GetArtifactResponse(artifact=artifact)

    async def environment_get(self, request: Any, context: Any) -> wire.environment.Environment:
        environment = self.catalog.environments.get(request.value)
        return await _found(context, environment, "environment", request.value)

    async def environment_by_reference(
        self, request: Any, context: Any
    ) -> wire.environment.Environment:
        environment = next(
            (e for e in self.catalog.environments.values() if e.metadata.slug == request.slug),
            None,
        )
        return await _found(context, environment, "environment", request.slug)


async def _found(context: Any, value: Found | None, kind: str, key: str) -> Found:
    if value is None:
        await _abort(context, grpc.StatusCode.NOT_FOUND, f"{kind} {key!r} not found")
    return value


class _Runs:
    """Sessions and executions: created, updated, merged, persisted and broadcast."""

    def __init__(self, catalog: Catalog, store: Store) -> None:
        self.catalog = catalog
        self.store = store
        self.broadcaster = _Broadcaster()

    async def session_get(self, request: Any, context: Any) -> Session:
        session = self.store.get_session(request.value)
        return await _found(context, session, "session", request.value)

    async def session_create(self, request: Session, context: Any) -> Session:
        session = Session()
        session.CopyFrom(request)
        if session.spec.agent_instance_id not in self.catalog.instances:
            await _abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"spec.agent_instance_id: no agent instance {session.spec.agent_instance_id!r}",
            )
        session.api_version, session.kind = API_VERSION, "Session"
        session.metadata.id = session.metadata.id or f"ses-{uuid.uuid4().hex[:16]}"
        if self.store.get_session(session.metadata.id) is not None:
            await _abort(
                context, grpc.StatusCode.ALREADY_EXISTS, f"session {session.metadata.id!r} exists"
            )
        self.store.put_session(session)
        return session

    async def session_update(self, request: Session, context: Any) -> Session:
        await _found(
            context, self.store.get_session(request.metadata.id), "session", request.metadata.id
        )
        self.store.put_session(request)
        return request

    async def execution_create(self, request: AgentExecution, context: Any) -> AgentExecution:
        execution = AgentExecution()
        execution.CopyFrom(request)
        execution.api_version, execution.kind = API_VERSION, "AgentExecution"
        execution.metadata.id = execution.metadata.id or f"aex-{uuid.uuid4().hex[:16]}"
        if not execution.spec.session_id:
            execution.spec.session_id = (await self._session_for(execution, context)).metadata.id
        session = self.store.get_session(execution.spec.session_id)
        session = await _found(context, session, "session", execution.spec.session_id)
        if not execution.spec.agent_id:
            instance = self.catalog.instances[session.spec.agent_instance_id]
            execution.spec.agent_id = instance.spec.agent_id
        execution.status.phase = wire.agentexecution.EXECUTION_PENDING
        self.store.put_execution(execution)
        self.broadcaster.publish(execution)
        return execution

    async def _session_for(self, execution: AgentExecution, context: Any) -> Session:
        """A new session on the agent's default instance, for an execution that names none."""
        agent = self.catalog.agents.get(execution.spec.agent_id)
        agent = await _found(context, agent, "agent", execution.spec.agent_id)
        session = Session(api_version=API_VERSION, kind="Session")
        session.metadata.id = f"ses-{uuid.uuid4().hex[:16]}"
        session.spec.agent_instance_id = agent.status.default_instance_id
        self.store.put_session(session)
        return session

    async def execution_update_status(self, request: Any, context: Any) -> AgentExecution:
        execution = self.store.get_execution(request.execution_id)
        execution = await _found(context, execution, "agent execution", request.execution_id)
        attempt = await _attempt(context)
        try:
            newest = self.store.newest_attempt(request.execution_id)
            check_attempt(request.execution_id, attempt, newest)
            merge_status(execution.status, request.status, execution_id=request.execution_id)
        except StatusRefused as refusal:
            await _abort(context, grpc.StatusCode.FAILED_PRECONDITION, str(refusal))
        execution.status.audit.status_audit.event = "status_updated"
        execution.status.audit.status_audit.updated_at.GetCurrentTime()
        self.store.put_status(execution, attempt)
        self.broadcaster.publish(execution)
        return execution

    async def execution_get(self, request: Any, context: Any) -> AgentExecution:
        execution = self.store.get_execution(request.value)
        return await _found(context, execution, "agent execution", request.value)

    async def execution_subscribe(
        self, request: Any, context: Any
    ) -> AsyncIterator[AgentExecution]:
        queue = self.broadcaster.open(request.value)
        try:
            execution = self.store.get_execution(request.value)
            execution = await _found(context, execution, "agent execution", request.value)
            while True:
                yield execution
                if execution.status.phase in FINAL_PHASES:
                    return
                execution = await queue.get()
        finally:
            # Also runs when the client disconnects mid-stream (the task is cancelled).
            self.broadcaster.close(request.value, queue)


async def _attempt(context: Any) -> int | None:
    """The attempt a status update says it comes from (metadata), or None when it names none."""
    for key, value in context.invocation_metadata() or ():
        if key == ATTEMPT_METADATA_KEY:
            if isinstance(value, str) and value.isdigit() and int(value) > 0:
                return int(value)
            await _abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"metadata {ATTEMPT_METADATA_KEY}: {value!r} is not a positive attempt number",
            )
    return None


def _servicer(base: type, methods: dict[str, Callable[..., Any]]) -> Any:
    """An instance of a generated servicer class with our coroutines as its methods."""
    return type(base.__name__, (base,), {name: staticmethod(fn) for name, fn in methods.items()})()


class LocalDaemon:
    """The gRPC server; `start()`, then `stop()` (or `async with`)."""

    def __init__(self, settings: DaemonSettings, catalog: Catalog) -> None:
        self.settings = settings
        self.catalog = catalog
        self.store = Store(settings.data_dir / "daemon.sqlite3")
        self.port = 0
        self._server = grpc.aio.server(
            interceptors=[_RequireBearer(settings.token)],
            options=[
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                *SERVER_KEEPALIVE_OPTIONS,
            ],
        )
        self._resources, self._runs = _Resources(catalog), _Runs(catalog, self.store)
        self._register(self._resources, self._runs)

    def replace_catalog(self, catalog: Catalog) -> None:
        """Serve `catalog` from now on (hot reload); calls in flight keep the one they had."""
        self.catalog = self._resources.catalog = self._runs.catalog = catalog

    @contextlib.contextmanager
    def watch(self, execution_id: str) -> Iterator[asyncio.Queue[AgentExecution]]:
        """Every accepted change of an execution from now on, as the daemon stores it
        (`subscribe` stops at a final phase; this does not)."""
        queue = self._runs.broadcaster.open(execution_id)
        try:
            yield queue
        finally:
            self._runs.broadcaster.close(execution_id, queue)

    def _register(self, resources: _Resources, runs: _Runs) -> None:
        server = self._server
        wire.agent_grpc.add_AgentQueryControllerServicer_to_server(
            _servicer(
                wire.agent_grpc.AgentQueryControllerServicer,
                {"get": resources.agent_get, "getByReference": resources.agent_by_reference},
            ),
            server,
        )
        wire.agentinstance_grpc.add_AgentInstanceQueryControllerServicer_to_server(
            _servicer(
                wire.agentinstance_grpc.AgentInstanceQueryControllerServicer,
                {"get": resources.instance_get},
            ),
            server,
        )
        wire.skill_grpc.add_SkillQueryControllerServicer_to_server(
            _servicer(
                wire.skill_grpc.SkillQueryControllerServicer,
                {
                    "get": resources.skill_get,
                    "getByReference": resources.skill_by_reference,
                    "getArtifact": resources.skill_artifact,
                },
            ),
            server,
        )
        wire.environment_grpc.add_EnvironmentQueryControllerServicer_to_server(
            _servicer(
                wire.environment_grpc.EnvironmentQueryControllerServicer,
                {
                    "get": resources.environment_get,
                    "getByReference": resources.environment_by_reference,
                },
            ),
            server,
        )
        wire.session_grpc.add_SessionQueryControllerServicer_to_server(
            _servicer(wire.session_grpc.SessionQueryControllerServicer, {"get": runs.session_get}),
            server,
        )
        wire.session_grpc.add_SessionCommandControllerServicer_to_server(
            _servicer(
                wire.session_grpc.SessionCommandControllerServicer,
                {"create": runs.session_create, "update": runs.session_update},
            ),
            server,
        )
        wire.agentexecution_grpc.add_AgentExecutionCommandControllerServicer_to_server(
            _servicer(
                wire.agentexecution_grpc.AgentExecutionCommandControllerServicer,
                {"create": runs.execution_create, "updateStatus": runs.execution_update_status},
            ),
            server,
        )
        wire.agentexecution_grpc.add_AgentExecutionQueryControllerServicer_to_server(
            _servicer(
                wire.agentexecution_grpc.AgentExecutionQueryControllerServicer,
                {"get": runs.execution_get, "subscribe": runs.execution_subscribe},
            ),
            server,
        )
        health_servicer = health.aio.HealthServicer()  # type: ignore[attr-defined]  # stubs lag
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
        self._health = health_servicer

    def watch_all(self, callback: Callable[[AgentExecution], None]) -> Callable[[], None]:
        """Call `callback` with each execution as it is created or changed; returns the
        function that stops it. The callback runs on the daemon's loop and must not block."""
        watchers = self._runs.broadcaster.watchers
        watchers.add(callback)
        return lambda: watchers.discard(callback)

    async def start(self) -> None:
        self.port = self._server.add_insecure_port(self.settings.listen)
        if self.port == 0:
            raise OSError(
                f"cannot listen on {self.settings.listen}: the address is taken or invalid"
            )
        await self._server.start()
        await self._health.set("", health_pb2.HealthCheckResponse.SERVING)

    async def stop(self, grace_s: float = 2.0) -> None:
        await self._server.stop(grace_s)
        self.store.close()

    async def wait_for_termination(self) -> None:
        await self._server.wait_for_termination()

    async def __aenter__(self) -> LocalDaemon:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()
