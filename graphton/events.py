"""A deep agent's LangGraph stream, as typed events.

`stream_events(graph, input, config)` runs the graph and yields what happened,
in order: text as it streams, each completed AI message, each tool call's start
and finish, todo-list changes, and each subagent's start and finish. Every
event carries `subagent`: `None` for the main agent, or the call id of the
`task` tool call whose subagent produced it, so a consumer can keep a
subagent's work apart from its parent's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain.agents.middleware import AgentMiddleware
from langchain.agents.middleware.types import ToolCallRequest
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.config import get_stream_writer
from langgraph.pregel import Pregel
from langgraph.types import Command, Durability

from graphton.text_deltas import TEXT_DELTA, with_text_deltas

SUBAGENT_TOOL = "task"
EXECUTE_TOOL = "execute"
_TASK_STARTED = "graphton.task_started"


@dataclass(frozen=True, kw_only=True)
class AgentEvent:
    subagent: str | None = None
    """Call id of the `task` call whose subagent produced this event; None for the main agent."""


@dataclass(frozen=True, kw_only=True)
class AITextDelta(AgentEvent):
    text: str
    """A piece of the AI message being streamed."""
    message_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class AIMessageCompleted(AgentEvent):
    text: str
    """The whole text of the AI turn (may be empty when the turn only calls tools)."""
    tool_calls: tuple[Mapping[str, Any], ...] = ()
    """The turn's tool calls: `{"id", "name", "args"}` each."""
    message_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class ToolStarted(AgentEvent):
    call_id: str
    name: str
    args: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class ToolFinished(AgentEvent):
    call_id: str
    name: str
    result: str
    """The tool's result as the model reads it."""
    exit_code: int | None = None
    """The command's exit code when the tool is `execute`."""
    error: str | None = None
    """Why the call failed: the tool's error, or a non-zero exit code."""

    @property
    def failed(self) -> bool:
        return self.error is not None


@dataclass(frozen=True)
class Todo:
    content: str
    status: str
    """pending | in_progress | completed (as the todo tool writes them)."""


@dataclass(frozen=True, kw_only=True)
class TodosUpdated(AgentEvent):
    todos: tuple[Todo, ...]
    """The whole list after the change, in order."""


@dataclass(frozen=True, kw_only=True)
class SubagentStarted(AgentEvent):
    call_id: str
    """The `task` tool call that started the subagent."""
    subagent_type: str
    description: str
    """What the parent asked of the subagent."""
    namespace: tuple[str, ...] = ()
    """LangGraph namespace of the subagent's graph."""


@dataclass(frozen=True, kw_only=True)
class SubagentFinished(AgentEvent):
    call_id: str
    subagent_type: str
    output: str
    error: str | None = None
    namespace: tuple[str, ...] = ()


class TaskNamespaceReporter(AgentMiddleware[Any, Any, Any]):
    """Reports which LangGraph namespace each `task` call's subagent will stream under.

    The subagent's events arrive under the namespace of the tools-node task that
    runs the call; only the call itself knows that task's name, so it writes it
    to the custom stream before the subagent starts.
    """

    async def awrap_tool_call(self, request: ToolCallRequest, handler: Any) -> Any:
        self._report(request)
        return await handler(request)

    def wrap_tool_call(self, request: ToolCallRequest, handler: Any) -> Any:
        self._report(request)
        return handler(request)

    @staticmethod
    def _report(request: ToolCallRequest) -> None:
        if request.tool_call["name"] != SUBAGENT_TOOL:
            return
        config = request.runtime.config if request.runtime is not None else {}
        task_ns = (config.get("metadata") or {}).get("langgraph_checkpoint_ns")
        if task_ns:
            get_stream_writer()({_TASK_STARTED: request.tool_call["id"], "task_ns": task_ns})


class _Translator:
    """Turns (namespace, mode, data) stream parts into events; holds the little state needed."""

    def __init__(self) -> None:
        self.tool_names: dict[str, str] = {}
        self.pending_tasks: dict[str, Mapping[str, Any]] = {}
        self.subagent_by_ns: dict[str, str] = {}
        self.subagent_type: dict[str, str] = {}
        self.subagent_ns: dict[str, str] = {}

    def owner(self, namespace: tuple[str, ...]) -> str | None:
        """Call id of the subagent a namespace belongs to (its outermost segment decides)."""
        return self.subagent_by_ns.get(namespace[0]) if namespace else None

    def translate(self, namespace: tuple[str, ...], mode: str, data: Any) -> list[AgentEvent]:
        subagent = self.owner(namespace)
        if mode == "custom":
            return self._custom(data, subagent)
        if mode == "updates" and isinstance(data, Mapping):
            events: list[AgentEvent] = []
            for node, update in data.items():
                events += self._update(node, update, subagent, namespace)
            return events
        return []

    def _custom(self, data: Any, subagent: str | None) -> list[AgentEvent]:
        if not isinstance(data, Mapping):
            return []
        if TEXT_DELTA in data:
            text = str(data[TEXT_DELTA])
            message_id = data.get("message_id")
            return [AITextDelta(text=text, message_id=message_id, subagent=subagent)]
        if _TASK_STARTED not in data:
            return []
        call_id, task_ns = str(data[_TASK_STARTED]), str(data["task_ns"])
        args = self.pending_tasks.get(call_id, {})
        self.subagent_by_ns[task_ns] = call_id
        subagent_type = str(args.get("subagent_type", ""))
        self.subagent_type[call_id] = subagent_type
        self.subagent_ns[call_id] = task_ns
        return [
            SubagentStarted(
                call_id=call_id,
                subagent_type=subagent_type,
                description=str(args.get("description", "")),
                namespace=(task_ns,),
            )
        ]

    def _update(
        self, node: str, update: Any, subagent: str | None, namespace: tuple[str, ...]
    ) -> list[AgentEvent]:
        if isinstance(update, Command):
            update = update.update
        if not isinstance(update, Mapping):
            return []
        events: list[AgentEvent] = []
        if node == "model":
            for message in _messages(update):
                if isinstance(message, AIMessage):
                    events += self._ai_message(message, subagent)
        elif node == "tools":
            for message in _messages(update):
                if isinstance(message, ToolMessage):
                    events += self._tool_message(message, subagent)
        if "todos" in update and update["todos"] is not None:
            events.append(TodosUpdated(todos=_todos(update["todos"]), subagent=subagent))
        return events

    def _ai_message(self, message: AIMessage, subagent: str | None) -> list[AgentEvent]:
        calls: tuple[dict[str, Any], ...] = tuple(
            {"id": c["id"] or "", "name": c["name"], "args": dict(c["args"])}
            for c in message.tool_calls
        )
        events: list[AgentEvent] = [
            AIMessageCompleted(
                text=str(message.text), tool_calls=calls, message_id=message.id, subagent=subagent
            )
        ]
        for call in calls:
            self.tool_names[call["id"]] = call["name"]
            if call["name"] == SUBAGENT_TOOL and subagent is None:
                self.pending_tasks[call["id"]] = call["args"]
            events.append(
                ToolStarted(
                    call_id=call["id"], name=call["name"], args=call["args"], subagent=subagent
                )
            )
        return events

    def _tool_message(self, message: ToolMessage, subagent: str | None) -> list[AgentEvent]:
        call_id = message.tool_call_id
        name = message.name or self.tool_names.get(call_id, "")
        result = str(message.text)
        exit_code = None
        if isinstance(message.artifact, Mapping) and "exit_code" in message.artifact:
            exit_code = int(message.artifact["exit_code"])
        error: str | None = None
        if message.status == "error":
            error = result
        elif exit_code not in (None, 0):
            error = f"command exited with code {exit_code}"
        events: list[AgentEvent] = [
            ToolFinished(
                call_id=call_id,
                name=name,
                result=result,
                exit_code=exit_code,
                error=error,
                subagent=subagent,
            )
        ]
        if name == SUBAGENT_TOOL and call_id in self.pending_tasks:
            self.pending_tasks.pop(call_id)
            events.append(
                SubagentFinished(
                    call_id=call_id,
                    subagent_type=self.subagent_type.get(call_id, ""),
                    output=result,
                    error=error,
                    subagent=subagent,
                    namespace=(self.subagent_ns[call_id],) if call_id in self.subagent_ns else (),
                )
            )
        return events


def _messages(update: Mapping[str, Any]) -> Sequence[BaseMessage]:
    messages = update.get("messages") or []
    return messages if isinstance(messages, Sequence) else []


def _todos(raw: Any) -> tuple[Todo, ...]:
    todos = []
    for item in raw or []:
        if isinstance(item, Mapping):
            todos.append(
                Todo(content=str(item.get("content", "")), status=str(item.get("status", "")))
            )
    return tuple(todos)


def events_from_messages(messages: Sequence[BaseMessage]) -> list[AgentEvent]:
    """The events a finished stretch of conversation amounts to (a resumed run's past):
    each AI message and its tool calls, each tool result. Subagents' inner work is
    not in the conversation, so it is not replayed."""
    translator = _Translator()
    events: list[AgentEvent] = []
    for message in messages:
        if isinstance(message, AIMessage):
            events += translator._ai_message(message, None)
        elif isinstance(message, ToolMessage):
            events += translator._tool_message(message, None)
    return events


async def stream_events(
    graph: Pregel[Any, Any, Any, Any],
    input: Any,
    config: RunnableConfig | None = None,
    *,
    durability: Durability = "sync",
) -> AsyncIterator[AgentEvent]:
    """Run `graph` on `input` and yield its typed events, subagents included.

    `durability` is LangGraph's checkpoint mode. The default, "sync", stores each
    step's checkpoint before the next step starts: when the process dies, a resume
    repeats at most the step it interrupted. LangGraph's own default ("async")
    stores it while the next step runs, so a crash can lose steps that already
    finished, and their tool calls (commands with side effects) would run twice.
    """
    translator = _Translator()
    async for namespace, mode, data in graph.astream(
        input,
        # The model's text comes through the custom stream (see graphton.text_deltas):
        # LangGraph's "messages" mode costs each step a walk of the whole conversation.
        with_text_deltas(config),
        stream_mode=["updates", "custom"],
        subgraphs=True,
        # without a checkpointer there is nothing to store (and LangGraph rejects "sync")
        durability=durability if isinstance(graph.checkpointer, BaseCheckpointSaver) else None,
    ):
        for event in translator.translate(tuple(namespace), mode, data):
            yield event


__all__ = [
    "AIMessageCompleted",
    "AITextDelta",
    "AgentEvent",
    "SubagentFinished",
    "SubagentStarted",
    "TaskNamespaceReporter",
    "Todo",
    "TodosUpdated",
    "ToolFinished",
    "ToolStarted",
    "events_from_messages",
    "stream_events",
]
