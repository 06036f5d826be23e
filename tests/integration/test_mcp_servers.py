"""MCP servers of an agent definition, end to end: a real stdio server and a real HTTP one."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError

from agent_runner import wire
from agent_runner.activities.mcp_servers import _StderrToLog, open_mcp_tools
from agent_runner.local.temporal_server import TemporalDevServer, free_port, port_is_taken
from tests.daytona_api import DAYTONA_TEST_KEY, FakeDaytona
from tests.helpers import wait_until
from tests.integration.conftest import Stack, running_stack

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(180)]

ax = wire.agentexecution
SERVERS = Path(__file__).resolve().parent.parent / "mcp_servers"
NOTES_TOKEN = "notes-token-31337"


@pytest.fixture
def notes_server() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(SERVERS / "notes_http.py"), str(port), NOTES_TOKEN],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: port_is_taken(port), timeout=30, what="the HTTP MCP server")
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.terminate()
        process.wait(10)


def add_tool_user(
    stack: Stack, notes_url: str, owner_placeholder: str = "${WORKSPACE_OWNER}"
) -> None:
    agent = wire.agent.Agent()
    agent.metadata.id = agent.metadata.slug = "tool-user"
    agent.spec.instructions = "You use tools."
    calc = agent.spec.mcp_servers.add(name="calc")
    calc.stdio.command = sys.executable
    calc.stdio.args.append(str(SERVERS / "calc_stdio.py"))
    calc.stdio.env_placeholders["CALC_OWNER"] = owner_placeholder
    calc.enabled_tools.extend(["add", "owner"])  # multiply stays hidden
    notes = agent.spec.mcp_servers.add(name="notes")
    notes.http.url = notes_url
    notes.http.headers["X-Token"] = "${NOTES_TOKEN}"
    notes.http.timeout_seconds = 10
    instance = wire.agentinstance.AgentInstance()
    instance.metadata.id = "tool-user-default"
    instance.spec.agent_id = "tool-user"
    instance.spec.environment_refs.add(slug="local-dev")
    agent.status.default_instance_id = instance.metadata.id
    stack.catalog.agents["tool-user"] = agent
    stack.catalog.instances["tool-user-default"] = instance


async def test_an_agent_uses_a_stdio_and_an_http_mcp_server(
    stack: Stack, notes_server: str
) -> None:
    add_tool_user(stack, notes_server)
    turns = [
        {"tool_calls": [{"name": "add", "args": {"a": 2, "b": 3}}, {"name": "owner", "args": {}}]},
        {
            "expect": {"contains": ["5", "local developer"]},
            "tool_calls": [{"name": "lookup", "args": {"key": "greeting"}}],
        },
        {
            "expect": {"contains": "hello from the notes server"},
            "tool_calls": [{"name": "multiply", "args": {"a": 2, "b": 3}}],
        },
        {"text": "2 + 3 = 5, and the notes server says hello."},
    ]
    execution = await stack.new_execution(
        "Use your tools",
        turns,
        session_id=await stack.new_session("tool-user-default"),
        runtime_env={"NOTES_TOKEN": (NOTES_TOKEN, True)},
    )
    result = await (await stack.start(execution)).result()
    assert result.phase == ax.EXECUTION_COMPLETED
    calls = {c.name: c for c in result.tool_calls}
    assert calls["add"].status == ax.TOOL_CALL_COMPLETED and "5" in calls["add"].result
    assert "local developer" in calls["owner"].result
    assert "hello from the notes server" in calls["lookup"].result
    assert calls["multiply"].status == ax.TOOL_CALL_FAILED  # not in enabled_tools
    assert "multiply" in calls["multiply"].result and "not a valid tool" in calls["multiply"].result
    wait_until(lambda: not calc_processes(), what="the stdio MCP server to stop with the run")


def calc_processes() -> list[Path]:
    return [
        cmdline
        for cmdline in Path("/proc").glob("[0-9]*/cmdline")
        if cmdline.exists() and b"calc_stdio.py" in _read(cmdline)
    ]


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


async def test_a_placeholder_without_a_value_fails_naming_it(
    stack: Stack, notes_server: str
) -> None:
    add_tool_user(stack, notes_server, owner_placeholder="${CALC_OWNER_NOT_SET}")
    execution = await stack.new_execution(
        "Use your tools",
        [{"text": "never played"}],
        session_id=await stack.new_session("tool-user-default"),
        runtime_env={"NOTES_TOKEN": (NOTES_TOKEN, True)},
    )
    handle = await stack.start(execution)
    with pytest.raises(WorkflowFailureError):
        await handle.result()
    stored = (await stack.stored(execution.metadata.id)).status
    assert stored.phase == ax.EXECUTION_FAILED
    assert "${CALC_OWNER_NOT_SET} has no value" in stored.error


WORKER_ONLY = "worker-only-secret-5e1f"
RUN_TOKEN = "run-token-a9c4e7"


def add_leaky_agent(stack: Stack) -> None:
    agent = wire.agent.Agent()
    agent.metadata.id = agent.metadata.slug = "leaky-user"
    leaky = agent.spec.mcp_servers.add(name="leaky")
    leaky.stdio.command = sys.executable
    leaky.stdio.args.append(str(SERVERS / "leaky_stdio.py"))
    leaky.stdio.env_placeholders["LEAKY_TOKEN"] = "${RUN_TOKEN}"
    instance = wire.agentinstance.AgentInstance()
    instance.metadata.id = "leaky-user-default"
    instance.spec.agent_id = "leaky-user"
    agent.status.default_instance_id = instance.metadata.id
    stack.catalog.agents["leaky-user"] = agent
    stack.catalog.instances["leaky-user-default"] = instance


async def test_a_stdio_server_gets_its_placeholders_and_no_worker_secret(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    monkeypatch.setenv("WORKER_ONLY_KEY", WORKER_ONLY)  # the worker's own environment
    add_leaky_agent(stack)
    turns = [
        {"tool_calls": [{"name": "environment", "args": {}}]},
        {
            "expect": {"contains": '"LEAKY_TOKEN": "***"', "not_contains": WORKER_ONLY},
            "tool_calls": [{"name": "shout", "args": {"text": "hello"}}],
        },
        {"text": "Done."},
    ]
    execution = await stack.new_execution(
        "Leak",
        turns,
        session_id=await stack.new_session("leaky-user-default"),
        runtime_env={"RUN_TOKEN": (RUN_TOKEN, True)},
    )
    result = await (await stack.start(execution)).result()
    assert result.phase == ax.EXECUTION_COMPLETED
    environment = result.tool_calls[0].result
    assert WORKER_ONLY not in environment and "WORKER_ONLY_KEY" not in environment
    assert '"PATH"' in environment  # the SDK's safe defaults are there
    # The server's stderr went to the worker's log, through its filter.
    assert "MCP server 'leaky': leaky starting with token ***" in caplog.text
    assert "MCP server 'leaky': shouting hello with token ***" in caplog.text
    assert RUN_TOKEN not in caplog.text


async def test_host_mcp_servers_are_refused_unless_allowed() -> None:
    server = wire.agent.McpServerDefinition(name="calc")
    server.stdio.command = sys.executable
    with pytest.raises(ApplicationError, match="MCP_ALLOW_HOST_SERVERS=true"):
        async with open_mcp_tools([server], {}, host_servers_allowed=False):
            pass
    http = wire.agent.McpServerDefinition(name="notes")
    http.http.url = "http://127.0.0.1:1/mcp"
    with pytest.raises(ApplicationError, match="could not be started or reached: ConnectError"):
        async with open_mcp_tools([http], {}, host_servers_allowed=False):
            pass  # an http server is not refused: it is tried


@pytest.mark.parametrize("allowed", [False, True])
async def test_with_daytona_sandboxes_a_stdio_server_runs_only_when_the_operator_allows_it(
    temporal_server: TemporalDevServer,
    tmp_path: Path,
    daytona_cloud: FakeDaytona,
    allowed: bool,
) -> None:
    extra = {
        "SANDBOX_TYPE": "daytona",
        "DAYTONA_API_KEY": DAYTONA_TEST_KEY,
        "DAYTONA_API_URL": daytona_cloud.url,
        "DAYTONA_WORK_DIR": str(tmp_path / "sandbox-home"),
        "MCP_ALLOW_HOST_SERVERS": str(allowed).lower(),
    }
    async with running_stack(temporal_server, tmp_path, extra) as stack:
        add_leaky_agent(stack)
        execution = await stack.new_execution(
            "Shout",
            [{"tool_calls": [{"name": "shout", "args": {"text": "hi"}}]}, {"text": "Done."}],
            session_id=await stack.new_session("leaky-user-default"),
            runtime_env={"RUN_TOKEN": (RUN_TOKEN, True)},
        )
        handle = await stack.start(execution)
        if allowed:
            assert (await handle.result()).phase == ax.EXECUTION_COMPLETED
            return
        with pytest.raises(WorkflowFailureError):
            await handle.result()
        stored = (await stack.stored(execution.metadata.id)).status
    assert stored.phase == ax.EXECUTION_FAILED
    assert "MCP server 'leaky' is a stdio server" in stored.error
    assert "MCP_ALLOW_HOST_SERVERS=true" in stored.error


async def test_a_servers_stderr_is_logged_by_line_and_an_overlong_line_is_dropped_whole(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    script = (
        "import sys; sys.stderr.write('first line\\n' + 'a' * 10000 + 'TAIL-OF-A-LONG-LINE\\n'"
        " + 'last line without newline')"
    )
    async with _StderrToLog("noisy") as errlog:
        process = await asyncio.create_subprocess_exec(sys.executable, "-c", script, stderr=errlog)
        await process.wait()
    lines = [r.getMessage() for r in caplog.records if "MCP server 'noisy'" in r.getMessage()]
    assert lines == [
        "MCP server 'noisy': first line",
        "MCP server 'noisy': [a stderr line longer than 8192 bytes, not logged]",
        "MCP server 'noisy': last line without newline",
    ]


def test_the_worker_and_an_agent_without_servers_never_import_the_mcp_client() -> None:
    """The MCP client and the server framework it imports cost a worker's start about
    half a second; only an agent with an MCP server pays it. A fresh interpreter, since
    this one has imported them already."""
    code = (
        "import asyncio, sys\n"
        "import agent_runner.worker\n"
        "from agent_runner.activities.mcp_servers import open_mcp_tools\n"
        "async def main():\n"
        "    async with open_mcp_tools([], {}) as tools:\n"
        "        assert tools == {}\n"
        "asyncio.run(main())\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'mcp', 'langchain_mcp_adapters'}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
