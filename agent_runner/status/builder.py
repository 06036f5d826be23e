"""`StatusBuilder`: graphton's agent events -> one `AgentExecutionStatus`.

What the status holds is CONTRACT.md's "What a good status holds": the user's
message, one AI message per turn, one tool call per call id with its state,
the todo list, one subagent execution per `task` call (its own tool calls kept
out of the parent's list), RFC 3339 UTC times. Every string of a snapshot
(names and argument keys too) passes the execution's redactor in one generic
pass; streamed text is masked on the accumulated message, holding back the end
that could still become a secret; and every text is capped so the status stays far below
Temporal's 2 MB payload limit whatever the agent does (`fit_to_budget`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any

from google.protobuf import struct_pb2

import graphton
from agent_runner import wire
from agent_runner.clock import utc_now
from agent_runner.redaction import redact_message
from agent_runner.status.closing import close_open, name_subagent

ax = wire.agentexecution

TOOL_RESULT_LIMIT = 16 * 1024
"""Characters of one tool result kept in the status; the rest is cut, and said so."""
TEXT_LIMIT = 64 * 1024
"""Characters of one message, argument value or subagent output kept in the status."""
KEPT_OUTPUTS = "/.agent-runner/outputs/"
"""Where the sandbox keeps a command's whole output (and the runner a cut result)."""
SUBAGENT_CALL_RESULT_LIMIT = 2 * 1024
"""Characters of the result of a subagent's own tool call kept in the status."""
STATUS_BUDGET_BYTES = 1024 * 1024
"""The returned and pushed status is kept under this size (Temporal refuses 2 MB)."""

TODO_STATUS = {
    "pending": ax.TODO_PENDING,
    "in_progress": ax.TODO_IN_PROGRESS,
    "completed": ax.TODO_COMPLETED,
    "cancelled": ax.TODO_CANCELLED,
}


def cap(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}\n[... cut: {len(text) - limit} more characters not kept in the status]"


class StatusBuilder:
    """Applies events in order; `status` is the current whole status."""

    def __init__(
        self,
        redact: Callable[[str], str],
        clock: Callable[[], str] = utc_now,
        hold_back: Callable[[str], int] = lambda text: 0,
        secret_in: Callable[[bytes], bool] = lambda data: True,
    ) -> None:
        """`hold_back(text)`: how many characters at the end of `text` could be the start
        of a secret (`Redactor.unfinished_tail`); they wait for the next delta.
        `secret_in(serialized)`: whether a snapshot needs the redaction pass at all
        (`Redactor.found_in`; by default it always gets it)."""
        self.status = ax.AgentExecutionStatus()
        self._redact = redact
        self._hold_back = hold_back
        self._secret_in = secret_in
        self._clock = clock
        self._open_ai_message: ax.AgentMessage | None = None
        self._held_text = ""
        self._tool_calls: dict[str, ax.ToolCall] = {}
        self.keep_whole_result: Callable[[str, str], str | None] | None = None
        """(call id, whole masked result) -> where it was kept, for a result the status
        cuts (see `kept_results`); None keeps nothing."""
        self._live_output: dict[str, tuple[str, int]] = {}
        """Running commands' latest output and how many characters came before it,
        by tool call id, until their result."""
        self._subagents: dict[str, ax.SubAgentExecution] = {}
        self._answer_shown = False
        """Whether any of the agent's own text is in the status yet."""

    def _text(self, text: str, limit: int = TEXT_LIMIT) -> str:
        return cap(self._redact(text), limit)

    # -- lifecycle ---------------------------------------------------------------

    def start(self, message: str) -> None:
        now = self._clock()
        self.status.phase = ax.EXECUTION_IN_PROGRESS
        self.status.started_at = now
        self.status.messages.add(type=ax.MESSAGE_HUMAN, content=self._text(message), timestamp=now)

    def complete(self) -> None:
        self._end(ax.EXECUTION_COMPLETED)

    def fail(self, error: str) -> None:
        self.status.error = self._text(error)
        self._end(ax.EXECUTION_FAILED)

    def cancel(self) -> None:
        self._end(ax.EXECUTION_CANCELLED)

    def _end(self, phase: int) -> None:
        """A final phase closes every tool call and subagent still open (see closing.py)."""
        now = self._clock()
        close_open(self.status, phase, now)
        self.status.phase = phase  # type: ignore[assignment]
        self.status.completed_at = now

    # -- events ------------------------------------------------------------------

    def apply(self, event: graphton.AgentEvent) -> bool:
        """Apply one event; True when the change is one a watcher is waiting for: the
        first of the agent's words to reach the status (its time to first token).
        Later words ride the reporter's staleness budget with the rest of the burst."""
        if event.subagent is not None:
            self._apply_subagent_event(event)
            return False
        match event:
            case graphton.AITextDelta():
                masked = self._redact(self._held_text + event.text)
                ready = len(masked) - self._hold_back(masked)
                self._held_text = masked[ready:]
                message = self._ai_message()
                message.content = cap(message.content + masked[:ready], TEXT_LIMIT)
                return self._shows_first_words(message)
            case graphton.AIMessageCompleted():
                self._held_text = ""
                message = self._ai_message()
                message.content = self._text(event.text)
                for call in event.tool_calls:
                    message.tool_calls.add(
                        id=call["id"], name=call["name"], args=self._struct(call["args"])
                    )
                self._open_ai_message = None
                return self._shows_first_words(message)
            case graphton.ToolStarted():
                self._tool_started(event)
            case graphton.ToolFinished():
                self._tool_finished(event)
            case graphton.TodosUpdated():
                self._todos(event.todos)
            case graphton.SubagentStarted():
                self._subagent_started(event)
            case graphton.SubagentFinished():
                self._subagent_finished(event.call_id, event.output, event.error)
        return False

    def _shows_first_words(self, message: ax.AgentMessage) -> bool:
        if self._answer_shown or not message.content:
            return False
        self._answer_shown = True
        return True

    def _subagent_started(self, event: graphton.SubagentStarted) -> None:
        sub = self._subagents.get(event.call_id)
        if sub is None:  # a resumed run restarts a subagent it already reported: one entry
            sub = self._subagents[event.call_id] = self.status.sub_agent_executions.add(
                id=event.call_id, started_at=self._clock()
            )
        sub.status = ax.SUB_AGENT_IN_PROGRESS
        sub.name = sub.name or event.subagent_type
        sub.input = sub.input or self._text(event.description)
        # A run resumed inside the subagent streams its start without the `task` call
        # that named it (that call is in the replayed past): take the names from there.
        name_subagent(self.status, sub)

    def _ai_message(self) -> ax.AgentMessage:
        if self._open_ai_message is None:
            self._open_ai_message = self.status.messages.add(
                type=ax.MESSAGE_AI, timestamp=self._clock()
            )
        return self._open_ai_message

    def _tool_started(self, event: graphton.ToolStarted) -> None:
        if event.call_id in self._tool_calls:
            return  # the same call reported twice (a resumed run): keep the first
        self._tool_calls[event.call_id] = self.status.tool_calls.add(
            id=event.call_id,
            name=event.name,
            args=self._struct(event.args),
            status=ax.TOOL_CALL_RUNNING,
            started_at=self._clock(),
        )

    def command_output(self, call_id: str, text: str) -> bool:
        """A running call's command printed `text` (masked by the sandbox): its result
        shows the latest output until the real result replaces it. False when the call
        is not (or no longer) running, so nothing changed."""
        call = self._tool_calls.get(call_id)
        if call is None or call.status != ax.TOOL_CALL_RUNNING:
            return False
        kept, earlier = self._live_output.get(call_id, ("", 0))
        kept += text
        if len(kept) > TOOL_RESULT_LIMIT:
            earlier += len(kept) - TOOL_RESULT_LIMIT
            kept = kept[-TOOL_RESULT_LIMIT:]
        self._live_output[call_id] = (kept, earlier)
        shown = self._redact(kept)
        if earlier:
            shown = f"[... {earlier} earlier characters not kept in the status]\n{shown}"
        call.result = shown
        return True

    def _tool_finished(self, event: graphton.ToolFinished) -> None:
        self._live_output.pop(event.call_id, None)
        call = self._tool_calls.get(event.call_id)
        if call is None:
            self._tool_started(graphton.ToolStarted(call_id=event.call_id, name=event.name))
            call = self._tool_calls[event.call_id]
        call.result = self._tool_result(event.call_id, event.result)
        call.status = ax.TOOL_CALL_FAILED if event.failed else ax.TOOL_CALL_COMPLETED
        call.error = self._text(event.error or "")
        call.completed_at = self._clock()
        if event.exit_code is not None:
            call.component_metadata.metadata.update({"exit_code": event.exit_code})
        sub = self._subagents.get(event.call_id)
        if sub is not None and sub.status == ax.SUB_AGENT_IN_PROGRESS:
            # The `task` call's result ends its subagent, whether or not the stream
            # also reported the subagent's end (a resumed one does not).
            self._subagent_finished(event.call_id, event.result, event.error)

    def _tool_result(self, call_id: str, result: str) -> str:
        """The result as the status keeps it: cut past the limit, naming where it is
        kept whole unless what is shown already names the sandbox's own copy."""
        text = self._redact(result)
        shown = cap(text, TOOL_RESULT_LIMIT)
        if shown == text or self.keep_whole_result is None or KEPT_OUTPUTS in shown:
            return shown
        where = self.keep_whole_result(call_id, text)
        return f"{shown}\n[the whole result is in {where}]" if where else shown

    def _subagent_finished(self, call_id: str, output: str, error: str | None) -> None:
        sub = self._subagents.get(call_id)
        if sub is not None:
            sub.output = self._text(output)
            sub.status = ax.SUB_AGENT_FAILED if error else ax.SUB_AGENT_COMPLETED
            sub.error = self._text(error or "")
            sub.completed_at = self._clock()
            name_subagent(self.status, sub)

    def _apply_subagent_event(self, event: graphton.AgentEvent) -> None:
        """A subagent's own work stays out of the parent's lists: its calls are kept, short,
        in its own `metadata` (`tool_calls`: how many, `calls`: each call)."""
        sub = self._subagents.get(event.subagent or "")
        if sub is not None and isinstance(event, graphton.ToolStarted):
            count = (
                sub.metadata.fields["tool_calls"].number_value if sub.HasField("metadata") else 0
            )
            sub.metadata.update({"tool_calls": count + 1})
            self._subagent_call(sub, event.call_id).update(
                {
                    "name": self._text(event.name),
                    "args": self._json_value(dict(event.args)),
                    "status": "running",
                    "started_at": self._clock(),
                }
            )
        elif sub is not None and isinstance(event, graphton.ToolFinished):
            entry = self._subagent_call(sub, event.call_id)
            entry.update(
                {
                    "name": self._text(event.name),
                    "result": self._text(event.result, SUBAGENT_CALL_RESULT_LIMIT),
                    "status": "failed" if event.failed else "completed",
                    "error": self._text(event.error or ""),
                    "completed_at": self._clock(),
                }
            )
            if event.exit_code is not None:
                entry.update({"exit_code": event.exit_code})

    @staticmethod
    def _subagent_call(sub: ax.SubAgentExecution, call_id: str) -> struct_pb2.Struct:
        calls = sub.metadata.fields["calls"].list_value
        for value in calls.values:
            if value.struct_value.fields["id"].string_value == call_id:
                return value.struct_value
        entry = calls.values.add().struct_value
        entry.update({"id": call_id})
        return entry

    def _todos(self, todos: tuple[graphton.Todo, ...]) -> None:
        now = self._clock()
        previous = {
            key: (item.status, item.created_at, item.updated_at)
            for key, item in self.status.todos.items()
        }
        self.status.todos.clear()
        seen: dict[str, int] = {}
        for todo in todos:
            key = _todo_id(todo.content, seen)
            state = TODO_STATUS.get(todo.status, ax.TODO_STATUS_UNSPECIFIED)
            old_state, created, updated = previous.get(key, (None, now, now))
            item = self.status.todos[key]
            item.id, item.content, item.status = key, self._text(todo.content), state
            item.created_at = created
            item.updated_at = updated if old_state == state else now

    def _struct(self, values: Mapping[str, Any]) -> struct_pb2.Struct:
        struct = struct_pb2.Struct()
        struct.update({key: self._json_value(value) for key, value in values.items()})
        return struct

    def _json_value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self._text(value)
        if isinstance(value, Mapping):
            return {str(k): self._json_value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._json_value(v) for v in value]
        if value is None or isinstance(value, bool | int | float):
            return value
        return self._text(str(value))

    def snapshot(self) -> ax.AgentExecutionStatus:
        """A copy of the status that fits the payload budget."""
        copy = ax.AgentExecutionStatus()
        copy.CopyFrom(self.status)
        if self._secret_in(copy.SerializeToString()):  # cheap, and rarely true
            redact_message(copy, self._redact)
        fit_to_budget(copy)
        return copy


def _todo_id(content: str, seen: dict[str, int]) -> str:
    """Stable across updates: the same text keeps its id; repeated texts get a suffix."""
    digest = hashlib.sha256(content.strip().encode()).hexdigest()[:12]
    seen[digest] = seen.get(digest, 0) + 1
    return f"todo-{digest}" if seen[digest] == 1 else f"todo-{digest}-{seen[digest]}"


def fit_to_budget(status: ax.AgentExecutionStatus, budget: int = STATUS_BUDGET_BYTES) -> None:
    """Shrink the oldest bulky fields, then drop the oldest entries, until the status
    serializes under `budget` bytes. Linear in the size of the status."""
    size = status.ByteSize()
    if size <= budget:
        return
    target = budget - _SIZE_MARGIN
    for call in status.tool_calls:
        before = call.ByteSize()
        call.result = cap(call.result, _SHORT)
        if call.args.fields:
            call.args.Clear()
            call.args.update({"note": "arguments cut to fit the status size limit"})
        size -= before - call.ByteSize()
        if size <= target:
            return
    for message in status.messages:
        before = message.ByteSize()
        message.content = cap(message.content, _SHORT)
        for call in message.tool_calls:
            call.args.Clear()
        size -= before - message.ByteSize()
        if size <= target:
            return
    for sub in status.sub_agent_executions:
        before = sub.ByteSize()
        sub.input, sub.output = cap(sub.input, _SHORT), cap(sub.output, _SHORT)
        if "calls" in sub.metadata.fields:
            del sub.metadata.fields["calls"]
        size -= before - sub.ByteSize()
    # Still too big: thousands of entries. Keep the newest ones (and the user's message).
    size -= _drop_oldest(status.tool_calls, size - target, keep_first=False)
    _drop_oldest(status.messages, size - target, keep_first=True)


_SHORT = 512
_SIZE_MARGIN = 4096
"""Headroom for the few bytes of length prefixes the running size estimate ignores."""


def _drop_oldest(entries: Any, excess: int, *, keep_first: bool) -> int:
    """Delete the oldest entries whose sizes add up to `excess`; returns the bytes freed."""
    start = 1 if keep_first else 0
    end, freed = start, 0
    while freed < excess and end < len(entries) - 1:
        freed += entries[end].ByteSize() + 4  # tag and length prefix
        end += 1
    del entries[start:end]
    return freed
