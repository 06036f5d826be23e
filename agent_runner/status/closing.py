"""A final status leaves nothing open: every tool call and subagent has ended, and has a name.

Whoever writes a final phase (the runner's own StatusBuilder, or the
orchestrating workflow recording a failure the runner could not report) closes
what the status still shows as running, saying which phase ended it, and names
each subagent from the `task` call that started it when the stream could not.
"""

from __future__ import annotations

from agent_runner import wire

ax = wire.agentexecution

SUBAGENT_TOOL = "task"

_OPEN_CALLS = (ax.TOOL_CALL_PENDING, ax.TOOL_CALL_RUNNING)
_OPEN_SUBAGENTS = (ax.SUB_AGENT_PENDING, ax.SUB_AGENT_IN_PROGRESS)


def ended_by(phase: int, reason: str = "") -> str:
    """The error of an entry that a final phase closed: which phase, and why when known."""
    name = ax.ExecutionPhase.Name(phase).removeprefix("EXECUTION_")
    text = f"the execution ended ({name}) before this finished"
    return f"{text}: {reason}" if reason else text


def name_subagent(status: ax.AgentExecutionStatus, sub: ax.SubAgentExecution) -> None:
    """Fill a subagent's missing name and input from the `task` call that started it."""
    if sub.name and sub.input:
        return
    for call in status.tool_calls:
        if call.id == sub.id and call.name == SUBAGENT_TOOL:
            fields = call.args.fields
            if not sub.name and "subagent_type" in fields:
                sub.name = fields["subagent_type"].string_value
            if not sub.input and "description" in fields:
                sub.input = fields["description"].string_value
            return


def close_open(status: ax.AgentExecutionStatus, phase: int, now: str, reason: str = "") -> None:
    """End every tool call and subagent still open in `status` as FAILED, naming `phase`."""
    error = ended_by(phase, reason)
    for call in status.tool_calls:
        if call.status in _OPEN_CALLS:
            call.status, call.error, call.completed_at = ax.TOOL_CALL_FAILED, error, now
    for sub in status.sub_agent_executions:
        name_subagent(status, sub)
        if sub.status in _OPEN_SUBAGENTS:
            sub.status, sub.error, sub.completed_at = ax.SUB_AGENT_FAILED, error, now
        _close_subagent_calls(sub, error, now)


def _close_subagent_calls(sub: ax.SubAgentExecution, error: str, now: str) -> None:
    """A subagent's own calls, kept in its `metadata["calls"]` (see StatusBuilder)."""
    if "calls" not in sub.metadata.fields:
        return
    for value in sub.metadata.fields["calls"].list_value.values:
        entry = value.struct_value
        if "status" in entry.fields and entry.fields["status"].string_value == "running":
            entry.update({"status": "failed", "error": error, "completed_at": now})
