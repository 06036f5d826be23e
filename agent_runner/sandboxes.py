"""`SandboxManager`: the sandbox an execution runs in, chosen by MODE / SANDBOX_TYPE.

Filesystem: the folder `SANDBOX_ROOT_DIR`, shared by every execution of this
worker (a developer's `./workspace`). Daytona: one sandbox per session, reused
while it lives, its id stored on the Session.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from deepagents.backends.protocol import SandboxBackendProtocol

import graphton
from agent_runner.config import Config


@dataclass
class OpenedSandbox:
    backend: SandboxBackendProtocol
    mode: str
    """"filesystem" or "daytona": how skills are written into it."""
    root_dir: str | None = None
    """The local root for filesystem sandboxes."""

    def kill_running_commands(self) -> int:
        """Kill what the execution's commands left running (on cancellation and at the end)."""
        kill_all = getattr(self.backend, "kill_all", None)
        return int(kill_all()) if kill_all is not None else 0


class SandboxManager:
    def __init__(self, config: Config) -> None:
        self._config = config

    async def open(
        self, environment: Mapping[str, str], redact: Callable[[str], str]
    ) -> OpenedSandbox:
        """The sandbox for one execution: its commands see `environment`, and their
        output passes `redact` before the agent (or anyone) reads it."""
        sandbox = self._config.sandbox
        if sandbox.type == "filesystem":
            backend = graphton.FilesystemBackend(
                sandbox.root_dir, env=environment, output_filter=redact
            )
            return OpenedSandbox(backend=backend, mode="filesystem", root_dir=str(sandbox.root_dir))
        raise graphton.SandboxConfigError(
            "SANDBOX_TYPE=daytona is not available in this build yet; use SANDBOX_TYPE=filesystem"
        )

    async def delete(self, sandbox_id: str) -> bool:
        """Delete a remote sandbox; False when there is nothing to delete (local, or gone)."""
        if self._config.sandbox.type == "filesystem":
            return False
        raise graphton.SandboxConfigError(
            "SANDBOX_TYPE=daytona is not available in this build yet; use SANDBOX_TYPE=filesystem"
        )
