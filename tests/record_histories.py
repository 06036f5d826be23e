"""Record the reference workflow's histories for the replay test (`tests/test_replay.py`).

    .venv/bin/python -m tests.record_histories

Runs each scenario on the real stack (dev server, daemon, worker, scripted model)
and writes its history as JSON into `tests/histories/`. Re-record after a change to
the workflow that is meant to change its commands (and say so in the commit):
the replay test exists to catch the changes that were not meant to.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

from agent_runner import wire
from agent_runner.local.temporal_server import TemporalDevServer, free_port
from tests.integration.conftest import Stack, running_stack

HISTORIES = Path(__file__).resolve().parent / "histories"
ax = wire.agentexecution


async def completed(stack: Stack) -> str:
    execution = await stack.new_execution(
        "Write a greeting",
        [
            {
                "tool_calls": [
                    {"name": "write_file", "args": {"file_path": "/a.txt", "content": "hi"}}
                ]
            },
            {"text": "Done."},
        ],
    )
    handle = await stack.start(execution)
    await handle.result()
    return handle.id


async def failed(stack: Stack) -> str:
    execution = await stack.new_execution("Fail", [{"error": "the provider is overloaded"}])
    handle = await stack.start(execution)
    with contextlib.suppress(Exception):  # the failure is the scenario
        await handle.result()
    return handle.id


async def missing_session(stack: Stack) -> str:
    execution = await stack.new_execution("Hello", [{"text": "never played"}])
    execution.spec.session_id = "ses-does-not-exist"
    handle = await stack.start(execution)
    with contextlib.suppress(Exception):  # the failure is the scenario
        await handle.result()
    return handle.id


SCENARIOS: dict[str, Callable[[Stack], Awaitable[str]]] = {
    "completed": completed,
    "agent-failed": failed,
    "missing-session": missing_session,
}


async def record() -> None:
    HISTORIES.mkdir(exist_ok=True)
    with TemporalDevServer(port=free_port()) as server, tempfile.TemporaryDirectory() as tmp:
        for name, scenario in SCENARIOS.items():
            folder = Path(tmp) / name
            folder.mkdir()
            async with running_stack(server, folder) as stack:
                workflow_id = await scenario(stack)
                history = await stack.temporal.get_workflow_handle(workflow_id).fetch_history()
            document = json.loads(history.to_json())
            (HISTORIES / f"{name}.json").write_text(json.dumps(document, indent=1) + "\n")
            print(f"recorded {name}: {len(history.events)} events")


if __name__ == "__main__":
    asyncio.run(record())
