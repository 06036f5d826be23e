"""`SecretMasking`: an agent middleware that keeps secret values out of the conversation.

Commands' output is masked by the sandbox, but other tools read files and call
servers directly: `read_file` of a file holding a secret, `grep` over it, an
MCP tool that echoes its token. This middleware masks every tool result before
the model reads it, whichever tool made it, and every AI message as the model
wrote it (text, tool names, argument keys and values) before it enters the
conversation state, which the checkpoint database keeps. So a file holding a
secret reads as `***`, and the model never learns a secret to repeat.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from langchain.agents.middleware import AgentMiddleware
from langchain.agents.middleware.types import ModelRequest, ModelResponse, ToolCallRequest
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langgraph.types import Command

from agent_runner.redaction import redact_json

Redact = Callable[[str], str]
M = TypeVar("M", bound=BaseMessage)


class SecretMasking(AgentMiddleware[Any, Any, Any]):
    """Masks tool results and model output with `redact` (the execution's redactor)."""

    def __init__(self, redact: Redact) -> None:
        super().__init__()
        self._redact = redact

    # -- model output ------------------------------------------------------------

    def wrap_model_call(
        self, request: ModelRequest, handler: Callable[[ModelRequest], ModelResponse]
    ) -> ModelResponse:
        return self._masked_response(handler(request))

    async def awrap_model_call(
        self, request: ModelRequest, handler: Callable[[ModelRequest], Awaitable[ModelResponse]]
    ) -> ModelResponse:
        return self._masked_response(await handler(request))

    def _masked_response(self, response: ModelResponse) -> ModelResponse:
        response.result = [mask_message(m, self._redact) for m in response.result]
        return response

    # -- tool results ------------------------------------------------------------

    def wrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], ToolMessage | Command[Any]],
    ) -> ToolMessage | Command[Any]:
        return self._masked_result(handler(request))

    async def awrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], Awaitable[ToolMessage | Command[Any]]],
    ) -> ToolMessage | Command[Any]:
        return self._masked_result(await handler(request))

    def _masked_result(self, result: ToolMessage | Command[Any]) -> ToolMessage | Command[Any]:
        if isinstance(result, ToolMessage):
            return mask_message(result, self._redact)
        if isinstance(result, Command) and isinstance(result.update, dict):
            messages = result.update.get("messages")
            if isinstance(messages, list):
                result.update["messages"] = [
                    mask_message(m, self._redact) if isinstance(m, BaseMessage) else m
                    for m in messages
                ]
        return result


def mask_message(message: M, redact: Redact) -> M:
    """A copy of `message` with its text, and an AI message's tool calls, masked."""
    changes: dict[str, Any] = {
        "content": redact_json(message.content, redact),
        # Providers keep their raw form here too (OpenAI's tool calls, for one).
        "additional_kwargs": redact_json(message.additional_kwargs, redact),
    }
    if isinstance(message, AIMessage):
        changes["tool_calls"] = [
            {**call, "name": redact(call["name"]), "args": redact_json(call["args"], redact)}
            for call in message.tool_calls
        ]
        changes["invalid_tool_calls"] = [
            redact_json(dict(call), redact) for call in message.invalid_tool_calls
        ]
    return message.model_copy(update=changes)
