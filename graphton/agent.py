"""`create_deep_agent(...)`: a declarative description in, a compiled deep agent out.

Built on deepagents' own `create_deep_agent`, with the todo list on and the
`task` namespace reporter that `graphton.events` needs to tell subagents apart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from deepagents import create_deep_agent as _deepagents_create_deep_agent
from deepagents.backends.protocol import BackendProtocol
from langchain.agents.middleware import AgentMiddleware, TodoListMiddleware
from langchain_core.language_models import BaseChatModel
from langchain_core.tools import BaseTool
from langgraph.pregel import Pregel
from langgraph.types import Checkpointer

from graphton.events import TaskNamespaceReporter
from graphton.models import create_chat_model
from graphton.sandbox.factory import create_sandbox_backend

DEFAULT_RECURSION_LIMIT = 1000
"""LangGraph steps one run may take; each model call and each tool call is about one."""


def create_deep_agent(
    *,
    model: BaseChatModel | str,
    system_prompt: str,
    sandbox: BackendProtocol | Mapping[str, Any],
    skills: Sequence[str] | None = None,
    subagents: Sequence[Mapping[str, Any]] | None = None,
    checkpointer: Checkpointer | None = None,
    interrupt_on: Mapping[str, Any] | None = None,
    recursion_limit: int = DEFAULT_RECURSION_LIMIT,
    tools: Sequence[BaseTool] = (),
    middleware: Sequence[AgentMiddleware[Any, Any, Any]] = (),
    name: str | None = None,
) -> Pregel[Any, Any, Any, Any]:
    """Compile a deep agent.

    Args:
        model: a chat model, or a `provider:model` spec for `create_chat_model`.
        system_prompt: the agent's instructions.
        sandbox: a backend instance, or a config for `create_sandbox_backend`.
        skills: sandbox paths of skill folders deepagents' skills middleware reads.
        subagents: deepagents `SubAgent` specs the `task` tool can delegate to.
        checkpointer: LangGraph checkpointer; conversations are keyed by the
            `thread_id` in the run's config.
        interrupt_on: tool name -> human-in-the-loop config.
        recursion_limit: LangGraph step limit of one run.
        tools, middleware: added to deepagents' built-in ones.
    """
    chat_model = create_chat_model(model) if isinstance(model, str) else model
    backend = sandbox if isinstance(sandbox, BackendProtocol) else create_sandbox_backend(sandbox)
    graph = _deepagents_create_deep_agent(
        model=chat_model,
        tools=list(tools),
        system_prompt=system_prompt,
        middleware=[
            cast(AgentMiddleware[Any, Any, Any], TodoListMiddleware()),
            TaskNamespaceReporter(),
            *middleware,
        ],
        subagents=[dict(s) for s in subagents] if subagents else None,  # type: ignore[misc]
        skills=list(skills) if skills else None,
        backend=backend,
        interrupt_on=dict(interrupt_on) if interrupt_on else None,
        checkpointer=checkpointer,
        name=name,
    )
    configured: Pregel[Any, Any, Any, Any] = graph.with_config({"recursion_limit": recursion_limit})
    return configured


__all__ = ["DEFAULT_RECURSION_LIMIT", "create_deep_agent"]
