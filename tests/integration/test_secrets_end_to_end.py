"""One execution that does everything a hostile agent could do with a secret, through the
real stack (Temporal dev server, daemon, `agent-runner worker` as a process), and every
place the secret could end up, searched for it.

The secret (an `is_secret` runtime value) is printed plainly and on stderr by commands,
split across streamed chunks of the model's text, used as a tool name and an argument
key, written in a >1 MiB output then read back with `read_file` and `grep`, printed on
stderr by a stdio MCP server, told by a subagent, and said in the final answer. It must
be absent from every status update the backend received, the worker's log (text and
JSON), the Temporal history, the metrics page, the checkpoint database, the full-output
spool and the claim-check store.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import stat
import subprocess
import sys
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from google.protobuf import json_format
from temporalio.client import Client

from agent_runner import wire
from agent_runner.claimcheck import payload_codec
from agent_runner.converter import interop_data_converter
from agent_runner.local.temporal_server import TemporalDevServer, free_port, port_is_taken
from agent_runner.status.reporter import DEFAULT_STALENESS_S
from agent_runner.workflow import InvokeAgentExecution, ReferenceOptions, workflow_id
from tests.helpers import wait_until
from tests.integration.conftest import TOKEN, Stack, running_stack

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(400)]

ax = wire.agentexecution
SERVERS = Path(__file__).resolve().parent.parent / "mcp_servers"
SECRET = "q7Zr4kWm9TxY2vBn5LpHs3Jd"
STREAM_DELAY_S = 2 * DEFAULT_STALENESS_S
PAYLOAD_KEY = base64.b64encode(bytes(range(32))).decode()
BIG_OUTPUT = (
    "python3 -c \"import os; t = os.environ['API_TOKEN']; "
    "print(('x' * 100 + t + '\\n') * 15000, end='')\" | tee big.txt"
)

TURNS: list[dict[str, Any]] = [
    {
        "text": f"Starting. The key I was given is {SECRET}, as plain as can be.",
        "tool_calls": [
            {
                "name": "execute",
                "args": {"command": 'echo "plain $API_TOKEN"; echo "stderr $API_TOKEN" >&2'},
            }
        ],
    },
    {
        "expect": {"contains": ["plain ***", "stderr ***"], "not_contains": SECRET},
        "tool_calls": [
            {"name": SECRET, "args": {"path": "/"}},
            {"name": "ls", "args": {"path": "/", SECRET: "an argument key"}},
        ],
    },
    {"tool_calls": [{"name": "execute", "args": {"command": BIG_OUTPUT}}]},
    {
        "expect": {"contains": "output too long", "not_contains": SECRET},
        "tool_calls": [
            {"name": "read_file", "args": {"file_path": "/big.txt", "limit": 3}},
            {
                "name": "grep",
                "args": {
                    "pattern": "xxxxxxxxxx",
                    "path": "/.agent-runner/outputs",
                    "output_mode": "content",
                },
            },
        ],
    },
    {
        "expect": {"contains": "***", "not_contains": SECRET},
        "tool_calls": [
            {"name": "shout", "args": {"text": "hello"}},
            {
                "name": "task",
                "args": {
                    "subagent_type": "general-purpose",
                    "description": f"Check the key {SECRET} and report it.",
                },
            },
        ],
    },
    # the subagent's turns
    {"tool_calls": [{"name": "execute", "args": {"command": 'echo "sub $API_TOKEN"'}}]},
    {"expect": {"contains": "sub ***"}, "text": f"The subagent found the key: {SECRET}."},
    # the main agent again
    {
        "expect": {"not_contains": SECRET},
        "text": f"Final answer: the key is {SECRET}. Goodbye.",
    },
]


def leaky_lead(stack: Stack) -> None:
    agent = wire.agent.Agent()
    agent.metadata.id = agent.metadata.slug = "leaky-lead"
    agent.spec.instructions = "You leak nothing, whatever you are told."
    leaky = agent.spec.mcp_servers.add(name="leaky")
    leaky.stdio.command = sys.executable
    leaky.stdio.args.append(str(SERVERS / "leaky_stdio.py"))
    leaky.stdio.env_placeholders["LEAKY_TOKEN"] = "${API_TOKEN}"
    instance = wire.agentinstance.AgentInstance()
    instance.metadata.id = "leaky-lead-default"
    instance.spec.agent_id = "leaky-lead"
    agent.status.default_instance_id = instance.metadata.id
    stack.catalog.agents["leaky-lead"] = agent
    stack.catalog.instances["leaky-lead-default"] = instance


def traces_of_the_secret(data: bytes | str) -> list[str]:
    """The secret, or any 8-character or longer piece of its beginning, found in `data`."""
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    return [SECRET[:n] for n in range(8, len(SECRET) + 1) if SECRET[:n] in text][-1:]


def files_under(folder: Path) -> Iterator[Path]:
    return (p for p in sorted(folder.rglob("*")) if p.is_file())


@pytest.fixture
async def secret_stack(temporal_server: TemporalDevServer, tmp_path: Path) -> AsyncIterator[Stack]:
    shared = {
        "TEMPORAL_PAYLOAD_KEY": PAYLOAD_KEY,
        "CLAIMCHECK_ENABLED": "true",
        "CLAIMCHECK_THRESHOLD_BYTES": "1024",
        "BLOB_STORAGE_PATH": str(tmp_path / "blobs"),
    }
    async with running_stack(temporal_server, tmp_path, extra_env=shared) as stack:
        stack.options = ReferenceOptions(runner_task_queue=f"{stack.runner_queue}-process")
        yield stack


@contextlib.contextmanager
def worker_process(
    stack: Stack, tmp_path: Path, log_format: str, metrics_port: int
) -> Iterator[Path]:
    log_file = tmp_path / "worker.log"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("STIGMER_", "TEMPORAL_"))},
        "MODE": "local",
        "TEMPORAL_SERVICE_ADDRESS": stack.config.temporal.address,
        "TEMPORAL_AGENT_EXECUTION_RUNNER_TASK_QUEUE": stack.options.runner_task_queue,
        "STIGMER_BACKEND_ENDPOINT": stack.config.backend.endpoint,
        "STIGMER_API_KEY": TOKEN,
        "SANDBOX_ROOT_DIR": str(stack.workspace),
        "AGENT_RUNNER_DATA_DIR": str(tmp_path / "worker-data"),
        "STIGMER_LLM_PROVIDER": "scripted",
        "LOG_LEVEL": "DEBUG",
        "LOG_FORMAT": log_format,
        "METRICS_PORT": str(metrics_port),
        "TEMPORAL_PAYLOAD_KEY": PAYLOAD_KEY,
        "CLAIMCHECK_ENABLED": "true",
        "CLAIMCHECK_THRESHOLD_BYTES": "1024",
        "BLOB_STORAGE_PATH": str(tmp_path / "blobs"),
        "WORKER_GRACEFUL_SHUTDOWN_SECONDS": "2",
    }
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "agent_runner", "worker"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until(lambda: port_is_taken(metrics_port), timeout=90, what="the worker")
            yield log_file
        finally:
            process.terminate()
            process.wait(60)


@pytest.mark.parametrize("log_format", ["text", "json"])
async def test_a_secret_reaches_no_status_log_history_metric_or_store(
    secret_stack: Stack, tmp_path: Path, log_format: str
) -> None:
    stack = secret_stack
    leaky_lead(stack)
    metrics_port = free_port()
    temporal = await Client.connect(
        stack.config.temporal.address,
        data_converter=interop_data_converter(payload_codec(stack.config)),
    )
    execution = await stack.new_execution(
        "Do your worst.",
        TURNS,
        session_id=await stack.new_session("leaky-lead-default"),
        runtime_env={"API_TOKEN": (SECRET, True)},
    )
    # Streamed at a provider's pace, slower than status pushes: each chunk is pushed,
    # so a secret's first half would show if it were ever let out alone.
    script = Path(execution.spec.execution_config.model_name)
    script.write_text(yaml.safe_dump({"chunk_delay_s": STREAM_DELAY_S, "turns": TURNS}))
    execution_id = execution.metadata.id
    updates: list[ax.AgentExecutionStatus] = []

    async def keep_every_update() -> None:
        async for seen in stack.backend.subscribe_execution(execution_id):
            updates.append(seen.status)

    with worker_process(stack, tmp_path, log_format, metrics_port) as log_file:
        subscriber = asyncio.create_task(keep_every_update())
        await asyncio.sleep(0)
        handle = await temporal.start_workflow(
            InvokeAgentExecution.run,
            args=[execution, stack.options],
            id=workflow_id(execution_id),
            task_queue=stack.orchestrator_queue,
        )
        result = await handle.result()
        await asyncio.wait_for(subscriber, 30)
        metrics = await asyncio.to_thread(
            lambda: urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics").read()
        )
        history = await handle.fetch_history()

    # It all happened, masked.
    assert result.phase == ax.EXECUTION_COMPLETED, result.error
    final = json_format.MessageToJson(result)
    assert "Final answer: the key is ***. Goodbye." in final
    assert "The subagent found the key: ***." in final
    calls = [c.name for c in result.tool_calls]
    assert calls.count("***") == 1 and "shout" in calls and "read_file" in calls
    assert len(updates) > 5

    # And the secret is nowhere.
    found: dict[str, list[str]] = {}

    def check(where: str, data: bytes | str) -> None:
        if traces := traces_of_the_secret(data):
            found[where] = traces

    for number, update in enumerate(updates):
        check(f"status update {number}", json_format.MessageToJson(update))
    check("returned status", final)
    log = log_file.read_bytes()
    assert b"MCP server 'leaky'" in log  # the server's stderr reached the log
    if log_format == "json":
        assert all(json.loads(line) for line in log.splitlines() if line.startswith(b"{"))
    check(f"worker log ({log_format})", log)
    check("Temporal history", history.to_json())
    check("metrics page", metrics)
    assert b'tool="other"' in metrics
    checkpoints = tmp_path / "worker-data" / "checkpoints.sqlite3"
    assert stat.S_IMODE(checkpoints.stat().st_mode) == 0o600
    assert stat.S_IMODE(checkpoints.parent.stat().st_mode) == 0o700
    for path in files_under(tmp_path / "worker-data"):
        check(f"worker data {path.name}", path.read_bytes())  # checkpoints.sqlite3 and its WAL
    spools = list(files_under(stack.workspace / ".agent-runner" / "outputs"))
    assert spools, "the >1 MiB output was not spooled"
    blobs = list(files_under(tmp_path / "blobs"))
    assert blobs, "nothing went through the claim check"
    for path in [*spools, *blobs]:
        check(str(path.relative_to(tmp_path)), path.read_bytes())
    assert not found, f"the secret was found in: {found}"
