"""Sandboxes: where an agent's files live and its commands run."""

from graphton.sandbox.daytona import DaytonaBackend
from graphton.sandbox.factory import create_sandbox_backend
from graphton.sandbox.local import FilesystemBackend, InvalidSandboxPath
from graphton.sandbox.masking import BoundedFilter, StreamMasker
from graphton.sandbox.result import TIMEOUT_EXIT_CODE, ExecutionResult

__all__ = [
    "TIMEOUT_EXIT_CODE",
    "BoundedFilter",
    "DaytonaBackend",
    "ExecutionResult",
    "FilesystemBackend",
    "InvalidSandboxPath",
    "StreamMasker",
    "create_sandbox_backend",
]
