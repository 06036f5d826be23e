"""graphton: a declarative config in, a running deep agent over a sandbox and its typed events out.

A library: it knows nothing of Temporal, gRPC or the Stigmer wire contract.

Every name is imported on first use (PEP 562): deepagents and LangChain take
seconds to import, and `import graphton` should not cost them to a program that
only needs its errors or never builds an agent (the CLI's `config`, `validate`,
`skills lint`); the Daytona SDK loads only when a `DaytonaBackend` is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
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
    from graphton.sandbox.daytona import DaytonaBackend
    from graphton.testing import Script, ScriptedChatModel
    from graphton.tracing import skip_langsmith_thread_hops

_HOMES = {
    "graphton.agent": ["create_deep_agent"],
    "graphton.errors": [
        "GraphtonError",
        "ModelConfigError",
        "SandboxConfigError",
        "SandboxError",
        "SandboxPathError",
        "ScriptError",
    ],
    "graphton.events": [
        "AgentEvent",
        "AIMessageCompleted",
        "AITextDelta",
        "SubagentFinished",
        "SubagentStarted",
        "Todo",
        "TodosUpdated",
        "ToolFinished",
        "ToolStarted",
        "events_from_messages",
        "stream_events",
    ],
    "graphton.models": ["create_chat_model"],
    "graphton.sandbox": [
        "TIMEOUT_EXIT_CODE",
        "ExecutionResult",
        "FilesystemBackend",
        "create_sandbox_backend",
    ],
    "graphton.sandbox.daytona": ["DaytonaBackend"],
    "graphton.testing": ["Script", "ScriptedChatModel"],
    "graphton.tracing": ["skip_langsmith_thread_hops"],
}
_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}

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
    "skip_langsmith_thread_hops",
    "stream_events",
]


def __getattr__(name: str) -> object:
    module = _HOME_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
