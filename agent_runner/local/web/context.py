"""What an execution ran with: its environment (secret values masked) and its skills.

Resolved over the daemon's gRPC API along the same chain ExecuteGraphton
follows (session -> instance -> agent -> environments, skills), and merged
with the same `merge_environment`, so the page shows what the agent's
commands saw. The secret values found here also mask every string the page
gets about the execution.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from dataclasses import dataclass, field

from agent_runner import wire
from agent_runner.backend import BackendClient, BackendError
from agent_runner.environment import merge_environment
from agent_runner.redaction import Redactor
from agent_runner.secrets import MASK
from agent_runner.skills import ResolvedSkill

log = logging.getLogger(__name__)

CACHED_CONTEXTS = 256


@dataclass(frozen=True)
class ExecutionContext:
    environment: tuple[dict[str, object], ...] = ()
    """`{name, value, secret, source}` per variable, in name order; secret values are `***`."""
    skills: tuple[dict[str, str], ...] = ()
    """`{slug, name, description}` per skill of the agent and its subagents."""
    secret_values: frozenset[str] = frozenset()
    """Every secret value of the execution's environment."""
    mask: Redactor = field(default_factory=Redactor)
    """Masks them."""
    problem: str = ""
    """Why the context could not be resolved (shown instead of it)."""

    def as_json(self) -> dict[str, object]:
        return {
            "environment": [
                {key: self.mask(v) if isinstance(v, str) else v for key, v in entry.items()}
                for entry in self.environment
            ],
            "skills": [{k: self.mask(v) for k, v in skill.items()} for skill in self.skills],
            "problem": self.mask(self.problem),
        }


async def resolve_context(
    backend: BackendClient, execution: wire.agentexecution.AgentExecution
) -> ExecutionContext:
    try:
        session = await backend.get_session(execution.spec.session_id)
        instance = await backend.get_agent_instance(session.spec.agent_instance_id)
        agent = await backend.get_agent(instance.spec.agent_id)
        environments = await asyncio.gather(
            *(backend.get_environment_by_reference(ref) for ref in instance.spec.environment_refs)
        )
        references = {ref.slug: ref for ref in agent.spec.skill_refs}
        for sub_agent in agent.spec.sub_agents:
            references.update({ref.slug: ref for ref in sub_agent.skill_refs})
        skills = await asyncio.gather(
            *(backend.get_skill_by_reference(ref) for ref in references.values())
        )
    except BackendError as err:
        # Still mask what the execution itself says is secret.
        carried = frozenset(
            v.value for v in execution.spec.runtime_env.values() if v.is_secret and v.value
        )
        return ExecutionContext(
            secret_values=carried,
            mask=Redactor(carried),
            problem=f"could not resolve what the execution ran with: {err}",
        )
    merged = merge_environment(agent, environments, execution.spec.runtime_env)
    sources: dict[str, str] = {name: "agent" for name in agent.spec.env_spec.data}
    for environment in environments:
        label = f"environment {environment.metadata.slug or environment.metadata.id}"
        sources.update({name: label for name in environment.spec.data})
    sources.update({name: "this run" for name in execution.spec.runtime_env})
    entries = tuple(
        {
            "name": name,
            "value": MASK if name in merged.secret_names else merged.values[name],
            "secret": name in merged.secret_names,
            "source": sources.get(name, ""),
        }
        for name in sorted(merged.values)
    )
    documents = []
    for skill in skills:
        document = ResolvedSkill(skill=skill).document
        documents.append(
            {
                "slug": skill.metadata.slug,
                "name": document.name,
                "description": document.description,
            }
        )
    return ExecutionContext(
        environment=entries,
        skills=tuple(documents),
        secret_values=merged.secret_values,
        mask=Redactor(merged.secret_values),
    )


class ContextCache:
    """Contexts by execution id, resolved once each; the oldest are forgotten first."""

    def __init__(self, backend: BackendClient, size: int = CACHED_CONTEXTS) -> None:
        self._backend = backend
        self._size = size
        self._contexts: OrderedDict[str, ExecutionContext] = OrderedDict()

    async def get(self, execution: wire.agentexecution.AgentExecution) -> ExecutionContext:
        key = execution.metadata.id
        found = self._contexts.get(key)
        if found is not None:
            self._contexts.move_to_end(key)
            return found
        context = await resolve_context(self._backend, execution)
        if not context.problem:  # a failed resolution is tried again next time
            self._contexts[key] = context
            while len(self._contexts) > self._size:
                self._contexts.popitem(last=False)
        return context
