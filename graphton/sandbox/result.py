"""`ExecutionResult`: what one sandbox command produced."""

from __future__ import annotations

import dataclasses
from typing import Any

from deepagents.backends.protocol import ExecuteResponse

TIMEOUT_EXIT_CODE = 124
"""Exit code of a command killed for running past its timeout (as coreutils' `timeout`)."""


@dataclasses.dataclass(kw_only=True, eq=True)
class ExecutionResult(ExecuteResponse):
    """The outcome of one command, which *is a* deepagents `ExecuteResponse`.

    Immutable after construction. `output` (what deepagents' `execute` tool shows
    the model) is derived from `stdout` and `stderr`; never pass it.

    Python refuses a frozen dataclass over deepagents' non-frozen one, so
    immutability is enforced by `__setattr__` instead of `frozen=True`.
    """

    exit_code: int = 0
    """The command's exit status; 124 when it was killed for its timeout."""
    stdout: str = ""
    """Standard output, at most the backend's byte limit (the head), UTF-8 with replacement."""
    stderr: str = ""
    """Standard error, bounded and decoded like `stdout`."""
    truncated: bool = False
    """Whether either stream went past the byte limit and its tail was dropped."""
    timed_out: bool = False
    """Whether the command was killed for running past its timeout."""
    duration_s: float = 0.0
    """Wall-clock time from start to exit, in seconds."""
    output: str = dataclasses.field(init=False, default="")
    """stdout then stderr, combined for the model; derived, never passed."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "output", combine_output(self.stdout, self.stderr))
        object.__setattr__(self, "_frozen", True)

    def __setattr__(self, name: str, value: Any) -> None:
        if getattr(self, "_frozen", False):
            raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")

    def __hash__(self) -> int:
        return hash((self.exit_code, self.stdout, self.stderr, self.truncated, self.timed_out))

    @property
    def ok(self) -> bool:
        """Whether the command exited 0."""
        return self.exit_code == 0


def combine_output(stdout: str, stderr: str) -> str:
    if not stderr:
        return stdout
    if not stdout:
        return stderr
    separator = "" if stdout.endswith("\n") else "\n"
    return f"{stdout}{separator}{stderr}"
