"""A Temporal dev server, the local daemon and worker processes, for the benchmarks that
go through Temporal.

The dev server, the daemon and the reference workflow's worker run here; each
runner worker (`agent-runner worker`) and each peer worker (`bench.peer_worker`)
is a process of its own, so that its memory is its own and it can be killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from temporalio.client import Client

from agent_runner import wire
from agent_runner.backend import BackendClient
from agent_runner.config import BackendConfig, Config
from agent_runner.local.daemon import DaemonSettings, LocalDaemon
from agent_runner.local.manifests import DEFAULT_RESOURCES_DIR, load_catalog
from agent_runner.local.temporal_server import TemporalDevServer, free_port
from agent_runner.secrets import Secret
from agent_runner.worker import connect_temporal, orchestrator_worker
from agent_runner.workflow import (
    ORCHESTRATOR_TASK_QUEUE,
    InvokeAgentExecution,
    ReferenceOptions,
    workflow_id,
)
from bench.common import HERE

ax = wire.agentexecution
REPO = HERE.parent
TOKEN = "bench"
READY_TIMEOUT_S = 120.0


@dataclass
class WorkerProcess:
    """A worker in its own process; `started_s` is how long it took to poll."""

    process: subprocess.Popen[str]
    started_s: float
    lines: list[str] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.process.pid

    def rss_mib(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError(f"no VmRSS for process {self.pid}")

    def kill(self) -> None:
        """SIGKILL, as a crash would: no graceful shutdown, no final push."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


def start_process(command: Sequence[str], ready_line: str, env: dict[str, str]) -> WorkerProcess:
    """Start `command` and wait until it prints a line starting with `ready_line`."""
    started = time.perf_counter()
    process = subprocess.Popen(
        list(command),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    worker = WorkerProcess(process, 0.0)
    ready = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            worker.lines.append(line.rstrip())
            if line.startswith(ready_line):
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not ready.wait(0.005):
        if process.poll() is not None or time.monotonic() > deadline:
            worker.stop()
            tail = "\n".join(worker.lines[-20:])
            raise RuntimeError(f"{command[0]} did not start polling:\n{tail}")
    worker.started_s = time.perf_counter() - started
    return worker


def start_daemon_process(data: Path) -> tuple[WorkerProcess, str]:
    """The local daemon in its own process, as the runner meets it (a backend it calls
    over gRPC, not work on its own event loop); returns it and its address."""
    address = f"127.0.0.1:{free_port()}"
    env = {
        **os.environ,
        "STIGMER_API_KEY": TOKEN,
        "AGENT_RUNNER_DATA_DIR": str(data),
        "LOG_LEVEL": "WARNING",
    }
    command = [str(Path(sys.executable).parent / "agent-runner"), "daemon", "--listen", address]
    return start_process(command, "daemon listening", env), address


def script_file(folder: Path, turns: list[dict[str, Any]], chunk_delay_s: float = 0.0) -> Path:
    import yaml

    path = folder / f"script-{uuid.uuid4().hex[:8]}.yaml"
    path.write_text(yaml.safe_dump({"chunk_delay_s": chunk_delay_s, "turns": turns}))
    return path


def step_turns(steps: int, command: str = "true") -> list[dict[str, Any]]:
    """`steps` tool calls (`{n}` in `command` is the step number), then a short answer."""
    turns: list[dict[str, Any]] = [
        {"tool_calls": [{"name": "execute", "args": {"command": command.format(n=n)}}]}
        for n in range(steps)
    ]
    turns.append({"text": "done"})
    return turns


class Cluster:
    def __init__(self) -> None:
        self.data = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
        self.workspace = self.data / "workspace"
        self.workspace.mkdir()
        self.server: TemporalDevServer | None = None
        self.daemon: LocalDaemon | None = None
        self.backend: BackendClient | None = None
        self.temporal: Client | None = None
        self.workers: list[WorkerProcess] = []
        self._orchestrator: contextlib.AsyncExitStack | None = None

    @property
    def address(self) -> str:
        assert self.server is not None
        return f"127.0.0.1:{self.server.port}"

    async def start(self) -> None:
        (self.data / "logs").mkdir(exist_ok=True)
        self.server = TemporalDevServer(
            port=free_port(), ui_port=None, db_file=None, log_file=self.data / "logs" / "t.log"
        )
        await asyncio.to_thread(self.server.start)
        catalog = load_catalog(DEFAULT_RESOURCES_DIR, REPO / "skills")
        self.daemon = LocalDaemon(DaemonSettings("127.0.0.1:0", TOKEN, self.data), catalog)
        await self.daemon.start()
        self.backend = BackendClient(
            BackendConfig(endpoint=self.endpoint, api_key=Secret(TOKEN), tls=False)
        )
        self.temporal = await connect_temporal(Config.load_from_env(self.environment("unused")))
        self._orchestrator = contextlib.AsyncExitStack()
        await self._orchestrator.enter_async_context(
            orchestrator_worker(self.temporal, self.backend)
        )

    @property
    def endpoint(self) -> str:
        assert self.daemon is not None
        return f"127.0.0.1:{self.daemon.port}"

    def environment(self, queue: str, max_concurrency: int = 50) -> dict[str, str]:
        return {
            **os.environ,
            "MODE": "local",
            "TEMPORAL_SERVICE_ADDRESS": self.address,
            "STIGMER_BACKEND_ENDPOINT": self.endpoint if self.daemon else "127.0.0.1:1",
            "STIGMER_API_KEY": TOKEN,
            "TEMPORAL_AGENT_EXECUTION_RUNNER_TASK_QUEUE": queue,
            "TEMPORAL_MAX_CONCURRENCY": str(max_concurrency),
            "AGENT_RUNNER_DATA_DIR": str(self.data),
            "SANDBOX_ROOT_DIR": str(self.workspace),
            "STIGMER_LLM_PROVIDER": "scripted",
            "STIGMER_LLM_MODEL": str(script_file(self.data, step_turns(1))),
            "LOG_LEVEL": "WARNING",
        }

    def start_worker(self, queue: str, max_concurrency: int = 50) -> WorkerProcess:
        """An `agent-runner worker` process on `queue`; ready when it polls."""
        command = [str(Path(sys.executable).parent / "agent-runner"), "worker"]
        worker = start_process(
            command, "agent-runner worker", self.environment(queue, max_concurrency)
        )
        self.workers.append(worker)
        return worker

    def start_peer_worker(self, queue: str, *, stream: bool = False) -> WorkerProcess:
        command = [sys.executable, "-m", "bench.peer_worker", self.address, queue]
        env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONWARNINGS": "ignore"}
        worker = start_process(command + (["--stream"] if stream else []), "polling", env)
        self.workers.append(worker)
        return worker

    async def new_execution(self, script: Path, message: str = "go") -> ax.AgentExecution:
        assert self.backend is not None
        spec = ax.AgentExecutionSpec(agent_id="demo", message=message)
        spec.execution_config.model_name = f"scripted:{script}"
        return await self.backend.create_execution(ax.AgentExecution(spec=spec))

    async def run_ours(
        self,
        execution: ax.AgentExecution,
        queue: str,
        options: ReferenceOptions | None = None,
    ) -> ax.AgentExecutionStatus:
        assert self.temporal is not None
        status: ax.AgentExecutionStatus = await self.temporal.execute_workflow(
            InvokeAgentExecution.run,
            args=[execution, options or ReferenceOptions(runner_task_queue=queue)],
            id=workflow_id(execution.metadata.id),
            task_queue=ORCHESTRATOR_TASK_QUEUE,
        )
        return status

    async def peer_client(self) -> Client:
        from temporalio.deepagents import DeepAgentsPlugin

        return await Client.connect(self.address, plugins=[DeepAgentsPlugin()])

    async def history_size(self, client: Client, workflow: str) -> tuple[int, int]:
        """Events and bytes of a workflow's history."""
        history = await client.get_workflow_handle(workflow).fetch_history()
        proto = history.to_proto() if hasattr(history, "to_proto") else None
        events = list(history.events)
        size = proto.ByteSize() if proto is not None else sum(e.ByteSize() for e in events)
        return len(events), size

    async def stop(self) -> None:
        for worker in self.workers:
            await asyncio.to_thread(worker.stop)
        if self._orchestrator is not None:
            await self._orchestrator.aclose()
        if self.backend is not None:
            await self.backend.close()
        if self.daemon is not None:
            await self.daemon.stop()
        if self.server is not None:
            await asyncio.to_thread(self.server.stop)


@contextlib.asynccontextmanager
async def running_cluster() -> AsyncIterator[Cluster]:
    cluster = Cluster()
    try:
        await cluster.start()
        yield cluster
    finally:
        await cluster.stop()
