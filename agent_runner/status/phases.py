"""Execution phases after which nothing more happens."""

from __future__ import annotations

from agent_runner import wire

FINAL_PHASES = frozenset(
    {
        wire.agentexecution.EXECUTION_COMPLETED,
        wire.agentexecution.EXECUTION_FAILED,
        wire.agentexecution.EXECUTION_CANCELLED,
    }
)
