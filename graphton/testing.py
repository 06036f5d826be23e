"""`ScriptedChatModel`: an offline, deterministic chat model for tests, demos and skill scenarios.

It is a real LangChain chat model: it binds tools, streams text and tool-call
chunks the way a provider does, and is driven by LangGraph like any other.
Instead of asking a provider, it plays a script of turns. A script is YAML:

```yaml
turns:
  - text: "I'll write the report."
    tool_calls:
      - name: write_file
        args: {file_path: /report.md, content: "# Report"}
  - expect:
      contains: "Updated file /report.md"   # checked against the messages since the last turn
      history_contains: "the user's name"   # checked against the whole conversation
    text: "Done: /report.md is written."
  - error: "the provider is overloaded"     # raise, as a failing provider would
```

Every model call, the main agent's and its subagents' alike, takes the next
turn, in order. A turn's `expect` that does not hold, or a call past the last
turn, raises `ScriptError` saying which turn and what was seen.

A call the agent makes for itself rather than for its next step, deepagents'
conversation summary (LangChain marks it `lc_source: summarization`), takes no
turn: it is answered with a plain summary made from the messages, and logged,
so a long scripted conversation never shifts by a turn. A resumed run skips
the turns its earlier attempt played, its subagents' included:
`model.skip(await turns_played(graph, config, since_message_id))`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, ToolCall
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from langgraph.pregel import Pregel
from pydantic import ConfigDict, PrivateAttr

from graphton.errors import ScriptError

log = logging.getLogger(__name__)

TEXT_CHUNK_CHARS = 16
"""Characters per streamed text chunk: small enough that a stream is visibly a stream."""
SUMMARY_SOURCE = "summarization"
"""`lc_source` metadata LangChain's summarization middleware puts on its model calls."""
SUMMARY_CHARS = 2000
"""Characters of the conversation a scripted summary keeps (its most recent ones)."""


@dataclass(frozen=True)
class ScriptedToolCall:
    name: str
    """Tool to call, as the agent's tools are named (`execute`, `write_file`, `task`, ...)."""
    args: Mapping[str, Any]
    id: str
    """Tool-call id; generated from the turn and position when the script gives none."""


@dataclass(frozen=True)
class Expectation:
    """What the messages since the previous turn must show before this turn plays."""

    contains: tuple[str, ...] = ()
    """Each text must appear in those messages (a tool result, or the user's message)."""
    not_contains: tuple[str, ...] = ()
    """No text here may appear in them."""
    history_contains: tuple[str, ...] = ()
    """Each text must appear somewhere in the whole conversation the model is given
    (earlier turns and earlier runs of the same thread included)."""


@dataclass(frozen=True)
class ScriptedTurn:
    text: str = ""
    tool_calls: tuple[ScriptedToolCall, ...] = ()
    expect: Expectation = field(default_factory=Expectation)
    error: str | None = None
    """When set, the model call fails with this message instead of answering."""


@dataclass(frozen=True)
class Script:
    turns: tuple[ScriptedTurn, ...]
    source: str = "<script>"
    """Where the script came from, named in every error."""
    chunk_delay_s: float = 0.0
    """Time between streamed chunks (YAML `chunk_delay_s`): a provider's pace, for demos."""

    @classmethod
    def from_yaml(cls, path: str | Path) -> Script:
        script_path = Path(path)
        try:
            document = yaml.safe_load(script_path.read_text(encoding="utf-8"))
        except OSError as err:
            raise ScriptError(f"cannot read model script {script_path}: {err.strerror}") from err
        except yaml.YAMLError as err:
            raise ScriptError(f"model script {script_path} is not valid YAML: {err}") from err
        return cls.from_data(document, source=str(script_path))

    @classmethod
    def from_data(cls, document: object, *, source: str = "<script>") -> Script:
        """Build a script from parsed YAML: `{"turns": [...]}` or a bare list of turns."""
        delay = 0.0
        if isinstance(document, Mapping):
            try:
                delay = float(document.get("chunk_delay_s") or 0.0)
            except (TypeError, ValueError) as err:
                raise ScriptError(f"model script {source}: chunk_delay_s must be seconds") from err
            document = document.get("turns")
        if not isinstance(document, list) or not document:
            raise ScriptError(f"model script {source}: expected a non-empty list under 'turns'")
        return cls(
            turns=tuple(_parse_turn(turn, i, source) for i, turn in enumerate(document, 1)),
            source=source,
            chunk_delay_s=delay,
        )


def _parse_turn(raw: object, number: int, source: str) -> ScriptedTurn:
    where = f"model script {source}, turn {number}"
    if not isinstance(raw, Mapping):
        raise ScriptError(f"{where}: expected a mapping with text, tool_calls, expect or error")
    unknown = set(raw) - {"text", "tool_calls", "expect", "error"}
    if unknown:
        raise ScriptError(f"{where}: unknown keys {sorted(unknown)}")
    calls = []
    for position, call in enumerate(raw.get("tool_calls") or [], 1):
        if not isinstance(call, Mapping) or not isinstance(call.get("name"), str):
            raise ScriptError(f"{where}, tool call {position}: needs a 'name'")
        args = call.get("args") or {}
        if not isinstance(args, Mapping):
            raise ScriptError(f"{where}, tool call {position}: 'args' must be a mapping")
        calls.append(
            ScriptedToolCall(
                name=call["name"],
                args=dict(args),
                id=str(call.get("id") or f"call_{number}_{position}"),
            )
        )
    expect = raw.get("expect") or {}
    if not isinstance(expect, Mapping) or set(expect) - {
        "contains",
        "not_contains",
        "history_contains",
    }:
        raise ScriptError(
            f"{where}: 'expect' takes 'contains', 'not_contains' and 'history_contains'"
        )
    return ScriptedTurn(
        text=str(raw.get("text") or ""),
        tool_calls=tuple(calls),
        expect=Expectation(
            contains=_as_texts(expect.get("contains")),
            not_contains=_as_texts(expect.get("not_contains")),
            history_contains=_as_texts(expect.get("history_contains")),
        ),
        error=str(raw["error"]) if raw.get("error") is not None else None,
    )


def _as_texts(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, list):
        return tuple(str(v) for v in value)
    return (str(value),)


class _Cursor:
    """Position in the script, shared by every binding of one model (main agent and subagents)."""

    def __init__(self) -> None:
        self.next_index = 0
        self.lock = threading.Lock()


class _Pace:
    """A provider's pace: chunk k of a turn leaves `delay_s * k` after the turn began.

    A provider generates at its own rate and does not wait for its client, so
    the time an agent spends on one chunk is not added to the next one's delay;
    a client that falls behind finds the chunks waiting.
    """

    def __init__(self, delay_s: float) -> None:
        self._delay_s = delay_s
        self._next_due = time.monotonic()

    def until_next(self) -> float:
        """Seconds to wait before the next chunk (0 when it is already due)."""
        if not self._delay_s:
            return 0.0
        self._next_due += self._delay_s
        return max(0.0, self._next_due - time.monotonic())


class ScriptedChatModel(BaseChatModel):
    """A chat model that plays `script` turn by turn; see the module docstring."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    script: Script
    chunk_chars: int = TEXT_CHUNK_CHARS
    chunk_delay_s: float = 0.0
    """Time between streamed chunks, to play a provider's pace (demos, benchmarks)."""
    _cursor: _Cursor = PrivateAttr(default_factory=_Cursor)

    @classmethod
    def from_yaml(cls, path: str | Path) -> ScriptedChatModel:
        script = Script.from_yaml(path)
        return cls(script=script, chunk_delay_s=script.chunk_delay_s)

    @property
    def _llm_type(self) -> str:
        return "scripted"

    @property
    def turns_played(self) -> int:
        return self._cursor.next_index

    def skip(self, turns: int) -> None:
        """Move past turns already played, as when a conversation resumes after a crash."""
        with self._cursor.lock:
            self._cursor.next_index = min(self._cursor.next_index + turns, len(self.script.turns))

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        # The script decides what is called; binding only records the schemas,
        # as a provider integration would send them.
        return self.bind(tools=[convert_to_openai_tool(t) for t in tools], **kwargs)

    def _answer(self, messages: list[BaseMessage], metadata: Mapping[str, Any]) -> ScriptedTurn:
        """The turn that answers this call: a summary outside the script, or the next turn."""
        if metadata.get("lc_source") == SUMMARY_SOURCE:
            log.info(
                "model script %s: a conversation summary was asked for; answered outside "
                "the script (no turn taken)",
                self.script.source,
            )
            return ScriptedTurn(text=_summary(messages))
        return self._take_turn(messages)

    def _take_turn(self, messages: list[BaseMessage]) -> ScriptedTurn:
        with self._cursor.lock:
            index = self._cursor.next_index
            if index >= len(self.script.turns):
                raise ScriptError(
                    f"model script {self.script.source} has {len(self.script.turns)} turns "
                    f"and the agent asked for turn {index + 1}; add a turn to the script"
                )
            self._cursor.next_index += 1
        turn = self.script.turns[index]
        _check_expectation(turn.expect, messages, index + 1, self.script.source)
        if turn.error is not None:
            raise ScriptError(f"model script {self.script.source}, turn {index + 1}: {turn.error}")
        return turn

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        turn = self._answer(messages, run_manager.metadata if run_manager else {})
        message = AIMessage(
            content=turn.text,
            tool_calls=[ToolCall(name=c.name, args=dict(c.args), id=c.id) for c in turn.tool_calls],
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        turn = self._answer(messages, run_manager.metadata if run_manager else {})
        pace = _Pace(self.chunk_delay_s)
        for chunk in self._chunks(turn):
            if wait := pace.until_next():
                time.sleep(wait)
            if run_manager is not None and isinstance(chunk.message.content, str):
                run_manager.on_llm_new_token(chunk.message.content, chunk=chunk)
            yield chunk

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        turn = self._answer(messages, run_manager.metadata if run_manager else {})
        pace = _Pace(self.chunk_delay_s)
        for chunk in self._chunks(turn):
            if wait := pace.until_next():
                await asyncio.sleep(wait)
            if run_manager is not None and isinstance(chunk.message.content, str):
                await run_manager.on_llm_new_token(chunk.message.content, chunk=chunk)
            yield chunk

    def _chunks(self, turn: ScriptedTurn) -> list[ChatGenerationChunk]:
        """The turn as a provider streams it: text in small pieces, then each tool call."""
        pieces: list[AIMessageChunk] = [
            AIMessageChunk(content=turn.text[i : i + self.chunk_chars])
            for i in range(0, len(turn.text), self.chunk_chars)
        ]
        pieces += [
            AIMessageChunk(
                content="",
                tool_call_chunks=[
                    {
                        "name": call.name,
                        "args": json.dumps(dict(call.args)),
                        "id": call.id,
                        "index": position,
                        "type": "tool_call_chunk",
                    }
                ],
            )
            for position, call in enumerate(turn.tool_calls)
        ]
        if not pieces:
            pieces = [AIMessageChunk(content="")]
        pieces[-1].chunk_position = "last"
        return [ChatGenerationChunk(message=piece) for piece in pieces]


def _summary(messages: Sequence[BaseMessage]) -> str:
    text = "\n".join(message.text for message in messages).strip()
    return f"Summary of the conversation so far (scripted): {text[-SUMMARY_CHARS:]}"


async def turns_played(
    graph: Pregel[Any, Any, Any, Any], config: Any, since_message_id: str
) -> int:
    """Model turns played in `config`'s thread since the message `since_message_id` was
    added: the main agent's AI messages after it, and every AI message its subagents
    checkpointed since (a subagent's conversation is its own, kept under its own
    checkpoint namespace, so the main conversation does not show it).

    A run resumed from its checkpoint continues where it stopped, inside a subagent
    too, so this is how many turns of the script are already behind it.
    """
    state = await graph.aget_state(config)
    messages = list((state.values or {}).get("messages", []))
    ids = [message.id for message in messages]
    if since_message_id not in ids:
        return 0
    played = {m.id for m in messages[ids.index(since_message_id) + 1 :] if m.type == "ai"}
    started = ""
    async for snapshot in graph.aget_state_history(config):
        if since_message_id not in {m.id for m in snapshot.values.get("messages", [])}:
            break
        started = snapshot.config["configurable"]["checkpoint_id"]
    thread: RunnableConfig = {"configurable": {"thread_id": config["configurable"]["thread_id"]}}
    checkpointer = graph.checkpointer
    if started and checkpointer is not None and not isinstance(checkpointer, bool):
        async for saved in checkpointer.alist(thread):
            where = saved.config["configurable"]
            # checkpoint ids are time-ordered (UUIDv6): later ids are later checkpoints
            if where.get("checkpoint_ns") and where["checkpoint_id"] > started:
                channel = saved.checkpoint["channel_values"].get("messages") or []
                played |= {m.id for m in channel if getattr(m, "type", "") == "ai"}
    return len(played)


def _check_expectation(
    expect: Expectation, messages: Sequence[BaseMessage], number: int, source: str
) -> None:
    if not (expect.contains or expect.not_contains or expect.history_contains):
        return
    history = "\n".join(message.text for message in messages)
    for text in expect.history_contains:
        if text not in history:
            raise ScriptError(
                f"model script {source}, turn {number}: expected {text!r} somewhere in the "
                f"conversation, but it was: {_preview(history)}"
            )
    recent = _since_last_ai_message(messages)
    seen = "\n".join(message.text for message in recent)
    for text in expect.contains:
        if text not in seen:
            raise ScriptError(
                f"model script {source}, turn {number}: expected {text!r} in the messages "
                f"since the previous turn, but they were: {_preview(seen)}"
            )
    for text in expect.not_contains:
        if text in seen:
            raise ScriptError(
                f"model script {source}, turn {number}: expected no {text!r} in the messages "
                f"since the previous turn, but found it in: {_preview(seen)}"
            )


def _since_last_ai_message(messages: Sequence[BaseMessage]) -> list[BaseMessage]:
    for position in range(len(messages) - 1, -1, -1):
        if isinstance(messages[position], AIMessage):
            return list(messages[position + 1 :])
    return [m for m in messages if m.type != "system"]


def _preview(text: str, limit: int = 400) -> str:
    text = text.strip() or "(nothing)"
    return repr(text if len(text) <= limit else text[:limit] + "...")


__all__ = [
    "Expectation",
    "Script",
    "ScriptedChatModel",
    "ScriptedToolCall",
    "ScriptedTurn",
    "turns_played",
]
