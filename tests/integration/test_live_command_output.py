"""A running command's output reaches the backend while the command still runs.

The command prints a line (and a secret from its environment), then waits for a
file that the test creates only once the daemon holds a status showing that
line: were the output sent only with the result, the command would wait until
its timeout and the test would fail.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agent_runner import wire
from tests.helpers import async_wait_until
from tests.integration.conftest import Stack

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(180)]

ax = wire.agentexecution
SECRET = "Vb3Nq8Xr6Tz1Mk5Wc9"


async def test_a_running_commands_output_is_in_the_status_while_it_runs(
    stack: Stack, tmp_path: Path
) -> None:
    go = tmp_path / "go"
    command = (
        "echo 'building step one'; echo \"token=$BUILD_TOKEN\"; "
        f"while [ ! -e {go} ]; do sleep 0.1; done; echo 'step two done'"
    )
    execution = await stack.new_execution(
        "build it",
        [{"tool_calls": [{"name": "execute", "args": {"command": command}}]}, {"text": "built"}],
        runtime_env={"BUILD_TOKEN": (SECRET, True)},
    )
    handle = await stack.start(execution)
    seen: list[ax.AgentExecutionStatus] = []

    async def shows_the_first_step() -> bool:
        status = (await stack.stored(execution.metadata.id)).status
        seen.append(status)
        return any(
            call.status == ax.TOOL_CALL_RUNNING and "building step one" in call.result
            for call in status.tool_calls
        )

    await async_wait_until(shows_the_first_step, within=120, what="the command's first line")
    [running] = [c for c in seen[-1].tool_calls if c.status == ax.TOOL_CALL_RUNNING]
    assert "token=***" in running.result
    go.touch()
    final = await handle.result()
    [call] = final.tool_calls
    assert call.status == ax.TOOL_CALL_COMPLETED
    assert "step two done" in call.result and "token=***" in call.result
    for status in [*seen, final]:
        assert SECRET not in status.SerializeToString().decode(errors="replace")


async def test_an_output_the_status_cuts_is_kept_whole_in_the_workspace(stack: Stack) -> None:
    """50 KB of output: the model reads all of it (deepagents sets aside only results
    of about 80 KB and more, with a preview), the status keeps 16 KiB, and the note
    names the file (masked like the status) that the web view pages."""
    command = 'for i in $(seq 1 1000); do echo "row $i of the report, key $BUILD_TOKEN"; done'
    execution = await stack.new_execution(
        "report",
        [{"tool_calls": [{"name": "execute", "args": {"command": command}}]}, {"text": "done"}],
        runtime_env={"BUILD_TOKEN": (SECRET, True)},
    )
    final = await (await stack.start(execution)).result()
    [call] = final.tool_calls
    note = call.result.rsplit("\n", 1)[-1]
    assert note.startswith("[the whole result is in /.agent-runner/outputs/result-")
    kept = stack.workspace / note.removeprefix("[the whole result is in /").removesuffix("]")
    text = kept.read_text()
    assert "row 1 of the report, key ***" in text and "row 1000 of the report" in text
    assert SECRET not in text
