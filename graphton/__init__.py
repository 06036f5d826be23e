"""graphton: a declarative config in, a running deep agent over a sandbox and its typed events out.

A library: it knows nothing of Temporal, gRPC or the Stigmer wire contract.
`DaytonaBackend` is imported on first use (see `graphton.sandbox`).
"""

from typing import TYPE_CHECKING

from graphton.agent import create_deep_agent
from graphton.errors import (
    GraphtonError,
    ModelConfigError,
    SandboxConfigError,
    SandboxError,
    SandboxPathError,
    ScriptError,
)
from graphton.events import (
    AgentEvent,
    AIMessageCompleted,
    AITextDelta,
    SubagentFinished,
    SubagentStarted,
    Todo,
    TodosUpdated,
    ToolFinished,
    ToolStarted,
    events_from_messages,
    stream_events,
)
from graphton.models import create_chat_model
from graphton.sandbox import (
    TIMEOUT_EXIT_CODE,
    ExecutionResult,
    FilesystemBackend,
    create_sandbox_backend,
)
from graphton.testing import Script, ScriptedChatModel

if TYPE_CHECKING:
    from graphton.sandbox.daytona import DaytonaBackend

__all__ = [
    "TIMEOUT_EXIT_CODE",
    "AIMessageCompleted",
    "AITextDelta",
    "AgentEvent",
    "DaytonaBackend",
    "ExecutionResult",
    "FilesystemBackend",
    "GraphtonError",
    "ModelConfigError",
    "SandboxConfigError",
    "SandboxError",
    "SandboxPathError",
    "Script",
    "ScriptError",
    "ScriptedChatModel",
    "SubagentFinished",
    "SubagentStarted",
    "Todo",
    "TodosUpdated",
    "ToolFinished",
    "ToolStarted",
    "create_chat_model",
    "create_deep_agent",
    "create_sandbox_backend",
    "events_from_messages",
    "stream_events",
]


def __getattr__(name: str) -> object:
    if name == "DaytonaBackend":
        from graphton.sandbox.daytona import DaytonaBackend

        return DaytonaBackend
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
