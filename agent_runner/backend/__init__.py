"""gRPC clients of the Stigmer backend (the local daemon in MODE=local)."""

from agent_runner.backend.channel import MAX_MESSAGE_BYTES
from agent_runner.backend.client import BackendClient
from agent_runner.backend.errors import (
    BackendAuthError,
    BackendError,
    BackendUnavailable,
    ResourceNotFound,
    StatusRefused,
)

__all__ = [
    "MAX_MESSAGE_BYTES",
    "BackendAuthError",
    "BackendClient",
    "BackendError",
    "BackendUnavailable",
    "ResourceNotFound",
    "StatusRefused",
]
