"""MCP servers an agent definition asks for (`Agent.spec.mcp_servers`), as LangChain tools.

Started per execution and stopped when it ends, whatever the outcome
(`open_mcp_tools` is an async context manager). `stdio` servers run as child
processes, `http` servers are reached over streamable HTTP, both through
langchain-mcp-adapters. Placeholders `${NAME}` in commands, arguments, working
folders, environment values, URLs, headers and query parameters are resolved
from the execution's merged environment; one with no value is an error naming
it. `docker` servers need a Docker engine; without one the execution fails
with a message saying so.

A stdio server gets the MCP SDK's safe default environment (`PATH`, `HOME`,
`USER`, ...) plus the values its definition asks for, never the worker's own
variables (its API keys). Its stderr is read line by line into the worker's
log, so the log filter masks secrets in it like in every other line. stdio and
docker servers run on the worker's host, outside any sandbox: with Daytona
sandboxes (cloud mode) they are refused unless the operator allows them with
`MCP_ALLOW_HOST_SERVERS=true`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import shutil
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import urlencode

from langchain_core.tools import BaseTool
from temporalio.exceptions import ApplicationError

from agent_runner import wire
from agent_runner.activities.errors import CONFIGURATION, caller_error

if TYPE_CHECKING:
    from mcp import ClientSession

log = logging.getLogger(__name__)

PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
DEFAULT_HTTP_TIMEOUT_S = 30
STDERR_LINE_LIMIT = 8192
"""Characters of one stderr line of a server kept in the log; the rest is cut."""
HOST_SERVER_TYPES = ("stdio", "docker")
"""Server types that run as processes of the worker's host."""


def resolve_placeholders(text: str, environment: Mapping[str, str], where: str) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in environment:
            raise caller_error(
                f"MCP server {where}: placeholder ${{{name}}} has no value; add {name} to the "
                "agent's env_spec, an environment of the instance, or the execution's runtime_env",
                CONFIGURATION,
            )
        return environment[name]

    return PLACEHOLDER.sub(value, text)


def connection_for(
    server: wire.agent.McpServerDefinition, environment: Mapping[str, str]
) -> dict[str, Any]:
    """The adapters' connection settings for one server, placeholders resolved."""
    where = repr(server.name)

    def resolve(text: str) -> str:
        return resolve_placeholders(text, environment, where)

    kind = server.WhichOneof("server_type")
    if kind == "stdio":
        stdio = server.stdio
        # Only what the definition asks for; the SDK adds its safe defaults (PATH, HOME...).
        child_env = {k: resolve(v) for k, v in stdio.env_placeholders.items()}
        connection: dict[str, Any] = {
            "transport": "stdio",
            "command": resolve(stdio.command),
            "args": [resolve(arg) for arg in stdio.args],
            "env": child_env,
        }
        if stdio.working_dir:
            connection["cwd"] = resolve(stdio.working_dir)
        return connection
    if kind == "http":
        http = server.http
        url = resolve(http.url)
        if http.query_params:
            query = urlencode({k: resolve(v) for k, v in http.query_params.items()})
            url = f"{url}{'&' if '?' in url else '?'}{query}"
        return {
            "transport": "streamable_http",
            "url": url,
            "headers": {k: resolve(v) for k, v in http.headers.items()},
            "timeout": timedelta(seconds=http.timeout_seconds or DEFAULT_HTTP_TIMEOUT_S),
        }
    if kind == "docker":
        if shutil.which("docker") is None or not os.path.exists("/var/run/docker.sock"):
            raise caller_error(
                f"MCP server {where} runs in Docker, but no Docker engine is reachable on this "
                "worker; run it as an http server instead, or run the worker where Docker is",
                CONFIGURATION,
            )
        docker = server.docker
        args = ["run", "--rm", "-i"]
        for name, value in docker.env_placeholders.items():
            args += ["-e", f"{name}={resolve(value)}"]
        for volume in docker.volumes:
            mode = ":ro" if volume.read_only else ""
            args += ["-v", f"{resolve(volume.host_path)}:{volume.container_path}{mode}"]
        if docker.network:
            args += ["--network", docker.network]
        if docker.container_name:
            args += ["--name", docker.container_name]
        args += [docker.image, *[resolve(arg) for arg in docker.args]]
        return {"transport": "stdio", "command": "docker", "args": args}
    raise caller_error(f"MCP server {where} names no server type (stdio, http or docker)")


def refuse_host_servers(servers: Sequence[wire.agent.McpServerDefinition]) -> None:
    """Refuse servers that would run on the worker's host, outside the sandbox."""
    for server in servers:
        kind = server.WhichOneof("server_type")
        if kind in HOST_SERVER_TYPES:
            raise caller_error(
                f"MCP server {server.name!r} is a {kind} server: it would run on the worker's "
                "host, outside the execution's sandbox, which this worker does not allow with "
                "Daytona sandboxes; run it as an http server, or have the operator set "
                "MCP_ALLOW_HOST_SERVERS=true",
                CONFIGURATION,
            )


@contextlib.asynccontextmanager
async def open_mcp_tools(
    servers: Sequence[wire.agent.McpServerDefinition],
    environment: Mapping[str, str],
    *,
    host_servers_allowed: bool = True,
) -> AsyncIterator[dict[str, list[BaseTool]]]:
    """Tools of each server by server name, filtered by `enabled_tools`; every server is
    stopped when the block ends. `host_servers_allowed=False` refuses stdio and docker
    servers (they would run on the worker's host)."""
    if not host_servers_allowed:
        refuse_host_servers(servers)
    if not servers:
        yield {}
        return
    connections = {server.name: connection_for(server, environment) for server in servers}
    # Imported here, not with the module: the MCP client (and the server framework it
    # brings) would add half a second to every worker's start and to the first
    # execution of agents that have no MCP server.
    from langchain_mcp_adapters.tools import load_mcp_tools

    async with contextlib.AsyncExitStack() as stack:
        tools: dict[str, list[BaseTool]] = {}
        for server in servers:
            own = contextlib.AsyncExitStack()
            try:
                session = await own.enter_async_context(
                    _session(connections[server.name], server.name)
                )
                await session.initialize()
                offered = await load_mcp_tools(session, server_name=server.name)
            except BaseException as failure:
                # Closing the transport turns its internal cancellation into the real
                # error (a task group's ExceptionGroup); a cancellation from outside stays.
                try:
                    await own.__aexit__(type(failure), failure, failure.__traceback__)
                except Exception as err:
                    raise _unreachable(server.name, err) from err
                if isinstance(failure, Exception):
                    raise _unreachable(server.name, failure) from failure
                raise
            stack.push_async_callback(own.aclose)
            tools[server.name] = select_tools(offered, list(server.enabled_tools), server.name)
        yield tools


def _unreachable(server: str, error: BaseException) -> ApplicationError:
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]  # the first real exception inside task-group wrappers
    return caller_error(
        f"MCP server {server!r} could not be started or reached: {type(error).__name__}: {error}",
        CONFIGURATION,
    )


@contextlib.asynccontextmanager
async def _session(connection: dict[str, Any], name: str) -> AsyncIterator[ClientSession]:
    """A session with one server. stdio servers are started here rather than by the
    adapters, which would expand `${VAR}` in environment values from the worker's own
    environment and send the server's stderr straight to the worker's."""
    from langchain_mcp_adapters.sessions import create_session
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    if connection["transport"] != "stdio":
        async with create_session(connection) as session:  # type: ignore[arg-type]
            yield session
        return
    parameters = StdioServerParameters(
        command=connection["command"],
        args=connection["args"],
        env=connection.get("env") or {},
        cwd=connection.get("cwd"),
    )
    async with (
        _StderrToLog(name) as errlog,
        stdio_client(parameters, errlog=errlog) as (read, write),
        ClientSession(read, write) as session,
    ):
        yield session


class _StderrToLog:
    """A pipe for a server's stderr whose lines go to the worker's log (and its filter)."""

    def __init__(self, server: str) -> None:
        self._server = server
        self._pump: asyncio.Task[None] | None = None
        self._writer: TextIO | None = None

    async def __aenter__(self) -> TextIO:
        read_fd, write_fd = os.pipe()
        self._writer = os.fdopen(write_fd, "w")
        reader = asyncio.StreamReader()
        transport, _ = await asyncio.get_running_loop().connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(read_fd, "rb", buffering=0)
        )
        self._pump = asyncio.create_task(self._log_lines(reader, transport))
        return self._writer

    async def __aexit__(self, *exc_info: object) -> None:
        if self._writer is not None:
            self._writer.close()  # the server has exited: the pipe ends, the pump drains it
        if self._pump is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._pump), 5)
            except TimeoutError:  # a child of the server holds the pipe open: stop reading
                self._pump.cancel()

    async def _log_lines(
        self, reader: asyncio.StreamReader, transport: asyncio.BaseTransport
    ) -> None:
        buffer, overlong = b"", False
        try:
            while chunk := await reader.read(65536):
                lines = (buffer + chunk).split(b"\n")
                buffer = lines.pop()
                for line in lines:
                    self._log(line, overlong or len(line) > STDERR_LINE_LIMIT)
                    overlong = False
                if len(buffer) > STDERR_LINE_LIMIT:
                    # Dropped whole: a line cut in two could show half a secret unmasked.
                    buffer, overlong = b"", True
            if buffer or overlong:
                self._log(buffer, overlong or len(buffer) > STDERR_LINE_LIMIT)
        finally:
            transport.close()

    def _log(self, line: bytes, overlong: bool) -> None:
        if overlong:
            log.info(
                "MCP server %r: [a stderr line longer than %s bytes, not logged]",
                self._server,
                STDERR_LINE_LIMIT,
            )
            return
        text = line.decode("utf-8", errors="replace").rstrip("\r")
        if text.strip():
            log.info("MCP server %r: %s", self._server, text)


def select_tools(offered: list[BaseTool], enabled: list[str], server: str) -> list[BaseTool]:
    """The offered tools named in `enabled` (all when it is empty); unknown names are an error."""
    if not enabled:
        return offered
    by_name = {tool.name: tool for tool in offered}
    unknown = [name for name in enabled if name not in by_name]
    if unknown:
        raise caller_error(
            f"MCP server {server!r} offers no tool {', '.join(map(repr, unknown))}; "
            f"it offers {', '.join(sorted(by_name)) or 'none'}",
            CONFIGURATION,
        )
    return [by_name[name] for name in enabled]


def subagent_tools(
    sub_agent: wire.agent.SubAgent, tools: Mapping[str, list[BaseTool]]
) -> list[BaseTool]:
    """The MCP tools a subagent may use: its servers, narrowed by its tool selections."""
    chosen: list[BaseTool] = []
    for server in sub_agent.mcp_servers:
        offered = tools.get(server, [])
        selection = sub_agent.mcp_tool_selections.get(server)
        if selection is not None and selection.enabled_tools:
            chosen += select_tools(offered, list(selection.enabled_tools), server)
        else:
            chosen += offered
    return chosen
