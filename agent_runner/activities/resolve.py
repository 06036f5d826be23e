"""Step: from an execution to everything it runs with, over the backend.

`spec.session_id` -> Session -> `spec.agent_instance_id` -> AgentInstance ->
`spec.agent_id` -> Agent; then the agent's skills (+ artifacts) and the
instance's environments, in reference order.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from agent_runner import wire
from agent_runner.activities.errors import RESOURCE_NOT_FOUND, caller_error
from agent_runner.backend import BackendClient, BackendError, ResourceNotFound
from agent_runner.skills import ResolvedSkill

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ResolvedExecution:
    session: wire.session.Session
    instance: wire.agentinstance.AgentInstance
    agent: wire.agent.Agent
    environments: tuple[wire.environment.Environment, ...]
    skills: tuple[ResolvedSkill, ...]
    """Every skill of the agent and of its subagents, each once."""
    warnings: tuple[str, ...] = field(default=())
    """Problems that do not stop the run (an artifact that could not be fetched)."""


async def resolve_execution(
    backend: BackendClient, execution: wire.agentexecution.AgentExecution
) -> ResolvedExecution:
    """Raise a non-retryable error naming what is missing; BackendUnavailable propagates
    (retryable)."""
    session_id = execution.spec.session_id
    if not session_id:
        raise caller_error(
            "the execution has no spec.session_id; EnsureThread/ExecuteGraphton "
            "need the session the execution belongs to"
        )
    try:
        session = await backend.get_session(session_id)
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
    except ResourceNotFound as err:
        raise caller_error(
            f"execution {execution.metadata.id!r}: {err}", RESOURCE_NOT_FOUND
        ) from err
    warnings: list[str] = []
    resolved_skills = []
    for skill in skills:
        artifact, warning = await _fetch_artifact(backend, skill)
        resolved_skills.append(ResolvedSkill(skill=skill, artifact=artifact))
        if warning:
            warnings.append(warning)
    return ResolvedExecution(
        session=session,
        instance=instance,
        agent=agent,
        environments=tuple(environments),
        skills=tuple(resolved_skills),
        warnings=tuple(warnings),
    )


def skills_for(
    resolved: ResolvedExecution, references: Sequence[wire.apiresource.ApiResourceReference]
) -> list[ResolvedSkill]:
    """The resolved skills a list of references names, in its order."""
    by_slug = {skill.skill.metadata.slug: skill for skill in resolved.skills}
    return [by_slug[ref.slug] for ref in references if ref.slug in by_slug]


async def _fetch_artifact(
    backend: BackendClient, skill: wire.skill.Skill
) -> tuple[bytes | None, str | None]:
    """The skill's ZIP; when it cannot be fetched, the skill still gets its SKILL.md."""
    key = skill.status.artifact_storage_key
    if not key:
        return None, None
    try:
        return await backend.get_skill_artifact(key), None
    except BackendError as err:
        warning = (
            f"skill {skill.metadata.slug!r}: its files could not be fetched ({err}); "
            "only its SKILL.md is available"
        )
        log.warning(warning)
        return None, warning
