"""graphton's errors: each says what is wrong and what to do."""

from __future__ import annotations


class GraphtonError(Exception):
    """Base of every error graphton raises on purpose."""


class SandboxError(GraphtonError):
    """A sandbox could not be created, reached or used."""


class SandboxConfigError(SandboxError, ValueError):
    """A sandbox configuration names an unknown type or lacks a required key."""


class SandboxPathError(PermissionError):
    """A file path would leave the sandbox root.

    A `PermissionError` (so an `OSError`) on purpose: deepagents' file operations
    turn it into an error result the agent reads, instead of a crash.
    """


class ModelConfigError(GraphtonError, ValueError):
    """A model spec names an unknown provider or lacks what the provider needs."""


class ScriptError(GraphtonError):
    """A scripted model's script is malformed, ran out, or a turn's expectation failed."""
