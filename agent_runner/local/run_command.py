"""`agent-runner run`, `logs` and `list`: run an agent and watch it, replay or list runs."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shlex
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from google.protobuf import json_format
from rich.console import Console
from rich.table import Table
from rich.text import Text
from temporalio.client import Client, WorkflowHandle

from agent_runner import wire
from agent_runner.annotations import OFFLINE_SCRIPT_ANNOTATION
from agent_runner.backend import BackendClient, ResourceNotFound
from agent_runner.config import LIVE_MODEL_HINT, PROVIDER_KEY_VARIABLES, Config
from agent_runner.errors import AgentRunnerError
from agent_runner.local.manifests import load_catalog
from agent_runner.local.stack import (
    LocalStack,
    StackInfo,
    ensure_provider_key,
    ephemeral_config,
    execution_link,
    stack_is_running,
    stdin_is_terminal,
)
from agent_runner.local.store import Store
from agent_runner.local.terminal import clean, safe_text
from agent_runner.local.view import LineView, make_view, one_line, phase_name
from agent_runner.worker import connect_temporal
from agent_runner.workflow import (
    ORCHESTRATOR_TASK_QUEUE,
    InvokeAgentExecution,
    workflow_id,
)

ax = wire.agentexecution

EXIT_COMPLETED, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 130
SCRIPTED = "scripted"
"""The model name of the scripted provider without a script: each agent's own offline script."""


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
    continue_last: bool = False
    """`--continue`: the session of the latest execution."""
    resources_given: bool = False
    """`--resources` (or its variable) was given, so it must match a running stack's."""
    skills_given: bool = False


@dataclass(frozen=True)
class Target:
    """The stack a run goes to, as the run shows it."""

    config: Config
    model: str
    """What the stack's worker uses unless the run names a model."""
    web_ui: str | None = None


def own_model(config: Config) -> str:
    llm = config.llm
    return SCRIPTED if llm.provider == "scripted" and not llm.model else llm.spec


async def run_command(config: Config, request: RunRequest, console: Console) -> int:
    """Run one execution on the running stack, or on an ephemeral one; returns the exit code."""
    if request.continue_last:
        request = _with_last_session(config, request)
    if stack_is_running(config):
        info = StackInfo.read(config.data_dir)
        if not request.json_output:
            _warn_about_differences(console, config, request, info)
        model = info.model if info is not None else "the running stack's model"
        target = Target(config, model, info.web_ui if info is not None else None)
        return await _run_on(target, request, console)
    config = ensure_provider_key(ephemeral_config(config), interactive=stdin_is_terminal())
    catalog = load_catalog(request.resources_dir, request.skills_dir)
    stack = LocalStack(config=config, catalog=catalog, ephemeral=True, announce=False)
    if not request.json_output:
        console.print(
            Text(
                f"no local stack is running: starting one for this run "
                f"(logs in {config.data_dir / 'logs'})",
                "dim",
            )
        )
    await stack.start()
    try:
        return await _run_on(Target(stack.config, own_model(config)), request, console)
    finally:
        await stack.stop()


def _with_last_session(config: Config, request: RunRequest) -> RunRequest:
    if request.session:
        raise RunError("--continue and --session name two sessions: give one")
    store = _open_store(config)
    latest = store.recent_executions(1) if store is not None else []
    if store is not None:
        store.close()
    if not latest:
        raise RunError(f"--continue: no earlier execution in {config.data_dir} to continue")
    return RunRequest(**{**request.__dict__, "session": latest[0].session_id})


def _warn_about_differences(
    console: Console, config: Config, request: RunRequest, info: StackInfo | None
) -> None:
    """Say where this shell's settings differ from the running stack's, which wins."""
    if info is None:
        console.print(
            Text("a local stack is running (not started by `agent-runner up`?)", "dim"),
        )
        return
    warnings = []
    for given, name, flag, served in (
        (request.resources_given, request.resources_dir, "--resources", info.resources_dir),
        (request.skills_given, request.skills_dir, "--skills", info.skills_dir),
    ):
        wanted = str(name.resolve()) if name is not None else ""
        if given and wanted != served:
            warnings.append(
                f"{flag} {name} is not used: the running `agent-runner up` serves "
                f"{served or 'none'}; restart `up` with {flag} {name}, or stop it so that "
                "`run` starts a stack of its own"
            )
    mine = own_model(config)
    if not request.model and mine != info.model:
        warnings.append(
            f"this shell's model is {mine}, but the running stack uses {info.model}, and so "
            "does this run; pass --model to choose one per run, or restart `up`"
        )
    provider = (request.model or "").partition(":")[0]
    variable = PROVIDER_KEY_VARIABLES.get(provider)
    if variable is not None and provider not in info.keys:
        warnings.append(
            f"--model {request.model}: the running stack has no {variable}; restart "
            f"`up` with {variable} set"
        )
    for warning in warnings:
        console.print(Text(f"warning: {warning}", "yellow"))


async def _run_on(target: Target, request: RunRequest, console: Console) -> int:
    config = target.config
    temporal = await connect_temporal(config)
    async with BackendClient(config.backend) as backend:
        agent, execution, handle = await start_execution(temporal, backend, request, target.model)
        if not request.json_output:
            _announce(console, target, request, agent, execution)
        interrupted = asyncio.Event()
        with _on_interrupt(lambda: _interrupt(handle, interrupted, console, request)):
            final = await _follow(backend, execution, agent.metadata.slug, request, console)
        if request.json_output:
            print(json.dumps(_json_result(final, agent.metadata.slug, request), indent=2))
        else:
            link = execution_link(target.web_ui, config.temporal.namespace, handle.id)
            _summary(console, final, config, request=request, agent=agent, link=link)
        if interrupted.is_set():
            return EXIT_INTERRUPTED
        return EXIT_COMPLETED if final.status.phase == ax.EXECUTION_COMPLETED else EXIT_FAILED


async def start_execution(
    temporal: Client, backend: BackendClient, request: RunRequest, stack_model: str
) -> tuple[wire.agent.Agent, ax.AgentExecution, WorkflowHandle[Any, Any]]:
    """Create the execution in the daemon (in a new session unless `request.session`) and
    start the reference workflow on it; `stack_model` is what the stack's worker uses
    unless the request names a model. The web view starts runs this way too."""
    agent, session = await _agent_and_session(backend, request)
    if not request.model and stack_model == SCRIPTED:
        _check_offline_script(agent)
    execution = await _create_execution(backend, request, session)
    handle = await temporal.start_workflow(
        InvokeAgentExecution.run,
        args=[execution],
        id=workflow_id(execution.metadata.id),
        task_queue=ORCHESTRATOR_TASK_QUEUE,
    )
    return agent, execution, handle


async def cancel_execution(temporal: Client, execution_id: str) -> None:
    """What Ctrl-C does: cancel the workflow. The runner then ends the execution CANCELLED
    and kills its commands; follow the execution to see it."""
    await temporal.get_workflow_handle(workflow_id(execution_id)).cancel()


def _check_offline_script(agent: wire.agent.Agent) -> None:
    if not agent.metadata.annotations.get(OFFLINE_SCRIPT_ANNOTATION):
        raise RunError(
            f"agent {agent.metadata.slug!r} needs a live model (no offline script plays it): "
            f"{LIVE_MODEL_HINT}"
        )


def _announce(
    console: Console,
    target: Target,
    request: RunRequest,
    agent: wire.agent.Agent,
    execution: ax.AgentExecution,
) -> None:
    if request.model:
        console.print(Text(f"model: {clean(request.model)} (for this run)", "dim"))
    elif target.model == SCRIPTED:
        console.print(
            Text(
                f"model: scripted (offline: the {agent.metadata.slug} agent's own script plays "
                "the model; export ANTHROPIC_API_KEY or OPENAI_API_KEY for a live one)",
                "yellow",
            )
        )
    else:
        console.print(Text(f"model: {target.model}", "dim"))
    console.print(
        Text(
            f"execution {execution.metadata.id} · session {execution.spec.session_id}",
            "dim",
        )
    )


async def _agent_and_session(
    backend: BackendClient, request: RunRequest
) -> tuple[wire.agent.Agent, wire.session.Session]:
    try:
        if request.session:
            session = await backend.get_session(request.session)
            instance = await backend.get_agent_instance(session.spec.agent_instance_id)
            return await backend.get_agent(instance.spec.agent_id), session
        agent = await backend.get_agent_by_reference(
            wire.apiresource.ApiResourceReference(slug=request.agent)
        )
    except ResourceNotFound as err:
        what = "--session" if request.session else "--agent"
        raise RunError(f"{err} (check {what}; `agent-runner list` shows sessions)") from None
    session = wire.session.Session(
        spec=wire.session.SessionSpec(
            agent_instance_id=agent.status.default_instance_id,
            subject=one_line(request.message, 60),
        )
    )
    return agent, session


async def _create_execution(
    backend: BackendClient, request: RunRequest, session: wire.session.Session
) -> ax.AgentExecution:
    if not session.metadata.id:
        session = await backend.create_session(session)
    spec = ax.AgentExecutionSpec(session_id=session.metadata.id, message=request.message)
    if request.model:
        spec.execution_config.model_name = request.model
    return await backend.create_execution(ax.AgentExecution(spec=spec))


async def _follow(
    backend: BackendClient,
    execution: ax.AgentExecution,
    agent: str,
    request: RunRequest,
    console: Console,
) -> ax.AgentExecution:
    view = None if request.json_output else make_view(console, agent)
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


def _interrupt(
    handle: WorkflowHandle[Any, Any],
    interrupted: asyncio.Event,
    console: Console,
    request: RunRequest,
) -> None:
    """Ctrl-C: cancel the workflow; the view keeps following until the run says CANCELLED."""
    if interrupted.is_set():
        return
    interrupted.set()
    if not request.json_output:
        console.print(Text("cancelling: waiting for the execution to stop its commands", "yellow"))
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


def continue_command(execution: ax.AgentExecution, request: RunRequest | None = None) -> str:
    """The exact command that continues the execution's session."""
    words = ["agent-runner", "run", "MESSAGE", "--session", execution.spec.session_id]
    if request is not None and request.resources_given:
        words += ["--resources", str(request.resources_dir)]
    return " ".join(shlex.quote(word) if word != "MESSAGE" else '"…"' for word in words)


def _json_result(
    execution: ax.AgentExecution, agent: str, request: RunRequest | None = None
) -> dict[str, Any]:
    """The final status, with the ids at the top: `executionId`, `sessionId`, `agent`."""
    status = json_format.MessageToDict(execution.status)
    return {
        "executionId": execution.metadata.id,
        "sessionId": execution.spec.session_id,
        "agent": agent,
        "continue": continue_command(execution, request),
        **status,
    }


def _summary(
    console: Console,
    execution: ax.AgentExecution,
    config: Config,
    *,
    request: RunRequest | None = None,
    agent: wire.agent.Agent | None = None,
    link: str | None = None,
) -> None:
    status = execution.status
    duration = _duration(status)
    took = f" in {duration:.1f}s" if duration is not None else ""
    phase = phase_name(status.phase)
    style = {"completed": "bold green", "failed": "bold red"}.get(phase, "bold")
    line = Text(f"{phase}{took}", style)
    line.append(
        f" · execution {execution.metadata.id} · session {execution.spec.session_id}"
        f" · files in {config.sandbox.root_dir}"
    )
    console.print(line)
    if status.error:
        console.print(safe_text(f"error: {status.error}", "red"))
    console.print(Text(f"continue: {continue_command(execution, request)}", "dim"))
    if link:
        console.print(Text(f"temporal: {link}", "dim"))


def list_command(config: Config, console: Console, limit: int) -> int:
    store = _open_store(config)
    if store is None:
        console.print(Text(f"no executions yet (nothing in {config.data_dir})"))
        return 0
    # Ids are never cut or wrapped, so that they can be pasted into `logs` and `run`.
    table = Table(box=None, pad_edge=False)
    for column in ("execution", "session"):
        table.add_column(column, no_wrap=True, min_width=20)
    table.add_column("agent", overflow="fold")
    table.add_column("phase", no_wrap=True)
    table.add_column("started", overflow="fold")
    table.add_column("took", no_wrap=True, justify="right")
    try:
        for summary in store.recent_executions(limit):
            execution = store.get_execution(summary.id)
            if execution is None:
                continue
            duration = _duration(execution.status)
            started = execution.status.started_at or summary.created_at
            table.add_row(
                safe_text(summary.id),
                safe_text(summary.session_id),
                safe_text(summary.agent_id),
                phase_name(summary.phase),
                safe_text(started.replace("T", " ")[:19]),
                f"{duration:.1f}s" if duration is not None else "",
            )
    finally:
        store.close()
    console.print(table)
    return 0


def logs_command(
    config: Config,
    console: Console,
    execution_id: str | None,
    *,
    full: bool = False,
    json_output: bool = False,
) -> int:
    """Replay a stored execution (the latest when no id is given)."""
    store = _open_store(config)
    try:
        if store is not None and execution_id is None:
            latest = store.recent_executions(1)
            execution_id = latest[0].id if latest else None
        execution = store.get_execution(execution_id) if store and execution_id else None
    finally:
        if store is not None:
            store.close()
    if execution is None:
        if execution_id is None:
            raise RunError(f"no executions yet in {config.data_dir}")
        raise RunError(
            f"no execution {clean(execution_id)!r} in {config.data_dir} (see `agent-runner list`)"
        )
    if json_output:
        print(json_format.MessageToJson(execution))
    else:
        header = f"execution {execution.metadata.id} · session {execution.spec.session_id}"
        console.print(safe_text(f"{header} · agent {execution.spec.agent_id}", "dim"))
        you = Text("you: ", "bold")
        you.append(clean(execution.spec.message))
        console.print(you)
        LineView(console, full=full).update(execution)
        _summary(console, execution, config)
    return EXIT_COMPLETED if execution.status.phase == ax.EXECUTION_COMPLETED else EXIT_FAILED


def _open_store(config: Config) -> Store | None:
    path = config.data_dir / "daemon.sqlite3"
    return Store(path) if path.exists() else None


__all__ = [
    "RunError",
    "RunRequest",
    "cancel_execution",
    "continue_command",
    "list_command",
    "logs_command",
    "own_model",
    "run_command",
    "start_execution",
]
