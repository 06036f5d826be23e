"""How failures leave an activity: Temporal `ApplicationError`s with a clear type and message."""

from __future__ import annotations

from temporalio.exceptions import ApplicationError

INVALID_INPUT = "InvalidInput"
RESOURCE_NOT_FOUND = "ResourceNotFound"
CONFIGURATION = "ConfigurationError"
AGENT_FAILED = "AgentExecutionFailed"


def caller_error(message: str, error_type: str = INVALID_INPUT) -> ApplicationError:
    """A problem retrying cannot fix: bad payload, missing resource, bad configuration."""
    return ApplicationError(message, type=error_type, non_retryable=True)
