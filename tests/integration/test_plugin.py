"""The runner's activities on a worker of the platform's own, added with one plugin."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.common import RawValue
from temporalio.worker import Worker

from agent_runner import wire
from agent_runner.activities import runner_activities
from agent_runner.plugin import AgentRunnerPlugin
from agent_runner.worker import open_runner_deps
from tests.integration.conftest import Stack
from tests.integration.test_execute_graphton import JavaStyleOrchestrator

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(180)]

ax = wire.agentexecution


async def test_a_platform_worker_runs_the_activities_with_one_plugin(stack: Stack) -> None:
    # The platform's client: Temporal's default converter, nothing of ours.
    platform = await Client.connect(stack.temporal.service_client.config.target_host)
    execution = await stack.new_execution("Say hi", [{"text": "Hi from a platform worker."}])
    # As Java sends it: json/protobuf without messageType, which only our converter decodes.
    payload = Payload(
        metadata={"encoding": b"json/protobuf"},
        data=json.dumps(json_format.MessageToDict(execution)).encode(),
    )
    queue = f"platform-{stack.runner_queue}"
    async with (
        open_runner_deps(stack.config) as deps,
        Worker(
            platform,
            task_queue=queue,
            plugins=[AgentRunnerPlugin(stack.config, runner_activities(deps))],
        ),
        Worker(stack.temporal, task_queue=f"wf-{queue}", workflows=[JavaStyleOrchestrator]),
    ):
        raw = await stack.temporal.execute_workflow(
            JavaStyleOrchestrator.run,
            args=[RawValue(payload), "thread-platform", queue],
            id=f"platform-{execution.metadata.id}",
            task_queue=f"wf-{queue}",
        )
    returned = json_format.Parse(raw.payload.data, ax.AgentExecutionStatus())
    assert returned.phase == ax.EXECUTION_COMPLETED
    assert returned.messages[-1].content == "Hi from a platform worker."


def test_the_production_worker_does_not_import_the_local_tooling() -> None:
    probe = (
        "import sys, agent_runner.worker, agent_runner.plugin;"
        "print(sorted(m for m in sys.modules if m.startswith('agent_runner.local')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.strip() == "[]"
