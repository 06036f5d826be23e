"""The web view's HTTP server: the page, its JSON API and its live streams (SSE).

It runs inside `agent-runner up`, beside the daemon whose data it shows, and
starts and cancels runs the way `agent-runner run` does. See `guard.py` for
who may call it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp import web
from temporalio.client import Client
from temporalio.service import RPCError

from agent_runner import wire
from agent_runner.backend import BackendClient
from agent_runner.config import LOCAL_API_KEY, Config
from agent_runner.errors import AgentRunnerError
from agent_runner.local.daemon import LocalDaemon
from agent_runner.local.manifests import DEFAULT_RESOURCES_DIR
from agent_runner.local.store import FINAL_PHASES
from agent_runner.local.web import present
from agent_runner.local.web.context import ContextCache
from agent_runner.local.web.feed import ExecutionFeed, Subscription
from agent_runner.local.web.guard import Guard, add_security_headers, refusal
from agent_runner.local.web.outputs import OutputError, read_page
from agent_runner.worker import connect_temporal
from agent_runner.workflow import workflow_id

log = logging.getLogger(__name__)

ax = wire.agentexecution

STATIC_DIR = Path(__file__).resolve().parent / "static"
KEEPALIVE_S = 15.0
"""A comment line on every quiet stream this often: a closed page is noticed."""
MIN_DETAIL_INTERVAL_S = 0.1
"""At most this many redraws a second of one execution: streamed text stays smooth."""
MESSAGE_LIMIT = 100_000
"""Characters of a message typed into the page."""


class WebViewError(AgentRunnerError):
    """The web view could not start (its port is taken, ...)."""


@dataclass(frozen=True)
class WebSettings:
    port: int
    host: str = "127.0.0.1"
    temporal_ui: str | None = None
    """Base URL of the Temporal web UI, for links to each execution's workflow."""


class WebView:
    """`start()` serves; `stop()` ends every stream and closes the server."""

    def __init__(self, settings: WebSettings, config: Config, daemon: LocalDaemon) -> None:
        self.settings = settings
        self.config = config
        self.daemon = daemon
        self.port = 0
        self._guard = Guard(config.backend.api_key.reveal(), secrets.token_urlsafe(32))
        self._runner: web.AppRunner | None = None
        self._feed: ExecutionFeed | None = None
        self._backend: BackendClient | None = None
        self._temporal: Client | None = None
        self._contexts: ContextCache | None = None

    @property
    def url(self) -> str:
        return f"http://{self.settings.host}:{self.port}/"

    @property
    def sign_in_url(self) -> str:
        """The URL to open. With the well-known local token it signs the page in (the token
        rides in the fragment, which no request carries); any other token is typed in."""
        token = self.config.backend.api_key.reveal()
        return f"{self.url}#token={token}" if token == LOCAL_API_KEY else self.url

    async def start(self) -> None:
        self._backend = BackendClient(self.config.backend)
        self._contexts = ContextCache(self._backend)
        self._feed = ExecutionFeed(self.daemon.store, self.daemon.watch_all, self._default_model())
        app = web.Application(middlewares=[self._guard.middleware], client_max_size=1024 * 1024)
        app.on_response_prepare.append(add_security_headers)
        self._routes(app)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.settings.host, self.settings.port)
        try:
            await site.start()
        except OSError as err:
            await self.stop()
            raise WebViewError(
                f"the web view cannot listen on {self.settings.host}:{self.settings.port} "
                f"({err.strerror}); set AGENT_RUNNER_WEB_PORT to a free port, or --no-web"
            ) from None
        self.port = int(self._runner.addresses[0][1])  # the real one when asked for port 0
        self._guard.port = self.port

    async def stop(self) -> None:
        if self._feed is not None:
            self._feed.close()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._backend is not None:
            await self._backend.close()

    async def _temporal_client(self) -> Client:
        """Connected at the first action, so that watching needs nothing but the daemon."""
        if self._temporal is None:
            self._temporal = await connect_temporal(self.config)
        return self._temporal

    def _default_model(self) -> str:
        llm = self.config.llm
        return llm.spec if llm.model else f"{llm.provider} (demo script)"

    @property
    def feed(self) -> ExecutionFeed:
        assert self._feed is not None, "start() first"
        return self._feed

    # -- routes ------------------------------------------------------------------

    def _routes(self, app: web.Application) -> None:
        app.router.add_get("/", self._index)
        app.router.add_static("/static/", STATIC_DIR, follow_symlinks=False)
        app.router.add_get("/api/session", self._session)
        app.router.add_get("/api/executions", self._list)
        app.router.add_get("/api/events", self._list_events)
        app.router.add_get("/api/executions/{id}", self._detail)
        app.router.add_get("/api/executions/{id}/events", self._detail_events)
        app.router.add_get("/api/executions/{id}/outputs/{name}", self._output)
        app.router.add_post("/api/runs", self._start_run)
        app.router.add_post("/api/executions/{id}/cancel", self._cancel)

    async def _index(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC_DIR / "index.html")

    async def _session(self, request: web.Request) -> web.Response:
        agents = sorted(self.daemon.catalog.agents.values(), key=lambda a: a.metadata.slug)
        return web.json_response(
            {
                "csrf_token": self._guard.csrf_token,
                "default_model": self._default_model(),
                "temporal_ui": self.settings.temporal_ui,
                "agents": [
                    {
                        "slug": agent.metadata.slug,
                        "name": agent.metadata.name or agent.metadata.slug,
                        "description": agent.spec.description,
                    }
                    for agent in agents
                ],
            }
        )

    async def _list(self, request: web.Request) -> web.Response:
        return web.json_response({"executions": self.feed.summaries()})

    async def _list_events(self, request: web.Request) -> web.StreamResponse:
        async with self._stream(request) as (response, subscription):
            await _send(response, "snapshot", {"executions": self.feed.summaries()})
            while not subscription.closed:
                changed = await subscription.next(KEEPALIVE_S)
                if changed:
                    rows = [self.feed.summary(e, self.feed.created(e.metadata.id)) for e in changed]
                    await _send(response, "upsert", {"executions": rows})
                else:
                    await response.write(b": keepalive\n\n")
        return response

    async def _detail(self, request: web.Request) -> web.Response:
        execution = self._execution(request)
        return web.json_response(await self._detail_json(execution))

    async def _detail_events(self, request: web.Request) -> web.StreamResponse:
        execution = self._execution(request)
        async with self._stream(request, execution.metadata.id) as (response, subscription):
            latest: ax.AgentExecution | None = execution
            while not subscription.closed:
                if latest is not None:
                    await _send(response, "detail", await self._detail_json(latest))
                    if latest.status.phase in FINAL_PHASES:
                        await _send(response, "end", {})
                        break
                    await asyncio.sleep(MIN_DETAIL_INTERVAL_S)
                changed = await subscription.next(KEEPALIVE_S)
                latest = changed[-1] if changed else None
                if latest is None:
                    await response.write(b": keepalive\n\n")
        return response

    async def _detail_json(self, execution: ax.AgentExecution) -> dict[str, Any]:
        assert self._contexts is not None
        context = await self._contexts.get(execution)
        body = present.detail(
            execution,
            self._default_model(),
            context.mask,
            self.feed.created(execution.metadata.id),
        )
        body.update(context.as_json())
        body["temporal_url"] = self._temporal_link(execution.metadata.id)
        return body

    def _temporal_link(self, execution_id: str) -> str | None:
        base = self.settings.temporal_ui
        if not base:
            return None
        namespace = quote(self.config.temporal.namespace, safe="")
        return (
            f"{base}/namespaces/{namespace}/workflows/{quote(workflow_id(execution_id), safe='')}"
        )

    async def _output(self, request: web.Request) -> web.Response:
        execution = self._execution(request)
        name = request.match_info["name"]
        detail = present.detail(execution, "", lambda text: text)
        calls = detail["tool_calls"] + [c for s in detail["subagents"] for c in s["calls"]]
        if not any(name in call["kept"] for call in calls):
            return refusal(404, f"execution {execution.metadata.id} kept no output {name!r}")
        if self.config.sandbox.type != "filesystem":
            return refusal(
                409, "the whole output is in the execution's Daytona sandbox, not on this machine"
            )
        assert self._contexts is not None
        context = await self._contexts.get(execution)
        try:
            offset = int(request.query.get("offset", "0"))
        except ValueError:
            return refusal(400, "offset must be a whole number of bytes")
        try:
            page = await asyncio.to_thread(
                read_page,
                self.config.sandbox.root_dir,
                name,
                offset,
                secrets=context.secret_values,
                mask=context.mask,
            )
        except OutputError as err:
            return refusal(404, str(err))
        return web.json_response(page.as_json())

    async def _start_run(self, request: web.Request) -> web.Response:
        from agent_runner.local.run_command import (
            RunError,
            RunRequest,
            own_model,
            start_execution,
        )

        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return refusal(400, "the request body must be JSON")
        problem = _run_problem(body)
        if problem:
            return refusal(400, problem)
        run = RunRequest(
            message=body["message"],
            agent=body.get("agent") or "demo",
            session=body.get("session") or None,
            model=body.get("model") or None,
            json_output=True,
            resources_dir=DEFAULT_RESOURCES_DIR,
            skills_dir=None,
        )
        assert self._backend is not None
        try:
            temporal = await self._temporal_client()
            _, execution, _ = await start_execution(
                temporal, self._backend, run, own_model(self.config)
            )
        except RunError as err:
            return refusal(
                400, str(err).replace("--session", "session").replace("--agent", "agent")
            )
        except (AgentRunnerError, RPCError) as err:  # the daemon or Temporal failed
            log.warning("the web view could not start a run: %s", err)
            return refusal(502, f"the run could not be started: {err}")
        return web.json_response(
            {"execution_id": execution.metadata.id, "session_id": execution.spec.session_id}
        )

    async def _cancel(self, request: web.Request) -> web.Response:
        from agent_runner.local.run_command import cancel_execution

        execution = self._execution(request)
        if execution.status.phase in FINAL_PHASES:
            return refusal(409, f"execution {execution.metadata.id} has already ended")
        try:
            await cancel_execution(await self._temporal_client(), execution.metadata.id)
        except (AgentRunnerError, RPCError) as err:
            return refusal(409, f"execution {execution.metadata.id} cannot be cancelled: {err}")
        return web.json_response({"cancelling": execution.metadata.id})

    # -- helpers -----------------------------------------------------------------

    def _execution(self, request: web.Request) -> ax.AgentExecution:
        execution_id = request.match_info["id"]
        execution = self.feed.get(execution_id)
        if execution is None:
            raise web.HTTPNotFound(
                text=json.dumps({"error": f"no execution {execution_id!r}"}),
                content_type="application/json",
            )
        return execution

    @contextlib.asynccontextmanager
    async def _stream(
        self, request: web.Request, execution_id: str | None = None
    ) -> AsyncIterator[tuple[web.StreamResponse, Subscription]]:
        """An SSE response and a subscription opened before anything is read, so that no
        change between the first state sent and the stream is missed."""
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"}
        )
        with self.feed.subscribe(execution_id) as subscription:
            await response.prepare(request)
            with contextlib.suppress(ConnectionResetError):  # the page went away
                yield response, subscription


async def _send(response: web.StreamResponse, event: str, data: dict[str, Any]) -> None:
    payload = json.dumps(data, separators=(",", ":"))
    await response.write(f"event: {event}\ndata: {payload}\n\n".encode())


def _run_problem(body: Any) -> str | None:
    if not isinstance(body, dict):
        return "the request body must be a JSON object"
    message = body.get("message")
    if not isinstance(message, str) or not message.strip():
        return "message: say what to ask the agent"
    if len(message) > MESSAGE_LIMIT:
        return f"message: at most {MESSAGE_LIMIT} characters"
    for name in ("agent", "session", "model"):
        value = body.get(name)
        if value is not None and not isinstance(value, str):
            return f"{name}: must be text"
    return None
