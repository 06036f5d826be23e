"""The model's text as it streams, written to the run's custom stream.

LangGraph's "messages" stream mode would give the same pieces, but to tell a new
message from one already in the state it walks every message of the state at
the start of every node: a cost that grows with the conversation, paid by each
step (about 6% of a 100-step scripted run here, bench/FINDINGS.md). Only the
`model` node's text is wanted, so a callback handler on the run does the job:
it hears each chat model call that the `model` node makes (the main agent's and
every subagent's, since callbacks are inherited), and writes each piece of text
to the custom stream of the graph that made the call, where `stream_events`
reads it in order with the rest and under that graph's namespace.

Its two `tap_output_*` methods make it a streaming handler in LangChain's sense
(the protocol LangGraph's own handler implements), so models that can stream do,
as they would under the "messages" mode. A model that cannot stream gives its
whole text as one piece when it ends.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any, TypeVar
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler, BaseCallbackManager
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, GenerationChunk, LLMResult
from langchain_core.runnables import RunnableConfig
from langgraph.config import get_stream_writer
from langgraph.types import StreamWriter

TEXT_DELTA = "graphton.text_delta"
"""The custom-stream key of a piece of the model's text."""
MODEL_NODE = "model"
_NOT_STREAMED = frozenset({"nostream", "langsmith:nostream"})
"""Tags by which a call asks to stay out of streams (summaries, say), as LangGraph reads them."""

T = TypeVar("T")


class TextDeltaStreamer(BaseCallbackHandler):
    """Writes each piece of text the `model` node's chat model produces to the custom
    stream, as `{TEXT_DELTA: text, "message_id": id}`."""

    run_inline = True  # in the model call's own task, so pieces keep their order

    def __init__(self) -> None:
        super().__init__()
        self._calls: dict[UUID, _Call] = {}

    def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[BaseMessage]],
        *,
        run_id: UUID,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if (metadata or {}).get("langgraph_node") != MODEL_NODE or _NOT_STREAMED & set(tags or ()):
            return
        try:
            writer = get_stream_writer()
        except RuntimeError:  # not inside a graph: nobody reads a stream
            return
        self._calls[run_id] = _Call(writer)

    def on_llm_new_token(
        self,
        token: str | list[str | dict[str, Any]],
        *,
        chunk: GenerationChunk | ChatGenerationChunk | None = None,
        run_id: UUID,
        **kwargs: Any,
    ) -> None:
        call = self._calls.get(run_id)
        if call is None:
            return
        message = getattr(chunk, "message", None)
        if isinstance(message, AIMessage):
            call.write(str(message.text), message.id)
        elif isinstance(token, str):
            call.write(token, None)

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        call = self._calls.pop(run_id, None)
        if call is None or call.streamed:
            return
        # A model that does not stream: its whole answer is one piece.
        generations = response.generations[0] if response.generations else []
        for generation in generations[:1]:
            if isinstance(generation, ChatGeneration) and isinstance(generation.message, AIMessage):
                call.write(str(generation.message.text), generation.message.id)

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._calls.pop(run_id, None)

    # LangChain's streaming-handler protocol: its presence makes models stream.
    def tap_output_aiter(self, run_id: UUID, output: AsyncIterator[T]) -> AsyncIterator[T]:
        return output

    def tap_output_iter(self, run_id: UUID, output: Iterator[T]) -> Iterator[T]:
        return output


class _Call:
    def __init__(self, writer: StreamWriter) -> None:
        self.writer = writer
        self.streamed = False

    def write(self, text: str, message_id: str | None) -> None:
        if text:
            self.streamed = True
            self.writer({TEXT_DELTA: text, "message_id": message_id})


def with_text_deltas(config: RunnableConfig | None) -> RunnableConfig:
    """`config` with a `TextDeltaStreamer` among its callbacks (inherited by every run
    inside, subagents included)."""
    merged: RunnableConfig = dict(config or {})  # type: ignore[assignment]
    callbacks = merged.get("callbacks")
    streamer = TextDeltaStreamer()
    if callbacks is None:
        merged["callbacks"] = [streamer]
    elif isinstance(callbacks, BaseCallbackManager):
        manager = callbacks.copy()
        manager.add_handler(streamer, inherit=True)
        merged["callbacks"] = manager
    else:
        merged["callbacks"] = [*callbacks, streamer]
    return merged


__all__ = ["TEXT_DELTA", "TextDeltaStreamer", "with_text_deltas"]
