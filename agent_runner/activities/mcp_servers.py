"""MCP servers an agent definition asks for (`Agent.spec.mcp_servers`), as LangChain tools.

Started per execution and stopped when it ends, whatever the outcome
(`open_mcp_tools` is an async context manager). `stdio` servers run as child
processes, `http` servers are reached over streamable HTTP, both through
langchain-mcp-adapters. Placeholders `${NAME}` in commands, arguments, working
folders, environment values, URLs, headers and query parameters are resolved
from the execution's merged environment; one with no value is an error naming
it. `docker` servers need a Docker engine; without one the execution fails
with a message saying so.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from langchain_core.tools import BaseTool
from langchain_mcp_adapters.sessions import create_session
from langchain_mcp_adapters.tools import load_mcp_tools

from agent_runner import wire
from agent_runner.activities.errors import CONFIGURATION, caller_error

PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
DEFAULT_HTTP_TIMEOUT_S = 30


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
        child_env = {**os.environ}
        child_env.update({k: resolve(v) for k, v in stdio.env_placeholders.items()})
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


@contextlib.asynccontextmanager
async def open_mcp_tools(
    servers: Sequence[wire.agent.McpServerDefinition], environment: Mapping[str, str]
) -> AsyncIterator[dict[str, list[BaseTool]]]:
    """Tools of each server by server name, filtered by `enabled_tools`; every server is
    stopped when the block ends."""
    connections = {server.name: connection_for(server, environment) for server in servers}
    async with contextlib.AsyncExitStack() as stack:
        tools: dict[str, list[BaseTool]] = {}
        for server in servers:
            try:
                session = await stack.enter_async_context(create_session(connections[server.name]))  # type: ignore[arg-type]
                await session.initialize()
                offered = await load_mcp_tools(session, server_name=server.name)
            except Exception as err:  # any transport failure: named, not retried blindly
                raise caller_error(
                    f"MCP server {server.name!r} could not be started or reached: "
                    f"{type(err).__name__}: {err}",
                    CONFIGURATION,
                ) from err
            tools[server.name] = select_tools(offered, list(server.enabled_tools), server.name)
        yield tools


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
