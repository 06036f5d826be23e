"""Whole executions through ExecuteGraphton on the real langchain-anthropic and
langchain-openai clients, against local servers speaking the providers' protocols."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ActivityError, ApplicationError

from agent_runner import wire
from agent_runner.local.temporal_server import TemporalDevServer
from tests.helpers import async_wait_until
from tests.integration.conftest import Stack, running_stack
from tests.provider_apis import ProviderAPI, start_anthropic, start_openai

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(240)]

ax = wire.agentexecution
KEY = "sk-provider-test-key"


@dataclasses.dataclass
class ProviderStack:
    stack: Stack
    api: ProviderAPI
    provider: str

    async def execution(self, message: str) -> ax.AgentExecution:
        execution = ax.AgentExecution(
            spec=ax.AgentExecutionSpec(session_id=await self.stack.new_session(), message=message)
        )
        return await self.stack.backend.create_execution(execution)


@contextlib.asynccontextmanager
async def provider_stack(
    provider: str, temporal_server: TemporalDevServer, tmp_path: Path, **env: str
) -> AsyncIterator[ProviderStack]:
    api, server = await (start_anthropic if provider == "anthropic" else start_openai)(KEY)
    settings = {
        "STIGMER_LLM_PROVIDER": provider,
        "STIGMER_LLM_API_KEY": KEY,
        "STIGMER_LLM_BASE_URL": api.url,
        "STIGMER_LLM_MAX_RETRIES": "3",
        "STIGMER_LLM_RETRY_DELAY_SECONDS": "0.05",
        **env,
    }
    try:
        async with running_stack(temporal_server, tmp_path, settings) as stack:
            yield ProviderStack(stack, api, provider)
    finally:
        await server.cleanup()


WHOLE_RUN = [
    {
        "text": "I will write the greeting first.",
        "tool_calls": [
            {"name": "write_file", "args": {"file_path": "/hello.txt", "content": "hi"}}
        ],
    },
    {
        "text": "Now a helper checks it.",
        "tool_calls": [
            {
                "name": "task",
                "args": {"description": "Read hello.txt", "subagent_type": "general-purpose"},
            }
        ],
    },
    # The subagent's own turns.
    {"tool_calls": [{"name": "execute", "args": {"command": "cat hello.txt"}}]},
    {"text": "The file says hi."},
    # The main agent again.
    {"text": "All done: hello.txt says hi."},
]


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
async def test_a_whole_run_on_the_real_client(
    provider: str, temporal_server: TemporalDevServer, tmp_path: Path
) -> None:
    async with provider_stack(provider, temporal_server, tmp_path) as running:
        running.api.play(*WHOLE_RUN)
        execution = await running.execution("Write a greeting and have it checked")
        result = await (await running.stack.start(execution)).result()
        workspace = running.stack.workspace
    assert result.phase == ax.EXECUTION_COMPLETED
    assert result.messages[-1].content == "All done: hello.txt says hi."
    assert [c.name for c in result.tool_calls] == ["write_file", "task"]
    assert all(c.status == ax.TOOL_CALL_COMPLETED for c in result.tool_calls)
    [sub] = result.sub_agent_executions
    assert sub.status == ax.SUB_AGENT_COMPLETED
    assert "The file says hi." in sub.output
    assert (workspace / "hello.txt").read_text() == "hi"
    assert len(running.api.requests) == len(WHOLE_RUN)
    # The subagent's command output went back to the provider as a tool result.
    assert "hi" in str(running.api.requests[3].body["messages"][-1])


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
async def test_a_busy_provider_is_waited_for_visibly_while_heartbeats_go_on(
    provider: str, temporal_server: TemporalDevServer, tmp_path: Path
) -> None:
    async with provider_stack(provider, temporal_server, tmp_path) as running:
        # Waits longer than the heartbeat timeout: only heartbeats keep the activity alive.
        running.api.play(
            {"fail": {"status": 529 if provider == "anthropic" else 503}},
            {"fail": {"status": 429, "retry_after": 12}},
            {"text": "Answered at last."},
        )
        stack = running.stack
        stack.options = dataclasses.replace(stack.options, heartbeat_timeout_s=10)
        execution = await running.execution("Hello?")
        handle = await stack.start(execution)

        async def waiting_shown() -> bool:
            status = (await stack.stored(execution.metadata.id)).status
            return any(
                m.type == ax.MESSAGE_SYSTEM
                and m.content.startswith("waiting for the provider: retry 2 of 3 in 12 s")
                for m in status.messages
            )

        await async_wait_until(waiting_shown, within=60, what="the wait to show in the status")
        result = await handle.result()
    assert result.phase == ax.EXECUTION_COMPLETED
    assert result.messages[-1].content == "Answered at last."
    [notice] = [m for m in result.messages if m.type == ax.MESSAGE_SYSTEM]
    assert "429" in notice.content
    assert len(running.api.requests) == 3


def _application_error(caught: pytest.ExceptionInfo[WorkflowFailureError]) -> ApplicationError:
    activity_error = caught.value.cause.__cause__
    assert isinstance(activity_error, ActivityError)
    error = activity_error.cause
    assert isinstance(error, ApplicationError)
    return error


@pytest.mark.parametrize(("provider", "status"), [("anthropic", 401), ("openai", 403)])
async def test_a_refused_key_fails_at_once_with_one_line_to_act_on(
    provider: str, status: int, temporal_server: TemporalDevServer, tmp_path: Path
) -> None:
    async with provider_stack(provider, temporal_server, tmp_path) as running:
        running.api.play({"fail": {"status": status, "message": "key not allowed"}})
        execution = await running.execution("Hello?")
        handle = await running.stack.start(execution)
        with pytest.raises(WorkflowFailureError) as caught:
            await handle.result()
        stored = (await running.stack.stored(execution.metadata.id)).status
    error = _application_error(caught)
    assert error.non_retryable
    assert error.type == "ProviderRejected"
    assert f"{provider} at {running.api.url}" in error.message
    assert "STIGMER_LLM_API_KEY" in error.message
    assert "\n" not in error.message
    assert error.details == ({"executionId": execution.metadata.id, "phase": "EXECUTION_FAILED"},)
    assert stored.phase == ax.EXECUTION_FAILED
    assert stored.error == error.message
    assert len(running.api.requests) == 1


async def test_a_provider_busy_through_every_retry_fails_clearly(
    temporal_server: TemporalDevServer, tmp_path: Path
) -> None:
    async with provider_stack("openai", temporal_server, tmp_path) as running:
        running.api.play(*[{"fail": {"status": 500, "message": "boom"}}] * 4)
        execution = await running.execution("Hello?")
        with pytest.raises(WorkflowFailureError) as caught:
            await (await running.stack.start(execution)).result()
    error = _application_error(caught)
    assert error.type == "ProviderUnavailable"
    assert "still busy after 3 retries" in error.message
    assert "boom" in error.message
    assert len(running.api.requests) == 4


async def test_an_unreachable_ollama_names_the_provider_and_its_variable(
    temporal_server: TemporalDevServer, tmp_path: Path
) -> None:
    env = {
        "STIGMER_LLM_PROVIDER": "ollama",
        "OLLAMA_BASE_URL": "http://127.0.0.1:9",
        "STIGMER_LLM_MAX_RETRIES": "1",
        "STIGMER_LLM_RETRY_DELAY_SECONDS": "0.05",
    }
    async with running_stack(temporal_server, tmp_path, env) as stack:
        execution = await stack.backend.create_execution(
            ax.AgentExecution(
                spec=ax.AgentExecutionSpec(session_id=await stack.new_session(), message="Hi")
            )
        )
        with pytest.raises(WorkflowFailureError) as caught:
            await (await stack.start(execution)).result()
    error = _application_error(caught)
    assert "the model provider ollama at http://127.0.0.1:9" in error.message
    assert "OLLAMA_BASE_URL" in error.message
