"""`CleanupSandbox(sandbox_id)`: delete a session's sandbox.

Success only when the sandbox is gone: deleted now, or Daytona says it does not
exist. When Daytona cannot be reached the activity fails (retryable), since
Daytona never deletes a sandbox by itself and one reported gone would stay.
"""

from __future__ import annotations

import logging

import temporalio.activity
from temporalio.common import RawValue
from temporalio.exceptions import ApplicationError

import graphton
from agent_runner.activities.deps import RunnerDeps
from agent_runner.activities.inputs import decode_argument

log = logging.getLogger(__name__)


class CleanupSandbox:
    def __init__(self, deps: RunnerDeps) -> None:
        self._deps = deps

    @temporalio.activity.defn(name="CleanupSandbox")
    async def cleanup_sandbox(self, sandbox_id: RawValue) -> None:
        await self._cleanup(decode_argument(sandbox_id, str, "sandbox_id"))

    async def _cleanup(self, sandbox_id: str) -> None:
        try:
            deleted = await self._deps.sandboxes.delete(sandbox_id)
        except graphton.SandboxError as err:
            log.warning("sandbox %s: not deleted: %s", sandbox_id, err)
            raise ApplicationError(str(err), type="SandboxUnavailable") from None
        log.info(
            "sandbox %s: %s", sandbox_id, "deleted" if deleted else "already gone or not remote"
        )
