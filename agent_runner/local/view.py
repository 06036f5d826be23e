"""How an execution looks in a terminal.

`LiveView` redraws the whole execution in place (a terminal); `LineView`
prints one line per new message, tool-call state or subagent (logs, CI,
pipes). Both read nothing but the `AgentExecution` the daemon streams.
"""

from __future__ import annotations

import time
from typing import Protocol

from google.protobuf import json_format
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.text import Text

from agent_runner import wire
from agent_runner.local.terminal import clean, safe_text

ax = wire.agentexecution

PHASE_NAMES: dict[int, str] = {
    ax.EXECUTION_PENDING: "pending",
    ax.EXECUTION_IN_PROGRESS: "running",
    ax.EXECUTION_COMPLETED: "completed",
    ax.EXECUTION_FAILED: "failed",
    ax.EXECUTION_CANCELLED: "cancelled",
}
TOOL_MARKS: dict[int, tuple[str, str]] = {
    ax.TOOL_CALL_RUNNING: ("…", "yellow"),
    ax.TOOL_CALL_COMPLETED: ("✓", "green"),
    ax.TOOL_CALL_FAILED: ("✗", "red"),
}
TODO_MARKS: dict[int, str] = {
    ax.TODO_PENDING: "○",
    ax.TODO_IN_PROGRESS: "▶",
    ax.TODO_COMPLETED: "✓",
    ax.TODO_CANCELLED: "✗",
}
SUMMARY_CHARS = 100


def phase_name(phase: int) -> str:
    return PHASE_NAMES.get(phase, "unknown")


def one_line(text: str, limit: int = SUMMARY_CHARS) -> str:
    """`text` on one line of at most `limit` characters, safe for a terminal."""
    flat = clean(" ".join(text.split()))
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def ordered_todos(status: ax.AgentExecutionStatus) -> list[ax.TodoItem]:
    """The todos in the agent's own order, which the status map does not keep: the order
    of the latest `write_todos` call, then first seen first."""
    position: dict[str, int] = {}
    for call in status.tool_calls:
        if call.name == "write_todos":
            todos = json_format.MessageToDict(call.args).get("todos")
            if isinstance(todos, list):
                contents = [t.get("content") for t in todos if isinstance(t, dict)]
                position = {str(content): n for n, content in enumerate(contents)}
    return sorted(
        status.todos.values(),
        key=lambda item: (position.get(item.content, len(position)), item.created_at, item.id),
    )


def tool_summary(call: ax.ToolCall) -> str:
    """`execute: ls -la` — the argument that says most about the call."""
    args = dict(call.args.items())
    name = clean(call.name)
    for key in ("command", "file_path", "path", "pattern", "description"):
        if key in args:
            return f"{name}: {one_line(str(args[key]), 70)}"
    return name


LIVE_OUTPUT_LINES = 5
"""Lines of a running command's latest output the live view shows."""


class View(Protocol):
    def update(self, execution: ax.AgentExecution) -> None: ...

    def close(self) -> None: ...


class LineView:
    """Append-only lines: each message, tool-call state and subagent once; with `full`,
    each finished tool call's whole result too (`logs --full`)."""

    def __init__(self, console: Console, *, full: bool = False) -> None:
        self._console = console
        self._full = full
        self._seen: set[tuple[str, ...]] = set()

    def _once(self, key: tuple[str, ...], line: Text | str) -> None:
        if key not in self._seen:
            self._seen.add(key)
            self._console.print(line)

    def update(self, execution: ax.AgentExecution) -> None:
        """In the order things happened: each AI turn's text, then its tool calls."""
        status = execution.status
        calls = {call.id: call for call in status.tool_calls}
        subagents = {sub.id: sub for sub in status.sub_agent_executions}
        running = status.phase == ax.EXECUTION_IN_PROGRESS
        for index, message in enumerate(status.messages):
            last = index == len(status.messages) - 1
            if message.type == ax.MESSAGE_SYSTEM:
                self._once(("message", str(index)), safe_text(f"note: {message.content}", "yellow"))
            elif message.type != ax.MESSAGE_AI:
                continue
            elif message.content.strip() and not (last and running and not message.tool_calls):
                # The last turn's text may still be streaming: print it once it is whole.
                self._once(("message", str(index)), safe_text(f"ai: {message.content.strip()}"))
            for requested in message.tool_calls:
                self._tool(calls.get(requested.id, requested), subagents.get(requested.id))
        todos = "  ".join(
            f"{TODO_MARKS.get(t.status, '?')} {one_line(t.content)}" for t in ordered_todos(status)
        )
        if todos:
            self._once(("todos", todos), Text(f"  todo: {todos}", "cyan"))

    def _tool(self, call: ax.ToolCall, sub: ax.SubAgentExecution | None) -> None:
        mark, style = TOOL_MARKS.get(call.status, ("…", "yellow"))
        line = Text(f"  {mark} {tool_summary(call)}", style)
        if call.status == ax.TOOL_CALL_FAILED:
            line.append(f"  ({one_line(call.error)})")
        self._once(("tool", call.id, str(call.status)), line)
        if self._full and call.status != ax.TOOL_CALL_RUNNING and call.result:
            result = "\n".join(f"      {row}" for row in call.result.splitlines())
            self._once(("result", call.id), safe_text(result, "dim"))
        if sub is not None:
            name = one_line(sub.name)
            self._once(("sub", sub.id), Text(f"    ↳ subagent {name} started", "magenta"))
            if sub.output:
                answer = Text(f"    ↳ {name} answered: {one_line(sub.output)}", "magenta")
                self._once(("sub-done", sub.id), answer)

    def close(self) -> None:
        pass


class LiveView:
    """The whole execution, redrawn in place as it changes; the timer ticks in between."""

    def __init__(self, console: Console, agent: str) -> None:
        self._agent = agent
        self._started = time.monotonic()
        self._execution: ax.AgentExecution | None = None
        self._stopped: float | None = None
        """When the execution reached its final phase: the timer stops there."""
        self._live = Live(
            console=console,
            refresh_per_second=4,
            transient=False,
            get_renderable=self._current,
        )
        self._live.start()

    def update(self, execution: ax.AgentExecution) -> None:
        self._execution = execution
        self._live.refresh()

    def _current(self) -> RenderableType:
        if self._execution is None:
            elapsed = time.monotonic() - self._started
            return Text(f"{self._agent} · starting · {elapsed:.1f}s", "dim")
        return self._render(self._execution)

    def close(self) -> None:
        self._live.stop()

    def _render(self, execution: ax.AgentExecution) -> RenderableType:
        status = execution.status
        parts: list[RenderableType] = []
        if status.todos:
            todo = Text("todo  ", "bold cyan")
            for item in ordered_todos(status):
                todo.append(f"{TODO_MARKS.get(item.status, '?')} {item.content}   ")
            parts.append(todo)
        calls = {call.id: call for call in status.tool_calls}
        subagents = {sub.id: sub for sub in status.sub_agent_executions}
        for message in status.messages:
            if message.type == ax.MESSAGE_HUMAN:
                parts.append(safe_text(f"you  {message.content}", "bold"))
            elif message.type == ax.MESSAGE_SYSTEM:
                parts.append(safe_text(f"note {message.content}", "yellow"))
            else:
                if message.content.strip():
                    parts.append(safe_text(f"ai   {message.content.strip()}"))
                for requested in message.tool_calls:
                    call = calls.get(requested.id, requested)
                    parts.append(_tool_line(call))
                    if call.status == ax.TOOL_CALL_RUNNING and call.result:
                        parts.append(_latest_output(call.result))
                    sub = subagents.get(requested.id)
                    if sub is not None:
                        line = Text(
                            f"       ↳ {one_line(sub.name)}: {one_line(sub.input, 60)}", "magenta"
                        )
                        if sub.output:
                            line.append(f" → {one_line(sub.output, 60)}")
                        parts.append(line)
        if self._stopped is None and status.phase not in (
            ax.EXECUTION_PENDING,
            ax.EXECUTION_IN_PROGRESS,
        ):
            self._stopped = time.monotonic()
        elapsed = self._stopped or time.monotonic()
        title = Text(
            f"{self._agent} · {one_line(execution.metadata.id)} · {phase_name(status.phase)} · "
            f"{elapsed - self._started:.1f}s"
        )
        return Panel(Group(*parts), title=title, title_align="left")


def _tool_line(call: ax.ToolCall) -> Text:
    mark, style = TOOL_MARKS.get(call.status, ("…", "yellow"))
    line = Text(f"     {mark} {tool_summary(call)}", style)
    if call.status == ax.TOOL_CALL_FAILED and call.error:
        line.append(f"  {one_line(call.error, 60)}")
    elif call.result and call.name not in ("write_todos", "task"):
        # The todo row and the subagent line already say what these returned.
        line.append(f"  {one_line(call.result, 50)}", "dim")
    return line


def _latest_output(output: str) -> Text:
    """The last lines a running command printed, under its line, as they come."""
    rows = output.rstrip("\n").splitlines()[-LIVE_OUTPUT_LINES:]
    return safe_text("\n".join(f"       │ {row[:200]}" for row in rows), "dim")


def make_view(console: Console, agent: str) -> View:
    return LiveView(console, agent) if console.is_terminal else LineView(console)
