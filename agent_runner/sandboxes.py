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
from typing import TYPE_CHECKING, Literal

from deepagents.backends.protocol import SandboxBackendProtocol

import graphton
from agent_runner import wire
from agent_runner.backend import BackendClient
from agent_runner.config import WORKER_ONLY_VARIABLES, Config
from graphton.sandbox.daytona_errors import RetryPolicy, SandboxGone, SandboxUnavailable

if TYPE_CHECKING:  # the Daytona SDK is imported only when a Daytona sandbox is used
    from daytona import AsyncDaytona

log = logging.getLogger(__name__)

SESSION_LABEL = "stigmer.ai/session"
MANAGED_BY_LABEL = "stigmer.ai/managed-by"
GONE_STATES = frozenset({"destroyed", "destroying"})


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

    def __init__(
        self, config: Config, backend: BackendClient, retry: RetryPolicy | None = None
    ) -> None:
        self._config = config
        self._backend = backend
        self._retry = retry or RetryPolicy()
        self._daytona: AsyncDaytona | None = None

    def _daytona_client(self) -> AsyncDaytona:
        if self._daytona is None:
            from daytona import AsyncDaytona, DaytonaConfig

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
                withheld_env=WORKER_ONLY_VARIABLES,
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
        """The session's sandbox while it lives (started again when Daytona stopped it);
        a new one, its id stored on the session, when the session has none or Daytona says
        it is gone. Any other failure to reach it raises: a passing outage must not cost
        the session its files."""
        session_id = session.metadata.id
        daytona = self._config.daytona

        def backend(sandbox_id: str | None) -> graphton.DaytonaBackend:
            return graphton.DaytonaBackend(
                api_key="",  # unused: the shared client carries the key
                sandbox_id=sandbox_id,
                snapshot_id=daytona.snapshot_id,
                env=environment,
                labels={**daytona.labels, **self._labels(session_id)},
                root_dir=daytona.work_dir,
                output_filter=redact,
                auto_stop_minutes=daytona.auto_stop_minutes,
                auto_archive_minutes=daytona.auto_archive_minutes,
                retry=self._retry,
                client=self._daytona_client(),
            )

        if session.spec.sandbox_id:
            try:
                return await backend(session.spec.sandbox_id).start()
            except SandboxGone as err:
                log.warning("session %s: %s; creating a new sandbox", session_id, err)
        # An earlier attempt may have made one and failed to record it.
        labelled = await self._labelled_sandbox(session_id)
        if labelled is not None:
            found = await backend(labelled).start()
            log.info("session %s: found its sandbox %s by label", session_id, labelled)
            await self._record(session, labelled)
            return found
        created = backend(None)
        try:
            await created.start()
            await self._record(session, created.id)
        except BaseException:
            if created.created:
                await self._forget(created.id, session_id)
            raise
        log.info("session %s: sandbox %s created", session_id, created.id)
        return created

    @staticmethod
    def _labels(session_id: str) -> dict[str, str]:
        return {SESSION_LABEL: session_id, MANAGED_BY_LABEL: "agent-runner"}

    async def _labelled_sandbox(self, session_id: str) -> str | None:
        """The id of a live sandbox labelled with this session, if Daytona has one."""
        from daytona import DaytonaError, ListSandboxesQuery

        query = ListSandboxesQuery(labels=self._labels(session_id))
        try:
            async for sandbox in self._daytona_client().list(query):
                if str(getattr(sandbox.state, "value", sandbox.state)) not in GONE_STATES:
                    return str(sandbox.id)
        except DaytonaError as err:
            raise SandboxUnavailable(
                f"Daytona could not list the sandboxes of session {session_id} ({err}); "
                "try again later"
            ) from err
        return None

    async def _record(self, session: wire.session.Session, sandbox_id: str) -> None:
        session.spec.sandbox_id = sandbox_id
        await self._backend.update_session(session)

    async def _forget(self, sandbox_id: str, session_id: str) -> None:
        """Delete a sandbox this attempt created but could not record; never raises (the
        attempt's own failure is what matters), but a sandbox left behind is logged."""
        remote = graphton.DaytonaBackend(
            api_key="", sandbox_id=sandbox_id, retry=self._retry, client=self._daytona_client()
        )
        try:
            await asyncio.shield(remote.delete_sandbox())
        except (graphton.SandboxError, asyncio.CancelledError) as err:
            log.error(
                "session %s: sandbox %s could not be recorded nor deleted (%s); "
                "delete it by its label %s=%s",
                session_id,
                sandbox_id,
                err or type(err).__name__,
                SESSION_LABEL,
                session_id,
            )

    async def delete(self, sandbox_id: str) -> bool:
        """Delete a remote sandbox; False when there is nothing to delete (local, or gone).

        Raises `SandboxError` when Daytona could not be reached: the sandbox still exists.
        """
        if self._config.sandbox.type == "filesystem":
            return False
        remote = graphton.DaytonaBackend(
            api_key="", sandbox_id=sandbox_id, retry=self._retry, client=self._daytona_client()
        )
        return await remote.delete_sandbox()
