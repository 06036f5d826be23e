"""`EnsureThread(session_id, agent_id) -> str`: the conversation thread of a session.

Stable per session (derived from the session id and stored on the session), so
every execution of a session continues the same LangGraph thread; a fresh one
when there is no session.
"""

from __future__ import annotations

import logging
import uuid

import temporalio.activity
from temporalio.common import RawValue

from agent_runner.activities.deps import RunnerDeps
from agent_runner.activities.errors import RESOURCE_NOT_FOUND, caller_error
from agent_runner.activities.inputs import decode_argument
from agent_runner.backend import ResourceNotFound

log = logging.getLogger(__name__)


def thread_id_for(session_id: str) -> str:
    return f"thread-{session_id}"


class EnsureThread:
    def __init__(self, deps: RunnerDeps) -> None:
        self._deps = deps

    @temporalio.activity.defn(name="EnsureThread")
    async def ensure_thread(self, session_id: RawValue, agent_id: RawValue) -> str:
        return await self._ensure(
            decode_argument(session_id, str, "session_id"),
            decode_argument(agent_id, str, "agent_id"),
        )

    async def _ensure(self, session_id: str, agent_id: str) -> str:
        if not session_id:
            return f"thread-{uuid.uuid4().hex}"
        try:
            session = await self._deps.backend.get_session(session_id)
        except ResourceNotFound as err:
            raise caller_error(
                f"session {session_id!r} was not found in the backend "
                f"(EnsureThread for agent {agent_id!r})",
                RESOURCE_NOT_FOUND,
            ) from err
        if session.spec.thread_id:
            return session.spec.thread_id
        session.spec.thread_id = thread_id_for(session_id)
        await self._deps.backend.update_session(session)
        log.info("session %s: thread %s", session_id, session.spec.thread_id)
        return session.spec.thread_id
