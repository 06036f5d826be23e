"""What can go wrong talking to the backend, as our own exceptions."""

from __future__ import annotations

import grpc

from agent_runner.errors import AgentRunnerError


class BackendError(AgentRunnerError):
    """A backend call failed; `code` is the gRPC status name."""

    retryable = False

    def __init__(self, message: str, code: str = "UNKNOWN") -> None:
        super().__init__(message)
        self.code = code


class ResourceNotFound(BackendError):
    """The backend has no resource of that kind with that id."""

    def __init__(self, kind: str, resource_id: str) -> None:
        super().__init__(f"{kind} {resource_id!r} was not found in the backend", "NOT_FOUND")
        self.kind = kind
        self.resource_id = resource_id


class BackendAuthError(BackendError):
    """The backend refused our credentials (check STIGMER_API_KEY)."""


class BackendUnavailable(BackendError):
    """The backend could not be reached or did not answer in time; worth retrying."""

    retryable = True


class StatusRefused(BackendError):
    """The backend refused a status update for good (the execution already ended, or a
    newer attempt replaced the sender): not an outage, never worth retrying."""


def translate_rpc_error(
    error: grpc.aio.AioRpcError, what: str, kind: str, key: str
) -> BackendError:
    """Map a failed call to our exception; `what` names the call in the message."""
    code = error.code()
    details = error.details() or ""
    if code == grpc.StatusCode.NOT_FOUND:
        return ResourceNotFound(kind, key)
    if code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
        return BackendAuthError(
            f"{what}: the backend refused the credentials ({details}); check STIGMER_API_KEY",
            code.name,
        )
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        return BackendUnavailable(
            f"{what}: backend unavailable ({code.name}: {details})", code.name
        )
    return BackendError(f"{what}: {code.name}: {details}", code.name)
