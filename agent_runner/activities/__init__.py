"""The three activities of the contract, each bound to the worker's shared dependencies."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agent_runner.activities.cleanup_sandbox import CleanupSandbox
from agent_runner.activities.deps import RunnerDeps
from agent_runner.activities.ensure_thread import EnsureThread
from agent_runner.activities.execute_graphton import ExecuteGraphton


def runner_activities(deps: RunnerDeps) -> list[Callable[..., Any]]:
    """EnsureThread, ExecuteGraphton and CleanupSandbox, ready for a Temporal worker."""
    return [
        EnsureThread(deps).ensure_thread,
        ExecuteGraphton(deps).execute_graphton,
        CleanupSandbox(deps).cleanup_sandbox,
    ]


__all__ = ["CleanupSandbox", "EnsureThread", "ExecuteGraphton", "RunnerDeps", "runner_activities"]
