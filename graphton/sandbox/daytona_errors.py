"""How Daytona's failures are told apart and retried, and mapped onto deepagents' file errors.

Only Daytona's "not found" means a sandbox is gone (`SandboxGone`). A rate
limit, a 5xx answer or a lost connection passes: it is retried with backoff,
then becomes `SandboxUnavailable`. A toolbox call that finds the sandbox
stopped (400 "... Is the Sandbox started?") or archived (404 "container not
found") is answered by starting the sandbox.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from deepagents.backends.protocol import FileOperationError

from graphton.errors import SandboxError

TRANSIENT_STATUS = frozenset({429, 500, 502, 503, 504})
NEVER_REACHED_STATUS = frozenset({429, 503})
"""Answers that say the request was not carried out (rate limited; no upstream)."""

Result = TypeVar("Result")

log = logging.getLogger(__name__)


class SandboxGone(SandboxError):
    """Daytona says the sandbox does not exist (deleted, or never there)."""


class SandboxUnavailable(SandboxError):
    """Daytona could not be reached or kept failing (429, 5xx, lost connections)."""


@dataclass(frozen=True)
class RetryPolicy:
    """How transient API failures are retried: `attempts` in all, waits doubling from
    `first_delay_s` up to `max_delay_s`, each with up to a quarter of jitter."""

    attempts: int = 5
    first_delay_s: float = 0.5
    max_delay_s: float = 8.0


def is_transient(error: BaseException) -> bool:
    """Whether trying again later may succeed: a rate limit, a 5xx, a lost connection."""
    from daytona import DaytonaConnectionError  # the SDK only when Daytona is in use

    if isinstance(error, DaytonaConnectionError):
        return True
    return getattr(error, "status_code", None) in TRANSIENT_STATUS


def never_reached(error: BaseException) -> bool:
    """Whether a failed call surely was not carried out, so repeating it is safe."""
    return getattr(error, "status_code", None) in NEVER_REACHED_STATUS


def is_not_started(error: BaseException) -> bool:
    """Whether a toolbox call failed because the sandbox is stopped (400) or archived (404)."""
    message = str(error)
    status = getattr(error, "status_code", None)
    return (status == 400 and "Is the Sandbox started" in message) or (
        status == 404 and "container not found" in message
    )


async def retrying(
    policy: RetryPolicy,
    what: str,
    call: Callable[[], Awaitable[Result]],
    *,
    retry_on: Callable[[BaseException], bool] = is_transient,
) -> Result:
    """`call()`, tried again with backoff while it fails with an error `retry_on` accepts."""
    from daytona import DaytonaError  # the SDK only when Daytona is in use

    delay = policy.first_delay_s
    for attempt in range(1, policy.attempts + 1):
        try:
            return await call()
        except DaytonaError as err:
            if attempt == policy.attempts or not retry_on(err):
                raise
            log.warning(
                "Daytona: %s failed (%s); attempt %s of %s in %.1fs",
                what,
                err,
                attempt + 1,
                policy.attempts,
                delay,
            )
            await asyncio.sleep(delay * (1 + random.random() / 4))
            delay = min(delay * 2, policy.max_delay_s)
    raise AssertionError("unreachable: the last attempt returns or raises")


def upload_error(error: BaseException) -> FileOperationError | str:
    """deepagents' code for why the daemon refused to write a file, else the message."""
    message = str(error).lower()
    if "permission denied" in message:
        return "permission_denied"
    if "is a directory" in message:
        return "is_directory"
    if "not a directory" in message:
        return "invalid_path"
    return f"upload failed: {error}"


def download_error(result: Any) -> FileOperationError | str:
    """deepagents' code for the daemon's per-file download error, else its message."""
    details = getattr(result, "error_details", None)
    code = getattr(details, "code", None)
    message = str(result.error)
    if code == "FILE_NOT_FOUND" or (code is None and "not found" in message.lower()):
        return "file_not_found"
    if code == "FILE_ACCESS_DENIED":
        return "permission_denied"
    if code == "INVALID_FILE_PATH":
        return "is_directory" if "directory" in message else "invalid_path"
    return message
