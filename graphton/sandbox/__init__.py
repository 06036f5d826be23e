"""Sandboxes: where an agent's files live and its commands run."""

from graphton.sandbox.daytona import DaytonaBackend
from graphton.sandbox.factory import create_sandbox_backend
from graphton.sandbox.local import FilesystemBackend
from graphton.sandbox.result import TIMEOUT_EXIT_CODE, ExecutionResult

__all__ = [
    "TIMEOUT_EXIT_CODE",
    "DaytonaBackend",
    "ExecutionResult",
    "FilesystemBackend",
    "create_sandbox_backend",
]
