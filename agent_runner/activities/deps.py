"""What the activities share, built once per worker and passed in (no globals)."""

from __future__ import annotations

from dataclasses import dataclass, field

from langgraph.types import Checkpointer

from agent_runner.activities.thread_lock import InProcessThreadLocks, ThreadLocks
from agent_runner.backend import BackendClient
from agent_runner.config import Config
from agent_runner.observability import RunnerMetrics
from agent_runner.redaction import SecretRegistry
from agent_runner.redis_status import StatusStream
from agent_runner.sandboxes import SandboxManager


@dataclass(frozen=True)
class RunnerDeps:
    config: Config
    backend: BackendClient
    sandboxes: SandboxManager
    secrets: SecretRegistry
    checkpointer: Checkpointer
    metrics: RunnerMetrics
    status_stream: StatusStream | None = None
    """Redis, in cloud mode when REDIS_HOST is set."""
    thread_locks: ThreadLocks = field(default_factory=InProcessThreadLocks)
    """One execution per conversation thread at a time: leases in the checkpoint database."""
