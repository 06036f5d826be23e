"""`create_sandbox_backend(config)`: a sandbox from a plain mapping."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphton.errors import SandboxConfigError
from graphton.sandbox.local import DEFAULT_MAX_OUTPUT_BYTES, DEFAULT_TIMEOUT_S, FilesystemBackend

SANDBOX_TYPES = ("filesystem", "daytona")


def create_sandbox_backend(config: Mapping[str, Any]) -> FilesystemBackend:
    """Build the sandbox `config` describes.

    - `{"type": "filesystem", "root_dir": ..., "env": {...}}`, optionally with
      `"timeout"` (seconds) and `"max_output_bytes"` (per stream)
    """
    sandbox_type = config.get("type")
    if sandbox_type == "filesystem":
        root_dir = config.get("root_dir")
        if not root_dir:
            raise SandboxConfigError(
                "sandbox config of type 'filesystem' needs 'root_dir' (the folder to work in)"
            )
        return FilesystemBackend(
            root_dir,
            env=config.get("env"),
            timeout=int(config.get("timeout", DEFAULT_TIMEOUT_S)),
            max_output_bytes=int(config.get("max_output_bytes", DEFAULT_MAX_OUTPUT_BYTES)),
        )
    raise SandboxConfigError(
        f"sandbox config has type {sandbox_type!r}; accepted types: {', '.join(SANDBOX_TYPES)}"
    )
