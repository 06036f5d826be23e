"""The reference workflow replays its recorded histories (`tests/histories/`, recorded
with `python -m tests.record_histories`): a change that alters its commands is caught
here, before a running workflow meets it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from agent_runner import wire
from agent_runner.converter import interop_data_converter
from agent_runner.workflow import InvokeAgentExecution

pytestmark = pytest.mark.anyio

HISTORIES = sorted((Path(__file__).resolve().parent / "histories").glob("*.json"))


def history(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(path.stem, path.read_text())


def test_the_recorded_scenarios_are_there() -> None:
    assert {p.stem for p in HISTORIES} >= {"completed", "agent-failed", "missing-session"}


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_the_reference_workflow_replays_its_history(path: Path) -> None:
    replayer = Replayer(workflows=[InvokeAgentExecution], data_converter=interop_data_converter())
    await replayer.replay_workflow(history(path))


@workflow.defn(name="InvokeAgentExecution", sandboxed=False)
class ReorderedWorkflow:
    """The reference workflow with its first activity changed: what the test must catch."""

    @workflow.run
    async def run(
        self, execution: wire.agentexecution.AgentExecution, options: object = None
    ) -> None:
        await workflow.execute_activity(
            "ExecuteGraphton",
            args=[execution, "thread"],
            start_to_close_timeout=timedelta(minutes=1),
        )


async def test_a_workflow_whose_commands_changed_does_not_replay() -> None:
    replayer = Replayer(workflows=[ReorderedWorkflow], data_converter=interop_data_converter())
    result = await replayer.replay_workflow(history(HISTORIES[0]), raise_on_replay_failure=False)
    assert result.replay_failure is not None
