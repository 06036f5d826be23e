"""An `AgentExecution` as the page reads it: plain JSON, every string masked.

`summary` is one row of the executions list; `detail` is the whole execution:
the conversation in order, each tool call by id (exit code, kept outputs),
subagents with their own calls, the todo list in the agent's order, and a
timeline of steps. Nothing here renders HTML: the page puts every string into
the document as text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from google.protobuf import json_format, struct_pb2

from agent_runner import wire
from agent_runner.local.view import one_line, ordered_todos, phase_name

ax = wire.agentexecution

Json = dict[str, Any]
Mask = Callable[[str], str]

KEPT_OUTPUT = re.compile(r"/\.agent-runner/outputs/([0-9A-Za-z_-]{1,64}\.(?:stdout|stderr))\b")
"""Where the sandbox says it kept a command's whole output (graphton's `OUTPUT_FOLDER`)."""
_EXIT_LINE = re.compile(r"\[Command (?:succeeded|failed) with exit code (-?\d+)\]")
"""The line deepagents' `execute` tool ends its result with."""
_STATUS_CUT = "more characters not kept in the status]"

TOOL_STATES = {
    ax.TOOL_CALL_PENDING: "pending",
    ax.TOOL_CALL_RUNNING: "running",
    ax.TOOL_CALL_COMPLETED: "completed",
    ax.TOOL_CALL_FAILED: "failed",
}
SUBAGENT_STATES = {
    ax.SUB_AGENT_PENDING: "pending",
    ax.SUB_AGENT_IN_PROGRESS: "running",
    ax.SUB_AGENT_COMPLETED: "completed",
    ax.SUB_AGENT_FAILED: "failed",
}
TODO_STATES = {
    ax.TODO_PENDING: "pending",
    ax.TODO_IN_PROGRESS: "in progress",
    ax.TODO_COMPLETED: "completed",
    ax.TODO_CANCELLED: "cancelled",
}
MESSAGE_TYPES = {
    ax.MESSAGE_HUMAN: "human",
    ax.MESSAGE_AI: "ai",
    ax.MESSAGE_TOOL: "tool",
    ax.MESSAGE_SYSTEM: "system",
}


def model_of(execution: ax.AgentExecution, default_model: str) -> str:
    return execution.spec.execution_config.model_name or default_model


def summary(
    execution: ax.AgentExecution, default_model: str, mask: Mask, created: str = ""
) -> Json:
    """One row of the list: small, so that hundreds of rows stay cheap to send and draw.
    `created` is when the daemon stored it (the message itself does not say)."""
    status = execution.status
    return {
        "id": execution.metadata.id,
        "agent": mask(execution.spec.agent_id),
        "session": execution.spec.session_id,
        "phase": phase_name(status.phase),
        "started": status.started_at,
        "completed": status.completed_at,
        "created": created,
        "model": mask(model_of(execution, default_model)),
        "subject": mask(one_line(execution.spec.message, 120)),
    }


def detail(execution: ax.AgentExecution, default_model: str, mask: Mask, created: str = "") -> Json:
    status = execution.status
    calls = [_tool_call(call, mask) for call in status.tool_calls]
    by_id = {call["id"]: call for call in calls}
    messages = []
    for message in status.messages:
        requested = []
        for call in message.tool_calls:
            if call.id not in by_id:  # asked for, not started yet
                by_id[call.id] = _tool_call(call, mask)
                calls.append(by_id[call.id])
            requested.append(call.id)
        messages.append(
            {
                "type": MESSAGE_TYPES.get(message.type, "system"),
                "content": mask(message.content),
                "time": message.timestamp,
                "tool_calls": requested,
            }
        )
    subagents = [_subagent(sub, mask) for sub in status.sub_agent_executions]
    return {
        **summary(execution, default_model, mask, created),
        "message": mask(execution.spec.message),
        "error": mask(status.error),
        "messages": messages,
        "tool_calls": calls,
        "subagents": subagents,
        "todos": [
            {"id": t.id, "content": mask(t.content), "status": TODO_STATES.get(t.status, "")}
            for t in ordered_todos(status)
        ],
        "timeline": timeline(status, mask),
    }


def _tool_call(call: ax.ToolCall, mask: Mask) -> Json:
    result = mask(call.result)
    metadata = (
        _struct(call.component_metadata.metadata) if call.HasField("component_metadata") else {}
    )
    exit_code = metadata.get("exit_code")
    if exit_code is None:
        found = _EXIT_LINE.search(result)
        exit_code = int(found.group(1)) if found else None
    return {
        "id": call.id,
        "name": mask(call.name),
        "args": mask_json(_struct(call.args), mask),
        "result": result,
        "status": TOOL_STATES.get(call.status, "pending"),
        "started": call.started_at,
        "completed": call.completed_at,
        "error": mask(call.error),
        "exit_code": int(exit_code) if isinstance(exit_code, int | float) else None,
        "kept": kept_outputs(result),
        "cut": _STATUS_CUT in result,
    }


def _subagent(sub: ax.SubAgentExecution, mask: Mask) -> Json:
    metadata = _struct(sub.metadata) if sub.HasField("metadata") else {}
    calls = []
    for raw in metadata.get("calls") or []:
        if not isinstance(raw, Mapping):
            continue
        result = mask(str(raw.get("result", "")))
        exit_code = raw.get("exit_code")
        calls.append(
            {
                "id": str(raw.get("id", "")),
                "name": mask(str(raw.get("name", ""))),
                "args": mask_json(raw.get("args") or {}, mask),
                "result": result,
                "status": str(raw.get("status", "")),
                "started": str(raw.get("started_at", "")),
                "completed": str(raw.get("completed_at", "")),
                "error": mask(str(raw.get("error", ""))),
                "exit_code": int(exit_code) if isinstance(exit_code, int | float) else None,
                "kept": kept_outputs(result),
                "cut": _STATUS_CUT in result,
            }
        )
    count = metadata.get("tool_calls")
    return {
        "id": sub.id,
        "name": mask(sub.name),
        "input": mask(sub.input),
        "output": mask(sub.output),
        "status": SUBAGENT_STATES.get(sub.status, "pending"),
        "started": sub.started_at,
        "completed": sub.completed_at,
        "error": mask(sub.error),
        "tool_call_count": int(count) if isinstance(count, int | float) else len(calls),
        "calls": calls,
    }


def timeline(status: ax.AgentExecutionStatus, mask: Mask) -> list[Json]:
    """Every step with a start and (once it ended) an end: AI turns, tool calls, subagents.

    An AI turn has only its start in the status; it lasted until the next thing
    that happened (its first tool call, the next message, or the end of the run).
    """
    steps: list[Json] = []
    starts = sorted(
        [m.timestamp for m in status.messages if m.timestamp]
        + [c.started_at for c in status.tool_calls if c.started_at]
    )
    for message in status.messages:
        if message.type != ax.MESSAGE_AI or not message.timestamp:
            continue
        later = [t for t in starts if t > message.timestamp]
        end = later[0] if later else status.completed_at
        label = one_line(message.content, 60) if message.content.strip() else "model turn"
        steps.append({"kind": "ai", "label": mask(label), "start": message.timestamp, "end": end})
    for call in status.tool_calls:
        if call.started_at:
            steps.append(
                {
                    "kind": "tool",
                    "label": mask(call.name),
                    "start": call.started_at,
                    "end": call.completed_at,
                    "id": call.id,
                    "status": TOOL_STATES.get(call.status, "pending"),
                }
            )
    for sub in status.sub_agent_executions:
        if sub.started_at:
            steps.append(
                {
                    "kind": "subagent",
                    "label": mask(sub.name),
                    "start": sub.started_at,
                    "end": sub.completed_at,
                    "id": sub.id,
                    "status": SUBAGENT_STATES.get(sub.status, "pending"),
                }
            )
    steps.sort(key=lambda step: (step["start"], step["kind"] != "ai"))
    return steps


def kept_outputs(result: str) -> list[str]:
    """Names of the files under `/.agent-runner/outputs/` a result says hold its whole output."""
    return list(dict.fromkeys(KEPT_OUTPUT.findall(result)))


def seconds_between(start: str, end: str) -> float | None:
    try:
        first = datetime.fromisoformat(start.replace("Z", "+00:00"))
        last = datetime.fromisoformat(end.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (last - first).total_seconds()


def mask_json(value: Any, mask: Mask) -> Any:
    """Every string of a JSON value masked, keys included."""
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, Mapping):
        return {mask(str(key)): mask_json(item, mask) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [mask_json(item, mask) for item in value]
    return value


def _struct(struct: struct_pb2.Struct) -> Json:
    return json_format.MessageToDict(struct)
