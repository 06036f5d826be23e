"""`create_sandbox_backend(config)`: a sandbox from a plain mapping."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from deepagents.backends.protocol import SandboxBackendProtocol

from graphton.errors import SandboxConfigError
from graphton.sandbox.local import DEFAULT_MAX_OUTPUT_BYTES, DEFAULT_TIMEOUT_S, FilesystemBackend

SANDBOX_TYPES = ("filesystem", "daytona")


def create_sandbox_backend(config: Mapping[str, Any]) -> SandboxBackendProtocol:
    """Build the sandbox `config` describes.

    - `{"type": "filesystem", "root_dir": ..., "env": {...}}`, optionally with
      `"timeout"` (seconds) and `"max_output_bytes"` (per stream)
    - `{"type": "daytona", "sandbox_id": ...}` to attach, or `{"type": "daytona",
      "snapshot_id": ...}` (or neither) to create; with `"api_key"` (required),
      `"api_url"`, `"target"`, `"env"`. The sandbox is reached on first use.
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
    if sandbox_type == "daytona":
        if not config.get("api_key"):
            raise SandboxConfigError(
                "sandbox config of type 'daytona' needs 'api_key' (the Daytona API key)"
            )
        # Imported here: the Daytona SDK is slow to import and only its users need it.
        from graphton.sandbox.daytona import DaytonaBackend

        return DaytonaBackend(
            api_key=str(config["api_key"]),
            api_url=config.get("api_url"),
            target=config.get("target"),
            sandbox_id=config.get("sandbox_id"),
            snapshot_id=config.get("snapshot_id"),
            env=config.get("env"),
            timeout=int(config.get("timeout", DEFAULT_TIMEOUT_S)),
        )
    raise SandboxConfigError(
        f"sandbox config has type {sandbox_type!r}; accepted types: {', '.join(SANDBOX_TYPES)}"
    )
