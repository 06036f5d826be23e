"""Step: the chat model and the deep agent for one execution."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from deepagents.middleware.subagents import GENERAL_PURPOSE_SUBAGENT
from langchain.agents.middleware import AgentMiddleware
from langchain_core.language_models import BaseChatModel
from langchain_core.tools import BaseTool
from langgraph.pregel import Pregel
from langgraph.types import Checkpointer

import graphton
from agent_runner import wire
from agent_runner.activities.errors import CONFIGURATION, caller_error
from agent_runner.activities.mcp_servers import subagent_tools
from agent_runner.annotations import OFFLINE_SCRIPT_ANNOTATION
from agent_runner.config import LIVE_MODEL_HINT, LLMConfig
from agent_runner.sandboxes import OpenedSandbox
from graphton.models import PROVIDERS


def model_spec(llm: LLMConfig, model_name: str, agent: wire.agent.Agent | None = None) -> str:
    """`provider:model` from the worker's provider and the execution's model name.

    `execution_config.model_name` overrides the configured model; a name that
    itself starts with a known provider (`openai:gpt-4.1`) is taken whole. The
    scripted provider without a script plays the agent's own offline script; an
    agent without one needs a live model, which is said at once.
    """
    if model_name:
        provider, sep, _ = model_name.partition(":")
        if sep and provider in PROVIDERS:
            return model_name
        return f"{llm.provider}:{model_name}"
    if llm.provider == "scripted" and not llm.model:
        script = agent.metadata.annotations.get(OFFLINE_SCRIPT_ANNOTATION) if agent else None
        if not script:
            slug = agent.metadata.slug if agent else "this agent"
            raise caller_error(
                f"agent {slug!r} needs a live model (no offline script plays it): "
                f"{LIVE_MODEL_HINT}",
                CONFIGURATION,
            )
        return f"scripted:{script}"
    return llm.spec


def build_chat_model(
    llm: LLMConfig, model_name: str, agent: wire.agent.Agent | None = None
) -> BaseChatModel:
    spec = model_spec(llm, model_name, agent)
    provider = spec.partition(":")[0]
    # The configured key belongs to the configured provider: another provider named
    # per execution reads its own variable, never this key.
    api_key = llm.api_key.reveal() if llm.api_key and provider == llm.provider else None
    try:
        return graphton.create_chat_model(
            spec,
            api_key=api_key,
            base_url=llm.ollama_base_url if provider == "ollama" else llm.base_url,
            max_tokens=llm.max_tokens,
            temperature=llm.temperature,
        )
    except (graphton.ModelConfigError, graphton.ScriptError) as err:
        raise caller_error(str(err), CONFIGURATION) from err


def system_prompt(agent: wire.agent.Agent, skills_section: str) -> str:
    parts = [agent.spec.instructions.strip(), skills_section.strip()]
    return "\n\n".join(part for part in parts if part)


def subagent_specs(
    agent: wire.agent.Agent,
    skills_sections: dict[str, str],
    mcp_tools: Mapping[str, list[BaseTool]],
    middleware: Sequence[AgentMiddleware[Any, Any, Any]] = (),
) -> list[dict[str, Any]]:
    """deepagents subagent specs from `Agent.spec.sub_agents`: the `task` tool's choices.

    Each keeps its own instructions, the skills section of its own skill refs, and
    only the MCP tools of its own servers and selections (the file and shell tools
    come with every agent). `middleware` is added to every subagent, deepagents'
    general-purpose one included (spelled out here: by default it would not get it).
    """
    specs: list[dict[str, Any]] = []
    general = GENERAL_PURPOSE_SUBAGENT["name"]
    if middleware and not any(sub.name == general for sub in agent.spec.sub_agents):
        specs.append(
            {
                **GENERAL_PURPOSE_SUBAGENT,
                "tools": [tool for tools in mcp_tools.values() for tool in tools],
                "middleware": list(middleware),
            }
        )
    for sub_agent in agent.spec.sub_agents:
        prompt = "\n\n".join(
            part
            for part in (sub_agent.instructions.strip(), skills_sections.get(sub_agent.name, ""))
            if part
        )
        specs.append(
            {
                "name": sub_agent.name,
                "description": sub_agent.description or f"The {sub_agent.name} subagent.",
                "system_prompt": prompt or f"You are the {sub_agent.name} subagent.",
                "tools": subagent_tools(sub_agent, mcp_tools),
                "middleware": list(middleware),
            }
        )
    return specs


def build_agent(
    *,
    model: BaseChatModel,
    agent: wire.agent.Agent,
    skills_section: str,
    sandbox: OpenedSandbox,
    checkpointer: Checkpointer,
    subagents: list[dict[str, Any]] | None = None,
    tools: Sequence[BaseTool] = (),
    middleware: Sequence[AgentMiddleware[Any, Any, Any]] = (),
) -> Pregel[Any, Any, Any, Any]:
    return graphton.create_deep_agent(
        model=model,
        tools=tools,
        system_prompt=system_prompt(agent, skills_section),
        sandbox=sandbox.backend,
        checkpointer=checkpointer,
        subagents=subagents or None,
        name=agent.metadata.slug or None,
        middleware=middleware,
    )
