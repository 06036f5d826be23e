"""`agent-runner up`: the local stack in the foreground, reloading manifests and skills.

Ctrl-C (or SIGTERM) cancels the executions still running, through Temporal, so
that their workflows end CANCELLED and their commands are killed, says what it
waits for, then stops everything; a second Ctrl-C stops at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowExecutionStatus, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

from agent_runner import wire
from agent_runner.config import Config
from agent_runner.local.manifests import Catalog
from agent_runner.local.reload import CatalogWatcher
from agent_runner.local.stack import LocalStack, StackInfo
from agent_runner.worker import connect_temporal
from agent_runner.workflow import workflow_id

ax = wire.agentexecution
RUNNING_PHASES = (ax.EXECUTION_PENDING, ax.EXECUTION_IN_PROGRESS)
POLL_S = 0.2


def say(text: str) -> None:
    print(text, flush=True)


async def serve_up(
    config: Config,
    catalog: Catalog,
    resources_dir: Path | None,
    skills_dir: Path | None,
    *,
    web: bool = True,
) -> None:
    """`web`: also serve the web view (`--no-web` turns it off)."""
    loop = asyncio.get_running_loop()
    signals: asyncio.Queue[int] = asyncio.Queue()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, signals.put_nowait, signum)
    stack = LocalStack(
        config=config,
        catalog=catalog,
        announce=False,
        resources_dir=resources_dir,
        skills_dir=skills_dir,
        web=web,
    )
    await stack.start()
    watching = asyncio.Event()
    watch: asyncio.Task[None] | None = None
    try:
        StackInfo.of(stack).write(config.data_dir)
        assert stack.daemon is not None
        watcher = CatalogWatcher(stack.daemon, resources_dir, skills_dir, say)
        watch = asyncio.create_task(watcher.run(watching, await watcher.snapshot()))
        say(stack.banner())
        say("watching the resources and skills folders: edits are served without a restart")
        say("press Ctrl-C to stop everything")
        ended = asyncio.create_task(stack.wait_until_stopped())
        first = asyncio.create_task(signals.get())
        await asyncio.wait({ended, first}, return_when=asyncio.FIRST_COMPLETED)
        if first.done():
            await _cancel_running(stack, signals)
        else:
            first.cancel()
    finally:
        watching.set()
        StackInfo.remove(config.data_dir)
        say("stopping the worker, the daemon and Temporal")
        await stack.stop()
    if watch is not None:
        await asyncio.gather(watch, return_exceptions=True)
    say("stopped")


async def _cancel_running(stack: LocalStack, signals: asyncio.Queue[int]) -> None:
    """Cancel what still runs and wait for it to end, until a second signal or the grace."""
    assert stack.daemon is not None
    store = stack.daemon.store
    running = [s.id for s in store.recent_executions(1000) if s.phase in RUNNING_PHASES]
    if not running:
        return
    grace = stack.config.temporal.graceful_shutdown_s
    say(
        f"stopping: cancelling {len(running)} running execution(s) ({', '.join(running)}) "
        f"and waiting up to {grace}s for them to stop their commands; "
        "press Ctrl-C again to stop at once"
    )
    client = await connect_temporal(stack.config)
    handles = [client.get_workflow_handle(workflow_id(execution_id)) for execution_id in running]
    for handle in handles:
        # RPCError: the workflow already ended, so there is nothing to cancel.
        with contextlib.suppress(RPCError):
            await handle.cancel()
    deadline = time.monotonic() + grace
    second = asyncio.create_task(signals.get())
    try:
        while time.monotonic() < deadline and not second.done():
            ended = [store.get_execution(execution_id) for execution_id in running]
            # The daemon hears CANCELLED from the activity before its workflow
            # has recorded the end; stopping the worker in between would leave
            # the workflow RUNNING in Temporal, so both must have ended.
            if all(
                e is None or e.status.phase not in RUNNING_PHASES for e in ended
            ) and await _all_closed(handles):
                say("every execution is cancelled")
                return
            await asyncio.wait({second}, timeout=POLL_S)
        if second.done():
            say("second Ctrl-C: stopping at once")
        else:
            say(f"executions still running after {grace}s: stopping anyway")
    finally:
        second.cancel()


async def _all_closed(handles: list[WorkflowHandle[Any, Any]]) -> bool:
    for handle in handles:
        try:
            description = await handle.describe()
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                continue
            raise
        if description.status == WorkflowExecutionStatus.RUNNING:
            return False
    return True


__all__ = ["serve_up"]
