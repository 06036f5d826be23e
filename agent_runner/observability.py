"""What operators watch: Prometheus metrics, a health endpoint, and optional tracing.

`RunnerMetrics` owns its own registry (no process-wide state). `ObservabilityServer`
serves `/metrics` and `/healthz` on `METRICS_PORT`; health turns 503 when the
worker cannot reach Temporal. Tracing goes through Temporal's OpenTelemetry
interceptor when `OTEL_EXPORTER_OTLP_ENDPOINT` is set.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from agent_runner.errors import AgentRunnerError

log = logging.getLogger(__name__)


class MetricsPortTaken(AgentRunnerError):
    """The metrics server cannot listen where it was told to."""


HEALTH_CHECK_TIMEOUT_S = 3.0

BUILTIN_TOOLS = frozenset(
    {"write_todos", "ls", "read_file", "write_file", "edit_file", "delete", "glob", "grep"}
    | {"execute", "task"}
)
"""The tools every deep agent has (deepagents' file, shell, todo and subagent tools)."""
OTHER_TOOL = "other"


def tool_label(name: str, known: Collection[str] = ()) -> str:
    """The `tool` label of a call: its name when it is a real tool of the agent (a built-in,
    or one of `known`), else `other`. A model can call any name it invents, a secret
    included: labels take known values only, which also bounds their number."""
    return name if name in BUILTIN_TOOLS or name in known else OTHER_TOOL


class RunnerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.executions_started = Counter(
            "agent_runner_executions_started", "Executions started", registry=r
        )
        self.executions_finished = Counter(
            "agent_runner_executions_finished",
            "Executions finished, by outcome (completed, failed, cancelled)",
            ["outcome"],
            registry=r,
        )
        self.execution_seconds = Histogram(
            "agent_runner_execution_duration_seconds",
            "Duration of executions",
            buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800),
            registry=r,
        )
        self.tool_calls = Counter(
            "agent_runner_tool_calls",
            "Tool calls of agents, by tool and outcome (completed, failed)",
            ["tool", "outcome"],
            registry=r,
        )
        self.status_push_seconds = Histogram(
            "agent_runner_status_push_seconds", "Latency of status pushes", registry=r
        )
        self.status_push_failures = Counter(
            "agent_runner_status_push_failures", "Status pushes that failed", registry=r
        )
        self.command_seconds = Histogram(
            "agent_runner_sandbox_command_seconds",
            "Duration of sandbox commands (execute tool calls)",
            buckets=(0.01, 0.1, 0.5, 1, 5, 15, 60, 300, 600),
            registry=r,
        )
        self.heartbeats = Counter("agent_runner_heartbeats", "Activity heartbeats sent", registry=r)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class ObservabilityServer:
    """`/metrics` (Prometheus text) and `/healthz` (200 or 503 with the reason)."""

    def __init__(
        self,
        metrics: RunnerMetrics,
        check_temporal: Callable[[], Awaitable[object]],
        port: int,
        host: str = "127.0.0.1",
    ) -> None:
        self._metrics = metrics
        self._check_temporal = check_temporal
        self._port = port
        self._host = host
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def _metrics_handler(self, request: web.Request) -> web.Response:
        return web.Response(
            body=self._metrics.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    async def _health_handler(self, request: web.Request) -> web.Response:
        try:
            await asyncio.wait_for(self._check_temporal(), HEALTH_CHECK_TIMEOUT_S)
        except Exception as err:  # any failure to reach Temporal means unhealthy, said why
            reason = f"cannot reach Temporal: {type(err).__name__}: {err}"
            return web.json_response({"status": "unhealthy", "reason": reason}, status=503)
        return web.json_response({"status": "ok"})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/metrics", self._metrics_handler)
        app.router.add_get("/healthz", self._health_handler)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        try:
            await site.start()
        except OSError as err:
            await self._runner.cleanup()
            raise MetricsPortTaken(
                f"cannot serve /metrics on {self._host}:{self._port} (METRICS_PORT, "
                f"METRICS_HOST): {err.strerror or err}; choose another METRICS_PORT, or 0 to "
                "serve no metrics"
            ) from None
        server = site._server  # aiohttp keeps the asyncio server here; it knows the real port
        sockets = getattr(server, "sockets", None) or ()
        self.port = sockets[0].getsockname()[1] if sockets else self._port
        log.info("metrics on %s:%s/metrics and /healthz", self._host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def tracing_interceptors(otlp_endpoint: str | None) -> list[object]:
    """Temporal's OpenTelemetry interceptor exporting to `otlp_endpoint`, or none."""
    if not otlp_endpoint:
        return []
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from temporalio.contrib.opentelemetry import TracingInterceptor

    provider = TracerProvider(resource=Resource.create({"service.name": "agent-runner"}))
    provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{otlp_endpoint.rstrip('/')}/v1/traces"))
    )
    trace.set_tracer_provider(provider)
    return [TracingInterceptor()]
