"""`agent-runner run`, `logs` and `list`: run an agent and watch it, replay or list runs."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from google.protobuf import json_format
from rich.console import Console
from rich.table import Table
from temporalio.client import Client, WorkflowHandle

from agent_runner import wire
from agent_runner.backend import BackendClient, ResourceNotFound
from agent_runner.config import Config
from agent_runner.errors import AgentRunnerError
from agent_runner.local.manifests import load_catalog
from agent_runner.local.stack import (
    LocalStack,
    ensure_provider_key,
    ephemeral_config,
    stack_is_running,
    stdin_is_terminal,
)
from agent_runner.local.store import Store
from agent_runner.local.view import LineView, make_view, one_line, phase_name
from agent_runner.worker import connect_temporal
from agent_runner.workflow import (
    ORCHESTRATOR_TASK_QUEUE,
    InvokeAgentExecution,
    workflow_id,
)

ax = wire.agentexecution

EXIT_COMPLETED, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 130


class RunError(AgentRunnerError):
    """The run could not be started (unknown agent or session, ...)."""


@dataclass(frozen=True)
class RunRequest:
    message: str
    agent: str
    session: str | None
    model: str | None
    json_output: bool
    resources_dir: Path
    skills_dir: Path | None


async def run_command(config: Config, request: RunRequest, console: Console) -> int:
    """Run one execution on the running stack, or on an ephemeral one; returns the exit code."""
    if stack_is_running(config):
        return await _run_on(config, request, console)
    config = ensure_provider_key(ephemeral_config(config), interactive=stdin_is_terminal())
    stack = LocalStack(
        config=config,
        catalog=load_catalog(request.resources_dir, request.skills_dir),
        ephemeral=True,
        announce=False,
    )
    if not request.json_output:
        console.print(
            f"[dim]no local stack is running: starting one for this run "
            f"(logs in {config.data_dir / 'logs'})[/dim]"
        )
    await stack.start()
    try:
        return await _run_on(stack.config, request, console)
    finally:
        await stack.stop()


async def _run_on(config: Config, request: RunRequest, console: Console) -> int:
    temporal = await connect_temporal(config)
    async with BackendClient(config.backend) as backend:
        execution, handle = await start_execution(temporal, backend, request)
        if not request.json_output:
            _announce_model(console, config, request)
        interrupted = asyncio.Event()
        with _on_interrupt(lambda: _interrupt(handle, interrupted)):
            final = await _follow(backend, execution, request, console)
        if request.json_output:
            print(json_format.MessageToJson(final.status))
        else:
            _summary(console, final, config)
        if interrupted.is_set():
            return EXIT_INTERRUPTED
        return EXIT_COMPLETED if final.status.phase == ax.EXECUTION_COMPLETED else EXIT_FAILED


async def start_execution(
    temporal: Client, backend: BackendClient, request: RunRequest
) -> tuple[ax.AgentExecution, WorkflowHandle[Any, Any]]:
    """Create the execution in the daemon (in a new session unless `request.session`) and
    start the reference workflow on it. The web view starts runs this way too."""
    execution = await _create_execution(backend, request)
    handle = await temporal.start_workflow(
        InvokeAgentExecution.run,
        args=[execution],
        id=workflow_id(execution.metadata.id),
        task_queue=ORCHESTRATOR_TASK_QUEUE,
    )
    return execution, handle


async def cancel_execution(temporal: Client, execution_id: str) -> None:
    """What Ctrl-C does: cancel the workflow. The runner then ends the execution CANCELLED
    and kills its commands; follow the execution to see it."""
    await temporal.get_workflow_handle(workflow_id(execution_id)).cancel()


def _announce_model(console: Console, config: Config, request: RunRequest) -> None:
    model = request.model or (config.llm.spec if config.llm.model else "scripted demo script")
    if config.llm.provider == "scripted" and not request.model:
        console.print(f"[yellow]model: {model} (offline: a script plays the model's part)[/yellow]")
    else:
        console.print(f"[dim]model: {model}[/dim]")


async def _create_execution(backend: BackendClient, request: RunRequest) -> ax.AgentExecution:
    try:
        if request.session:
            session = await backend.get_session(request.session)
        else:
            agent = await backend.get_agent_by_reference(
                wire.apiresource.ApiResourceReference(slug=request.agent)
            )
            session = await backend.create_session(
                wire.session.Session(
                    spec=wire.session.SessionSpec(
                        agent_instance_id=agent.status.default_instance_id,
                        subject=one_line(request.message, 60),
                    )
                )
            )
    except ResourceNotFound as err:
        what = "--session" if request.session else "--agent"
        raise RunError(f"{err} (check {what})") from None
    spec = ax.AgentExecutionSpec(session_id=session.metadata.id, message=request.message)
    if request.model:
        spec.execution_config.model_name = request.model
    return await backend.create_execution(ax.AgentExecution(spec=spec))


async def _follow(
    backend: BackendClient, execution: ax.AgentExecution, request: RunRequest, console: Console
) -> ax.AgentExecution:
    view = None if request.json_output else make_view(console, request.agent)
    latest = execution
    try:
        # follow_execution reconnects when the stream drops, resuming from the current status
        async for latest in backend.follow_execution(execution.metadata.id):
            if view is not None:
                view.update(latest)
    finally:
        if view is not None:
            view.close()
    return latest


def _interrupt(handle: WorkflowHandle[Any, Any], interrupted: asyncio.Event) -> None:
    """Ctrl-C: cancel the workflow; the view keeps following until the run says CANCELLED."""
    if interrupted.is_set():
        return
    interrupted.set()
    asyncio.get_running_loop().create_task(handle.cancel())


@contextlib.contextmanager
def _on_interrupt(callback: Callable[[], None]) -> Iterator[None]:
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGINT, callback)
    try:
        yield
    finally:
        loop.remove_signal_handler(signal.SIGINT)


def _duration(status: ax.AgentExecutionStatus) -> float | None:
    try:
        start = datetime.fromisoformat(status.started_at.replace("Z", "+00:00"))
        end = datetime.fromisoformat(status.completed_at.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (end - start).total_seconds()


def _summary(console: Console, execution: ax.AgentExecution, config: Config) -> None:
    status = execution.status
    duration = _duration(status)
    took = f" in {duration:.1f}s" if duration is not None else ""
    style = {"completed": "bold green", "failed": "bold red"}.get(phase_name(status.phase), "bold")
    console.print(
        f"[{style}]{phase_name(status.phase)}[/{style}]{took} · "
        f"execution {execution.metadata.id} · files in {config.sandbox.root_dir}"
    )
    if status.error:
        console.print(f"[red]error: {status.error}[/red]")


def list_command(config: Config, console: Console, limit: int) -> int:
    store = _open_store(config)
    if store is None:
        console.print(f"no executions yet (nothing in {config.data_dir})")
        return 0
    table = Table("execution", "agent", "phase", "started", "duration")
    for summary in store.recent_executions(limit):
        execution = store.get_execution(summary.id)
        if execution is None:
            continue
        duration = _duration(execution.status)
        table.add_row(
            summary.id,
            summary.agent_id,
            phase_name(summary.phase),
            execution.status.started_at or summary.created_at,
            f"{duration:.1f}s" if duration is not None else "",
        )
    console.print(table)
    store.close()
    return 0


def logs_command(config: Config, console: Console, execution_id: str) -> int:
    store = _open_store(config)
    execution = store.get_execution(execution_id) if store is not None else None
    if execution is None:
        raise RunError(
            f"no execution {execution_id!r} in {config.data_dir} (see `agent-runner list`)"
        )
    console.print(f"[bold]you:[/bold] {execution.spec.message}")
    LineView(console).update(execution)
    _summary(console, execution, config)
    return EXIT_COMPLETED if execution.status.phase == ax.EXECUTION_COMPLETED else EXIT_FAILED


def _open_store(config: Config) -> Store | None:
    path = config.data_dir / "daemon.sqlite3"
    return Store(path) if path.exists() else None


__all__ = [
    "RunError",
    "RunRequest",
    "cancel_execution",
    "list_command",
    "logs_command",
    "run_command",
    "start_execution",
]
