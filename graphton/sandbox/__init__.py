"""Sandboxes: where an agent's files live and its commands run.

`DaytonaBackend` is imported on first use: the Daytona SDK is most of this
package's import time, and users of the local sandbox never need it.
"""

from typing import TYPE_CHECKING

from graphton.sandbox.factory import create_sandbox_backend
from graphton.sandbox.local import FilesystemBackend, InvalidSandboxPath
from graphton.sandbox.masking import BoundedFilter, StreamMasker
from graphton.sandbox.result import TIMEOUT_EXIT_CODE, ExecutionResult

if TYPE_CHECKING:
    from graphton.sandbox.daytona import DaytonaBackend

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


def __getattr__(name: str) -> object:
    if name == "DaytonaBackend":
        from graphton.sandbox.daytona import DaytonaBackend

        return DaytonaBackend
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
