"""`LiveCommandOutput`: a running command's output reaches the status while it runs.

An agent middleware: for the length of each `execute` tool call it sets the
sandbox's output listener (`graphton.sandbox.live_output`), so that the text the
command prints, masked by the sandbox, is handed to `on_output(call_id, text)`
as it comes. Other tools (a subagent's `task` among them) hear nothing: their
nested commands belong to calls the status keeps elsewhere. The local sandbox
streams; a Daytona command's output arrives with its result.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from langchain.agents.middleware import AgentMiddleware
from langchain.agents.middleware.types import ToolCallRequest
from langchain_core.messages import ToolMessage
from langgraph.types import Command

from graphton.sandbox.live_output import OutputListener, listening

OnOutput = Callable[[str, str], None]
"""(tool call id, masked text as it came)."""

WATCHED_TOOLS = frozenset({"execute"})


class LiveCommandOutput(AgentMiddleware[Any, Any, Any]):
    def __init__(self, on_output: OnOutput) -> None:
        super().__init__()
        self._on_output = on_output

    def wrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], ToolMessage | Command[Any]],
    ) -> ToolMessage | Command[Any]:
        with listening(self._listener_for(request)):
            return handler(request)

    async def awrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], Awaitable[ToolMessage | Command[Any]]],
    ) -> ToolMessage | Command[Any]:
        with listening(self._listener_for(request)):
            return await handler(request)

    def _listener_for(self, request: ToolCallRequest) -> OutputListener | None:
        call_id = request.tool_call.get("id")
        if request.tool_call.get("name") not in WATCHED_TOOLS or not call_id:
            return None
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        owner = threading.get_ident()
        on_output = self._on_output

        def listener(text: str) -> None:
            # A blocking `execute` runs its command on a helper thread with a loop of
            # its own: the status belongs to this thread's loop, so the text goes there.
            if loop is None or threading.get_ident() == owner:
                on_output(call_id, text)
            else:
                loop.call_soon_threadsafe(on_output, call_id, text)

        return listener


__all__ = ["LiveCommandOutput", "OnOutput"]
