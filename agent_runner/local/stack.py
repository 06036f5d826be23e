"""The whole local stack in one process: Temporal dev server (a child process),
the daemon, the runner's worker and the reference workflow's worker.

`agent-runner up` runs it in the foreground; `agent-runner run` starts an
ephemeral one (free ports, Temporal state in memory) when none is running.
"""

from __future__ import annotations

import asyncio
import dataclasses
import getpass
import json
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from agent_runner.config import PROVIDER_KEY_VARIABLES, Config
from agent_runner.errors import AgentRunnerError, ConfigError
from agent_runner.local.daemon import DaemonSettings, LocalDaemon
from agent_runner.local.manifests import Catalog
from agent_runner.local.temporal_server import TemporalDevServer, free_port, port_is_taken
from agent_runner.private_files import private_folder
from agent_runner.secrets import Secret
from agent_runner.worker import run_worker
from agent_runner.workflow import ORCHESTRATOR_TASK_QUEUE

if TYPE_CHECKING:
    from agent_runner.local.web import WebView

log = logging.getLogger(__name__)

WORKER_READY_TIMEOUT_S = 60.0
STACK_INFO_FILE = "up.json"
"""In the data folder while `up` runs: what the running stack uses, for `run` to show."""


class StackError(AgentRunnerError):
    """A part of the local stack could not start."""


def split_address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host, int(port)


def _probe_host(host: str) -> str:
    """Where to knock for a configured host: `localhost` and an empty host are loopback."""
    return "127.0.0.1" if host in ("localhost", "") else host


def stack_is_running(config: Config) -> bool:
    """Whether `up` (or anything like it) serves the configured addresses."""
    return all(
        port_is_taken(port, _probe_host(host))
        for host, port in (
            split_address(config.temporal.address),
            split_address(config.backend.endpoint),
        )
    )


def ensure_provider_key(
    config: Config,
    *,
    interactive: bool,
    ask: Callable[[str], str] = getpass.getpass,
) -> Config:
    """The config with a key for a live provider that needs one, asked for on a terminal.

    The key goes into the returned config only (handed to the in-process worker):
    never to a file, the environment of other processes, or a log.
    """
    llm = config.llm
    variable = PROVIDER_KEY_VARIABLES.get(llm.provider)
    needs_key = variable is not None and not (llm.provider == "openai" and llm.base_url)
    if not needs_key or llm.api_key is not None:
        return config
    if not interactive:
        raise ConfigError(
            [
                f"{variable} is not set: STIGMER_LLM_PROVIDER={llm.provider} needs it; "
                f"export {variable} (or run in a terminal to be asked for it)"
            ]
        )
    key = ask(f"{variable} is not set. Paste it (input hidden, kept in memory only): ").strip()
    if not key:
        raise ConfigError([f"{variable} is not set and no key was entered"])
    return dataclasses.replace(config, llm=dataclasses.replace(llm, api_key=Secret(key)))


@dataclass(frozen=True)
class StackInfo:
    """What a running `up` serves and with which model: never a secret, only names."""

    pid: int
    model: str
    """`provider:model`, or `scripted` (offline: each example agent plays its own script)."""
    keys: tuple[str, ...]
    """Providers the stack has a key for (`anthropic`, `openai`): names, never values."""
    resources_dir: str
    skills_dir: str
    workspace: str
    temporal: str
    namespace: str
    web_ui: str | None

    @classmethod
    def of(cls, stack: LocalStack) -> StackInfo:
        llm = stack.config.llm
        server = stack.temporal_server
        return cls(
            pid=os.getpid(),
            model="scripted" if llm.provider == "scripted" and not llm.model else llm.spec,
            keys=tuple(
                provider
                for provider, variable in PROVIDER_KEY_VARIABLES.items()
                if os.environ.get(variable) or (provider == llm.provider and llm.api_key)
            ),
            resources_dir=str(stack.resources_dir.resolve()) if stack.resources_dir else "",
            skills_dir=str(stack.skills_dir.resolve()) if stack.skills_dir else "",
            workspace=str(stack.workspace),
            temporal=stack.config.temporal.address,
            namespace=stack.config.temporal.namespace,
            web_ui=server.ui_url if server is not None else None,
        )

    def write(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        (data_dir / STACK_INFO_FILE).write_text(json.dumps(dataclasses.asdict(self), indent=2))

    @classmethod
    def read(cls, data_dir: Path) -> StackInfo | None:
        """The running stack's info; None when no `up` wrote one or it has ended."""
        try:
            raw = json.loads((data_dir / STACK_INFO_FILE).read_text())
            info = cls(**{**raw, "keys": tuple(raw.get("keys", ()))})
        except (OSError, ValueError, TypeError):
            return None
        return info if _process_alive(info.pid) else None

    @staticmethod
    def remove(data_dir: Path) -> None:
        (data_dir / STACK_INFO_FILE).unlink(missing_ok=True)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def execution_link(web_ui: str | None, namespace: str, workflow: str) -> str | None:
    """The execution's workflow in the Temporal web UI (ids quoted: a namespace or
    workflow id may hold characters a URL path cannot)."""
    if not web_ui:
        return None
    return (
        f"{web_ui.rstrip('/')}/namespaces/{quote(namespace, safe='')}"
        f"/workflows/{quote(workflow, safe='')}"
    )


@dataclass
class LocalStack:
    config: Config
    catalog: Catalog
    ephemeral: bool = False
    announce: bool = True
    """Print the worker's banner (not for `run`, whose output is the execution)."""
    resources_dir: Path | None = None
    skills_dir: Path | None = None
    web: bool = False
    """Serve the web view on `config.web_port` (for `up`; a taken port is reported, not fatal)."""
    temporal_server: TemporalDevServer | None = None
    daemon: LocalDaemon | None = None
    web_view: WebView | None = None
    web_problem: str = ""
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _worker: asyncio.Task[None] | None = None

    @property
    def workspace(self) -> Path:
        return self.config.sandbox.root_dir

    async def start(self) -> None:
        """Start every part, each ready before the next; on any failure, stop what started."""
        if not self.ephemeral:
            self._check_daemon_port()
        try:
            self._start_temporal()
            await self._start_daemon()
            await self._start_workers()
            if self.web and self.config.web_port:
                await self._start_web()
        except BaseException:
            await self.stop()
            raise

    def _start_temporal(self) -> None:
        host, port = split_address(self.config.temporal.address)
        if not self.ephemeral and port_is_taken(port, _probe_host(host)):
            log.info("using the Temporal server already at %s", self.config.temporal.address)
            return
        data = self.config.data_dir
        private_folder(private_folder(data) / "logs")
        server = TemporalDevServer(
            port=port,
            ui_port=None if self.ephemeral else port + 1000,
            db_file=None if self.ephemeral else data / "temporal.sqlite3",
            log_file=data / "logs" / "temporal.log",
        )
        server.start()
        self.temporal_server = server

    def _check_daemon_port(self) -> None:
        _, port = split_address(self.config.backend.endpoint)
        if port_is_taken(port):
            raise StackError(
                f"port {port} (the daemon, STIGMER_BACKEND_ENDPOINT) is already taken; "
                "stop what uses it (another `agent-runner up`?) or choose another port"
            )

    async def _start_daemon(self) -> None:
        # An ephemeral daemon takes whatever port the OS gives it: a port picked in
        # advance could meanwhile be taken by one of the Temporal server's own.
        _, port = split_address(self.config.backend.endpoint)
        settings = DaemonSettings(
            listen=f"127.0.0.1:{0 if self.ephemeral else port}",
            token=self.config.backend.api_key.reveal(),
            data_dir=self.config.data_dir,
        )
        self.daemon = LocalDaemon(settings, self.catalog)
        await self.daemon.start()
        if self.ephemeral:
            self.config = dataclasses.replace(
                self.config,
                backend=dataclasses.replace(
                    self.config.backend, endpoint=f"127.0.0.1:{self.daemon.port}"
                ),
            )

    async def _start_workers(self) -> None:
        ready = asyncio.Event()
        self._worker = asyncio.create_task(
            run_worker(
                self.config,
                self._stop,
                orchestrator_queue=ORCHESTRATOR_TASK_QUEUE,
                announce=self.announce,
                ready=ready,
            )
        )
        # Ready when both workers poll; a worker that fails first raises its error here.
        polling = asyncio.create_task(ready.wait())
        done, _ = await asyncio.wait(
            {self._worker, polling}, timeout=WORKER_READY_TIMEOUT_S, return_when="FIRST_COMPLETED"
        )
        polling.cancel()
        if self._worker in done:
            self._worker.result()
            raise StackError("the worker stopped while starting")
        if not done:
            raise StackError(f"the worker did not start polling within {WORKER_READY_TIMEOUT_S:g}s")

    async def _start_web(self) -> None:
        from agent_runner.local.web import WebSettings, WebView, WebViewError

        assert self.daemon is not None
        settings = WebSettings(port=self.config.web_port, temporal_ui=self._temporal_ui())
        view = WebView(settings, self.config, self.daemon)
        try:
            await view.start()
        except WebViewError as err:
            self.web_problem = str(err)
            log.warning("%s", err)
            return
        self.web_view = view

    def _temporal_ui(self) -> str | None:
        if self.temporal_server is not None:
            return self.temporal_server.ui_url
        # Someone else's dev server: `temporal server start-dev` puts its UI at port + 1000.
        host, port = split_address(self.config.temporal.address)
        ui_port = port + 1000
        probe = _probe_host(host)
        return f"http://{probe}:{ui_port}" if port_is_taken(ui_port, probe) else None

    async def wait_until_stopped(self) -> None:
        """Until `stop()` is called or the worker ends on its own (then with its error)."""
        assert self._worker is not None
        await self._worker

    async def stop(self) -> None:
        self._stop.set()
        if self.web_view is not None:
            await self.web_view.stop()
        if self._worker is not None:
            await asyncio.gather(self._worker, return_exceptions=True)
        if self.daemon is not None:
            await self.daemon.stop()
        if self.temporal_server is not None:
            await asyncio.to_thread(self.temporal_server.stop)

    def banner(self) -> str:
        llm = self.config.llm
        lines = [
            "agent-runner local stack is up",
            f"  temporal   {self.config.temporal.address}",
        ]
        if self.temporal_server is not None and self.temporal_server.ui_url:
            lines.append(f"  web ui     {self.temporal_server.ui_url}")
        if self.web_view is not None:
            lines.append(f"  web view   {self.web_view.sign_in_url}")
        elif self.web_problem:
            lines.append(f"  web view   off: {self.web_problem}")
        lines += [
            f"  daemon     {self.config.backend.endpoint}",
            f"  workspace  {self.workspace}",
            f"  data       {self.config.data_dir}",
        ]
        if llm.provider == "scripted" and not llm.model:
            lines += [
                "  model      scripted (offline: each example agent plays its own script; "
                "no API key in use)",
                "             for a live model: export ANTHROPIC_API_KEY=... "
                "(or OPENAI_API_KEY, or STIGMER_LLM_PROVIDER=ollama)",
            ]
        else:
            lines.append(f"  model      {llm.spec}")
        agents = sorted(agent.metadata.slug for agent in self.catalog.agents.values())
        lines.append(f"  agents     {', '.join(agents)}")
        if self.resources_dir is not None:
            lines.append(f"  resources  {self.resources_dir}")
        if self.skills_dir is not None:
            lines.append(f"  skills     {self.skills_dir} ({len(self.catalog.skills)} skills)")
        return "\n".join(lines)


def ephemeral_config(config: Config) -> Config:
    """The config of a throwaway stack: free loopback ports for Temporal and the daemon."""
    return dataclasses.replace(
        config,
        temporal=dataclasses.replace(config.temporal, address=f"127.0.0.1:{free_port()}"),
        backend=dataclasses.replace(config.backend, endpoint=f"127.0.0.1:{free_port()}"),
    )


def stdin_is_terminal() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()
