"""The live view shows the latest lines a running command printed, under its call."""

from __future__ import annotations

import io

from rich.console import Console

from agent_runner import wire
from agent_runner.local.view import LIVE_OUTPUT_LINES, LiveView

ax = wire.agentexecution


def rendered(execution: ax.AgentExecution) -> str:
    console = Console(file=io.StringIO(), force_terminal=True, width=120)
    view = LiveView(console, "demo")
    try:
        out = Console(file=io.StringIO(), width=120, color_system=None)
        out.print(view._render(execution))
        assert isinstance(out.file, io.StringIO)
        return out.file.getvalue()
    finally:
        view.close()


def execution_with(call: ax.ToolCall) -> ax.AgentExecution:
    execution = ax.AgentExecution()
    execution.metadata.id = "aex-1"
    execution.status.phase = ax.EXECUTION_IN_PROGRESS
    message = execution.status.messages.add(type=ax.MESSAGE_AI)
    message.tool_calls.add(id=call.id, name=call.name)
    execution.status.tool_calls.append(call)
    return execution


def test_a_running_command_shows_its_latest_lines_escaped() -> None:
    output = "".join(f"step {n}\n" for n in range(20)) + "colour \x1b[31mred\x1b[0m\n"
    call = ax.ToolCall(id="c1", name="execute", status=ax.TOOL_CALL_RUNNING, result=output)
    text = rendered(execution_with(call))
    assert "│ colour" in text and "\x1b[31m" not in text
    assert "│ step 19" in text
    assert f"│ step {20 - LIVE_OUTPUT_LINES}" not in text  # only the latest lines


def test_a_finished_command_shows_its_one_line_summary_only() -> None:
    call = ax.ToolCall(
        id="c1", name="execute", status=ax.TOOL_CALL_COMPLETED, result="first\nsecond\n"
    )
    text = rendered(execution_with(call))
    assert "│ first" not in text and "│ second" not in text
    assert "first" in text  # the call's one-line summary
