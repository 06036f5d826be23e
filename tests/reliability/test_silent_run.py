"""`agent-runner run` follows an execution however long it is silent, and through a
dropped subscription."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import pytest
from rich.console import Console

from agent_runner import wire
from agent_runner.local.daemon import LocalDaemon
from agent_runner.local.run_command import RunRequest, _follow
from tests.helpers import async_wait_until
from tests.integration.conftest import Stack
from tests.integration.test_local_cli import CLI, local_env, script

pytestmark = [pytest.mark.anyio, pytest.mark.reliability]

ax = wire.agentexecution

SILENT_S = 150
"""Longer than the ~90 s after which the old keepalive made the daemon answer GOAWAY."""


@pytest.mark.long
@pytest.mark.timeout(600)
def test_run_follows_an_execution_through_a_150_s_silent_command(tmp_path: Path) -> None:
    # LONG: about three minutes of wall-clock time, on purpose (a silence past 150 s).
    (tmp_path / "workspace").mkdir()
    model = script(
        tmp_path,
        [
            {"tool_calls": [{"name": "execute", "args": {"command": f"sleep {SILENT_S}"}}]},
            {"text": "Back after the silence."},
        ],
    )
    result = subprocess.run(
        [*CLI, "run", "Wait quietly", "--model", model, "--json"],
        cwd=tmp_path,
        env=local_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=SILENT_S + 300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    final = json.loads(result.stdout)
    assert final["phase"] == "EXECUTION_COMPLETED"
    assert final["messages"][-1]["content"] == "Back after the silence."


@pytest.mark.timeout(300)
async def test_a_dropped_subscription_reconnects_and_resumes_from_the_current_status(
    stack: Stack, tmp_path: Path
) -> None:
    turns = [
        {"tool_calls": [{"name": "execute", "args": {"command": "touch started; sleep 6"}}]},
        {"text": "Finished while the subscription was down."},
    ]
    execution = await stack.new_execution("Follow me", turns)
    request = RunRequest(
        message="Follow me",
        agent="demo",
        session=None,
        model=None,
        json_output=True,
        resources_dir=tmp_path,
        skills_dir=None,
    )
    following = asyncio.create_task(
        _follow(stack.backend, execution, "demo", request, Console(quiet=True))
    )
    await stack.start(execution)
    await async_wait_until((stack.workspace / "started").exists, within=60, what="the command")
    await stack.daemon.stop()  # every subscription drops
    stack.daemon = LocalDaemon(stack.daemon_settings, stack.catalog)
    await stack.daemon.start()
    final = await asyncio.wait_for(following, 120)
    assert final.status.phase == ax.EXECUTION_COMPLETED
    assert final.status.messages[-1].content == "Finished while the subscription was down."
