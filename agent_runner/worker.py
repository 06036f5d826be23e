"""The Temporal worker: the runner's plugin, the three activities, graceful shutdown.

`run_worker(config, stop)` connects (Temporal's client configuration: TLS,
mTLS, API key), polls `TEMPORAL_AGENT_EXECUTION_RUNNER_TASK_QUEUE` until `stop`
is set, then stops polling, lets in-flight activities finish for a grace
period and cancels the rest (they push CANCELLED). `open_runner_deps` opens what
the activities share, for a worker of the platform's own as well.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

import psycopg
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.types import Checkpointer
from temporalio.client import Client
from temporalio.worker import Worker

from agent_runner.activities import RunnerDeps, runner_activities
from agent_runner.activities.errors import install_one_line_failures
from agent_runner.activities.thread_lock import open_thread_locks
from agent_runner.backend import BackendClient
from agent_runner.claimcheck import BlobStoreError
from agent_runner.config import Config
from agent_runner.errors import AgentRunnerError
from agent_runner.observability import ObservabilityServer, RunnerMetrics
from agent_runner.plugin import AgentRunnerPlugin
from agent_runner.private_files import private_file
from agent_runner.redaction import SecretRegistry, install_log_filter
from agent_runner.redis_status import StatusStream
from agent_runner.sandboxes import SandboxManager
from agent_runner.workflow import (
    ORCHESTRATOR_TASK_QUEUE,
    InvokeAgentExecution,
    RecordExecutionFailure,
)
from graphton.tracing import skip_langsmith_thread_hops

log = logging.getLogger(__name__)

HEARTBEAT_THROTTLE = timedelta(seconds=2)
"""Heartbeats reach the server at least this often, so cancellations arrive within seconds."""


class TemporalUnavailable(AgentRunnerError):
    """The Temporal server could not be reached."""


class CheckpointStoreUnavailable(AgentRunnerError):
    """The checkpoint database could not be reached."""


async def connect_temporal(config: Config) -> Client:
    """A client with the runner's plugin (converter, codecs, interceptors) for every worker."""
    security = config.temporal.connection.security_kwargs() if config.temporal.connection else {}
    try:
        return await Client.connect(
            config.temporal.address,
            namespace=config.temporal.namespace,
            plugins=[AgentRunnerPlugin(config)],
            **security,
        )
    except BlobStoreError:
        raise
    except RuntimeError as err:
        raise TemporalUnavailable(describe_connect_error(config, err)) from None


def describe_connect_error(config: Config, error: BaseException) -> str:
    """One line saying why Temporal could not be reached and which setting to check."""
    where = f"Temporal at {config.temporal.address} (namespace {config.temporal.namespace})"
    connection = config.temporal.connection
    tls = connection.tls if connection is not None else None
    text = str(error)
    lowered = text.lower()
    if "unknownissuer" in lowered or "invalid peer certificate" in lowered:
        return (
            f"cannot connect to {where}: its certificate is not signed by the CA the worker "
            "trusts; check TEMPORAL_TLS_SERVER_CA_CERT_PATH (and TEMPORAL_TLS_SERVER_NAME)"
        )
    if "keymismatch" in lowered or "inconsistentkeys" in lowered:
        return (
            f"cannot connect to {where}: the client key does not belong to the client "
            "certificate; check TEMPORAL_TLS_CLIENT_KEY_PATH and TEMPORAL_TLS_CLIENT_CERT_PATH"
        )
    no_client_cert = tls is not None and not tls.client_cert
    if (
        "certificaterequired" in lowered
        or "certificate required" in lowered
        or (no_client_cert and "400 bad request" in lowered)
    ):
        return (
            f"cannot connect to {where}: it requires a client certificate (mTLS); set "
            "TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH"
        )
    if "unauthenticated" in lowered or "permissiondenied" in lowered:
        return f"cannot connect to {where}: it refused the credentials; check TEMPORAL_API_KEY"
    if tls is None and "h2 protocol error" in lowered:
        return (
            f"cannot connect to {where}: it does not speak plaintext gRPC; "
            "set TEMPORAL_TLS=true (and TEMPORAL_TLS_SERVER_CA_CERT_PATH for a private CA)"
        )
    first = text.splitlines()[0] if text else type(error).__name__
    return (
        f"cannot reach {where}: {first}; start one with `agent-runner up` or point "
        "TEMPORAL_ADDRESS (or TEMPORAL_SERVICE_ADDRESS) at a running server"
    )


@contextlib.asynccontextmanager
async def open_checkpointer(config: Config) -> AsyncIterator[Checkpointer]:
    """Where conversations are kept, by thread id: SQLite in the data folder in local mode."""
    if config.mode == "local":
        database = private_file(config.data_dir / "checkpoints.sqlite3")
        async with AsyncSqliteSaver.from_conn_string(str(database)) as saver:
            yield saver
    elif config.checkpoint_database_url is not None:
        try:
            async with AsyncPostgresSaver.from_conn_string(
                config.checkpoint_database_url.reveal()
            ) as saver:
                await saver.setup()
                yield saver
        except psycopg.OperationalError as err:
            # The URL holds a password: name the variable, never its value.
            raise CheckpointStoreUnavailable(
                "cannot reach the PostgreSQL of CHECKPOINT_DATABASE_URL: "
                f"{str(err).splitlines()[0] if str(err) else type(err).__name__}"
            ) from None
    else:
        log.warning(
            "conversation memory is kept in this worker's memory only: set "
            "CHECKPOINT_DATABASE_URL so that conversations survive the worker"
        )
        yield InMemorySaver()


@contextlib.asynccontextmanager
async def _observability(
    config: Config, metrics: RunnerMetrics, client: Client
) -> AsyncIterator[None]:
    """/metrics and /healthz while the worker runs, when METRICS_PORT is set."""
    if not config.metrics_port:
        yield
        return

    async def check_temporal() -> None:
        if not await client.service_client.check_health():
            raise TemporalUnavailable("Temporal reports it is not serving")

    server = ObservabilityServer(metrics, check_temporal, config.metrics_port, config.metrics_host)
    await server.start()
    try:
        yield
    finally:
        await server.stop()


@contextlib.asynccontextmanager
async def _redis(config: Config) -> AsyncIterator[StatusStream | None]:
    """The Redis status stream in cloud mode with REDIS_HOST set; checked before polling."""
    if config.redis is None:
        yield None
        return
    stream = StatusStream(config.redis)
    await stream.connect()
    try:
        yield stream
    finally:
        await stream.aclose()


def runner_worker(client: Client, config: Config, deps: RunnerDeps) -> Worker:
    return Worker(
        client,
        task_queue=config.temporal.task_queue,
        activities=runner_activities(deps),
        max_concurrent_activities=config.temporal.max_concurrency,
        graceful_shutdown_timeout=timedelta(seconds=config.temporal.graceful_shutdown_s),
        max_heartbeat_throttle_interval=HEARTBEAT_THROTTLE,
        default_heartbeat_throttle_interval=HEARTBEAT_THROTTLE,
    )


def orchestrator_worker(
    client: Client, backend: BackendClient, task_queue: str = ORCHESTRATOR_TASK_QUEUE
) -> Worker:
    """The reference workflow's worker (local mode and tests)."""
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[InvokeAgentExecution],
        activities=[RecordExecutionFailure(backend).record],
    )


def banner(config: Config) -> str:
    lines = ["agent-runner worker"]
    width = max(len(key) for key in config.describe())
    lines += [f"  {key:<{width}}  {value}" for key, value in config.describe().items()]
    return "\n".join(lines)


@contextlib.asynccontextmanager
async def open_runner_deps(
    config: Config, secrets: SecretRegistry | None = None
) -> AsyncIterator[RunnerDeps]:
    """What the activities share (backend channel, checkpoints, sandboxes, Redis), open
    for as long as a worker runs them, and closed after."""
    async with (
        _redis(config) as status_stream,
        BackendClient(config.backend) as backend,
        open_checkpointer(config) as saver,
        open_thread_locks(config) as thread_locks,
        contextlib.aclosing(SandboxManager(config, backend)) as sandboxes,
    ):
        yield RunnerDeps(
            config=config,
            backend=backend,
            sandboxes=sandboxes,
            secrets=secrets or SecretRegistry(),
            checkpointer=saver,
            metrics=RunnerMetrics(),
            status_stream=status_stream,
            thread_locks=thread_locks,
        )


def _load_provider_client(config: Config) -> None:
    """Import the provider's SDK now: on the first execution, the import (seconds on a
    busy machine) would hold the event loop, and with it the heartbeats."""
    if config.llm.provider != "scripted":
        importlib.import_module("graphton.provider_models")


async def run_worker(
    config: Config,
    stop: asyncio.Event,
    *,
    orchestrator_queue: str | None = None,
    announce: bool = True,
    ready: asyncio.Event | None = None,
) -> None:
    """Poll until `stop` is set; with the reference workflow's worker on
    `orchestrator_queue` too when one is given. `ready` is set once every worker polls."""
    secrets = SecretRegistry()
    install_log_filter(secrets)
    install_one_line_failures()
    skip_langsmith_thread_hops()
    _load_provider_client(config)
    client = await connect_temporal(config)
    async with (
        open_runner_deps(config, secrets) as deps,
        _observability(config, deps.metrics, client),
    ):
        workers = [runner_worker(client, config, deps)]
        if orchestrator_queue is not None:
            workers.append(orchestrator_worker(client, deps.backend, orchestrator_queue))
        async with contextlib.AsyncExitStack() as stack:
            for worker in workers:
                await stack.enter_async_context(worker)
            if announce:
                print(banner(config), flush=True)
            if ready is not None:
                ready.set()
            await stop.wait()
            log.info(
                "stopping: no new work; running executions get %ss to finish",
                config.temporal.graceful_shutdown_s,
            )
