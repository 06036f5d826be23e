"""The three activities called the way a foreign SDK calls them (TypeScript without a
protobuf converter, a caller passing the wrong arguments): refused at once, clearly,
never retried; and decoded when they are right."""

from __future__ import annotations

import base64
import json
import logging
from datetime import timedelta
from typing import Any

import pytest
from google.protobuf import json_format
from temporalio import workflow
from temporalio.api.common.v1 import Payload
from temporalio.client import WorkflowFailureError
from temporalio.common import RawValue, RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.worker import Worker

from agent_runner import wire
from tests.integration.conftest import Stack

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(180)]

ax = wire.agentexecution


def ts_plain(value: Any) -> dict[str, str]:
    """The TypeScript SDK's default converter: `json/plain`, `JSON.stringify`, no messageType."""
    data = json.dumps(value, separators=(",", ":")).encode()
    return {"encoding": "json/plain", "data": base64.b64encode(data).decode()}


@workflow.defn(name="ForeignCaller", sandboxed=False)
class ForeignCaller:
    """Calls an activity with payloads given as they travel (encoding + base64 data)."""

    @workflow.run
    async def run(
        self, activity: str, queue: str, attempts: int, payloads: list[dict[str, str]]
    ) -> RawValue:
        args = [
            RawValue(
                Payload(
                    metadata={"encoding": p["encoding"].encode()},
                    data=base64.b64decode(p["data"]),
                )
            )
            for p in payloads
        ]
        return await workflow.execute_activity(
            activity,
            args=args,
            task_queue=queue,
            start_to_close_timeout=timedelta(minutes=2),
            heartbeat_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(
                maximum_attempts=attempts, initial_interval=timedelta(milliseconds=100)
            ),
            result_type=RawValue,
        )


async def call(stack: Stack, activity: str, *payloads: dict[str, str], attempts: int = 3) -> Any:
    queue = f"foreign-{stack.runner_queue}"
    async with Worker(stack.temporal, task_queue=queue, workflows=[ForeignCaller]):
        handle = await stack.temporal.start_workflow(
            ForeignCaller.run,
            args=[activity, stack.runner_queue, attempts, list(payloads)],
            id=f"foreign-{activity}-{id(payloads)}",
            task_queue=queue,
        )
        try:
            return await handle.result()
        finally:
            started = [
                e.activity_task_started_event_attributes.attempt
                async for e in handle.fetch_history_events()
                if e.HasField("activity_task_started_event_attributes")
            ]
            call.attempts = started  # type: ignore[attr-defined]


async def refusal(stack: Stack, activity: str, *payloads: dict[str, str]) -> ApplicationError:
    with pytest.raises(WorkflowFailureError) as caught:
        await call(stack, activity, *payloads)
    activity_error = caught.value.cause
    assert isinstance(activity_error, ActivityError)
    error = activity_error.cause
    assert isinstance(error, ApplicationError)
    assert error.non_retryable
    assert call.attempts == [1]  # type: ignore[attr-defined]
    return error


async def test_a_number_for_a_string_parameter_is_refused_naming_it(stack: Stack) -> None:
    error = await refusal(stack, "EnsureThread", ts_plain(5), ts_plain("agt-1"))
    assert error.type == "InvalidInput"
    assert "'session_id'" in error.message
    error = await refusal(stack, "CleanupSandbox", ts_plain({"id": "sbx-1"}))
    assert error.type == "InvalidInput"
    assert "'sandbox_id'" in error.message


@pytest.mark.parametrize(
    ("activity", "count", "expected"),
    [
        ("ExecuteGraphton", 3, "ExecuteGraphton takes 2 arguments (execution, thread_id), got 3"),
        ("EnsureThread", 1, "EnsureThread takes 2 arguments (session_id, agent_id), got 1"),
        ("CleanupSandbox", 2, "CleanupSandbox takes 1 argument (sandbox_id), got 2"),
    ],
)
async def test_a_wrong_number_of_arguments_is_refused_at_once(
    stack: Stack, activity: str, count: int, expected: str
) -> None:
    error = await refusal(stack, activity, *[ts_plain("x")] * count)
    assert error.type == "InvalidInput"
    assert error.message == expected


async def test_a_refused_call_is_logged_as_one_line(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="temporalio.activity"):
        await refusal(stack, "EnsureThread", ts_plain(5), ts_plain("agt-1"))
    [record] = [r for r in caplog.records if "Completing activity as failed" in r.getMessage()]
    assert record.exc_info is None
    assert "InvalidInput: argument 'session_id'" in record.getMessage()
    assert "\n" not in caplog.text.strip()


async def test_an_execution_sent_as_json_plain_proto3_json_runs(stack: Stack) -> None:
    execution = await stack.new_execution("Say hi", [{"text": "Hi from TypeScript."}])
    document = json_format.MessageToDict(execution)
    raw = await call(
        stack, "ExecuteGraphton", ts_plain(document), ts_plain("thread-ts"), attempts=1
    )
    returned = json_format.Parse(raw.payload.data, ax.AgentExecutionStatus())
    assert returned.phase == ax.EXECUTION_COMPLETED
    assert returned.messages[-1].content == "Hi from TypeScript."
