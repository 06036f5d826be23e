"""The model's text reaches `stream_events` piece by piece through the run's custom
stream: streamed in order, whole from a model that does not stream, never from a
call that asks to stay out of streams, and without losing the caller's callbacks."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from langchain_core.callbacks import AsyncCallbackManager, BaseCallbackHandler

import graphton
from graphton import AITextDelta, Script, ScriptedChatModel
from graphton.text_deltas import TextDeltaStreamer, with_text_deltas

pytestmark = pytest.mark.anyio

ANSWER = "The answer streams in pieces of eight characters each, in order."


def agent(root: Path, model: ScriptedChatModel) -> Any:
    return graphton.create_deep_agent(
        model=model, system_prompt="test", sandbox=graphton.FilesystemBackend(root)
    )


async def deltas(graph: Any, config: dict[str, Any] | None = None) -> list[str]:
    return [
        event.text
        async for event in graphton.stream_events(
            graph, {"messages": [{"role": "user", "content": "go"}]}, config
        )
        if isinstance(event, AITextDelta)
    ]


async def test_a_streamed_answer_arrives_in_its_pieces_in_order(tmp_path: Path) -> None:
    model = ScriptedChatModel(script=Script.from_data([{"text": ANSWER}]), chunk_chars=8)
    pieces = await deltas(agent(tmp_path, model))
    assert len(pieces) == -(-len(ANSWER) // 8)
    assert "".join(pieces) == ANSWER


async def test_a_model_that_does_not_stream_gives_its_whole_answer_once(tmp_path: Path) -> None:
    model = ScriptedChatModel(script=Script.from_data([{"text": ANSWER}]), disable_streaming=True)
    assert await deltas(agent(tmp_path, model)) == [ANSWER]


class Recorder(BaseCallbackHandler):
    def __init__(self) -> None:
        self.tokens: list[str] = []

    def on_llm_new_token(self, token: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self.tokens.append(str(token))


@pytest.mark.parametrize("as_manager", [False, True])
async def test_the_callers_own_callbacks_still_hear_the_run(
    tmp_path: Path, as_manager: bool
) -> None:
    recorder = Recorder()
    callbacks: Any = (
        AsyncCallbackManager([recorder], inheritable_handlers=[recorder])
        if as_manager
        else [recorder]
    )
    model = ScriptedChatModel(script=Script.from_data([{"text": ANSWER}]), chunk_chars=8)
    pieces = await deltas(agent(tmp_path, model), {"callbacks": callbacks})
    assert "".join(pieces) == ANSWER
    assert "".join(recorder.tokens) == ANSWER
    if as_manager:  # the caller's manager itself is left as it was
        assert callbacks.handlers == callbacks.inheritable_handlers == [recorder]


def test_the_config_gets_one_streamer_and_keeps_the_rest() -> None:
    recorder = Recorder()
    config = with_text_deltas({"callbacks": [recorder], "tags": ["mine"]})
    assert config["tags"] == ["mine"]
    handlers = config["callbacks"]
    assert isinstance(handlers, list) and handlers[0] is recorder
    assert [type(h) for h in handlers[1:]] == [TextDeltaStreamer]
    assert [type(h) for h in with_text_deltas(None)["callbacks"]] == [TextDeltaStreamer]  # type: ignore[union-attr]


def test_a_call_that_asks_to_stay_out_of_streams_writes_nothing() -> None:
    streamer = TextDeltaStreamer()
    run = UUID(int=1)
    streamer.on_chat_model_start(
        {}, [[]], run_id=run, tags=["nostream"], metadata={"langgraph_node": "model"}
    )
    streamer.on_llm_new_token("secret summary", run_id=run)  # no graph, no writer: must not fail
    assert streamer._calls == {}
