"""How failures leave an activity: Temporal `ApplicationError`s with a clear type and message.

The SDK logs every failed activity with its traceback. For the failures we
raise on purpose (a caller's bad input, a missing resource, an agent that
failed), the traceback says nothing the message does not: `OneLineFailures`
turns those log records into one line; an unexpected exception keeps its
traceback.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from temporalio.exceptions import ApplicationError

INVALID_INPUT: Final = "InvalidInput"
RESOURCE_NOT_FOUND: Final = "ResourceNotFound"
CONFIGURATION: Final = "ConfigurationError"
AGENT_FAILED: Final = "AgentExecutionFailed"
PROVIDER_REJECTED: Final = "ProviderRejected"
PROVIDER_UNAVAILABLE: Final = "ProviderUnavailable"

EXPECTED_FAILURES: Final = frozenset(
    {
        INVALID_INPUT,
        RESOURCE_NOT_FOUND,
        CONFIGURATION,
        AGENT_FAILED,
        PROVIDER_REJECTED,
        PROVIDER_UNAVAILABLE,
    }
)
"""Failure types raised on purpose, each with a message that says it all."""


def caller_error(
    message: str, error_type: str = INVALID_INPUT, details: dict[str, Any] | None = None
) -> ApplicationError:
    """A problem retrying cannot fix: bad payload, missing resource, bad configuration."""
    extra = (details,) if details else ()
    return ApplicationError(message, *extra, type=error_type, non_retryable=True)


def execution_details(execution_id: str, phase: str) -> dict[str, Any]:
    """The `details` of an ExecuteGraphton failure, in the wire's lowerCamelCase."""
    return {"executionId": execution_id, "phase": phase}


def with_details(error: ApplicationError, details: dict[str, Any]) -> ApplicationError:
    """`error` again, with `details` (what the workflow reads) in place of none."""
    if error.details:
        return error
    return ApplicationError(
        error.message,
        details,
        type=error.type,
        non_retryable=error.non_retryable,
        next_retry_delay=error.next_retry_delay,
        category=error.category,
    )


class OneLineFailures(logging.Filter):
    """On `temporalio.activity`: an expected failure logged as one line, without traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, ApplicationError) and error.type in EXPECTED_FAILURES:
            record.msg = f"{record.getMessage()}: {error.type}: {error.message}"
            record.args = ()
            record.exc_info = None
            record.exc_text = None
        return True


def install_one_line_failures() -> None:
    """Add `OneLineFailures` to the SDK's activity logger, once per process."""
    logger = logging.getLogger("temporalio.activity")
    if not any(isinstance(f, OneLineFailures) for f in logger.filters):
        logger.addFilter(OneLineFailures())
