"""`SandboxManager`: the sandbox an execution runs in, chosen by MODE / SANDBOX_TYPE.

Filesystem: the folder `SANDBOX_ROOT_DIR`, shared by every execution of this
worker (a developer's `./workspace`). Daytona: one sandbox per session, reused
while it lives, its id stored on the Session.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from daytona import AsyncDaytona, DaytonaConfig
from deepagents.backends.protocol import SandboxBackendProtocol

import graphton
from agent_runner import wire
from agent_runner.backend import BackendClient
from agent_runner.config import Config

log = logging.getLogger(__name__)


@dataclass
class OpenedSandbox:
    backend: SandboxBackendProtocol
    mode: Literal["filesystem", "daytona"]
    """How skills are written into it."""
    root_dir: str | None = None
    """The local root for filesystem sandboxes."""

    async def kill_running_commands(self) -> int:
        """Kill what the execution's commands left running (on cancellation and at the end)."""
        akill_all = getattr(self.backend, "akill_all", None)
        if akill_all is not None:  # a remote sandbox: a request away
            return int(await akill_all())
        kill_all = getattr(self.backend, "kill_all", None)
        # Blocking: it waits until what the commands left running is gone.
        return int(await asyncio.to_thread(kill_all)) if kill_all is not None else 0


class SandboxManager:
    """Opens each execution's sandbox; owns the one Daytona client of the worker."""

    def __init__(self, config: Config, backend: BackendClient) -> None:
        self._config = config
        self._backend = backend
        self._daytona: AsyncDaytona | None = None

    def _daytona_client(self) -> AsyncDaytona:
        if self._daytona is None:
            daytona = self._config.daytona
            assert daytona.api_key is not None  # the config requires it for SANDBOX_TYPE=daytona
            self._daytona = AsyncDaytona(
                DaytonaConfig(
                    api_key=daytona.api_key.reveal(),
                    api_url=daytona.api_url,
                    target=daytona.target,
                )
            )
        return self._daytona

    async def aclose(self) -> None:
        if self._daytona is not None:
            await self._daytona.close()
            self._daytona = None

    async def open(
        self,
        environment: Mapping[str, str],
        redact: Callable[[str], str],
        session: wire.session.Session,
    ) -> OpenedSandbox:
        """The sandbox for one execution: its commands see `environment`, and their
        output passes `redact` before the agent (or anyone) reads it."""
        sandbox = self._config.sandbox
        if sandbox.type == "filesystem":
            backend = graphton.FilesystemBackend(
                sandbox.root_dir,
                env=environment,
                output_filter=redact,
                spool_stream_bytes=sandbox.spool_stream_bytes,
                spool_total_bytes=sandbox.spool_execution_bytes,
            )
            return OpenedSandbox(backend=backend, mode="filesystem", root_dir=str(sandbox.root_dir))
        return OpenedSandbox(
            backend=await self._session_sandbox(session, environment, redact), mode="daytona"
        )

    async def _session_sandbox(
        self,
        session: wire.session.Session,
        environment: Mapping[str, str],
        redact: Callable[[str], str],
    ) -> graphton.DaytonaBackend:
        """The session's sandbox while it lives; a new one (its id stored on the session)
        when the session has none or it is gone."""

        def backend(sandbox_id: str | None) -> graphton.DaytonaBackend:
            return graphton.DaytonaBackend(
                api_key="",  # unused: the shared client carries the key
                sandbox_id=sandbox_id,
                snapshot_id=self._config.daytona.snapshot_id,
                env=environment,
                labels={"stigmer.ai/session": session.metadata.id},
                root_dir=self._config.daytona.work_dir,
                output_filter=redact,
                client=self._daytona_client(),
            )

        if session.spec.sandbox_id:
            try:
                return await backend(session.spec.sandbox_id).start()
            except graphton.SandboxError as err:
                log.warning("session %s: %s; creating a new sandbox", session.metadata.id, err)
        created = await backend(None).start()
        session.spec.sandbox_id = created.id
        await self._backend.update_session(session)
        log.info("session %s: sandbox %s created", session.metadata.id, created.id)
        return created

    async def delete(self, sandbox_id: str) -> bool:
        """Delete a remote sandbox; False when there is nothing to delete (local, or gone)."""
        if self._config.sandbox.type == "filesystem":
            return False
        remote = graphton.DaytonaBackend(
            api_key="", sandbox_id=sandbox_id, client=self._daytona_client()
        )
        return await remote.delete_sandbox()
