"""deepagents' conversation summary asks the model too: the scripted model answers it
without taking a turn of the script, so a long scripted conversation never shifts."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from deepagents.middleware import SummarizationMiddleware

import graphton
from graphton.sandbox.local import FilesystemBackend
from graphton.testing import Script, ScriptedChatModel

pytestmark = pytest.mark.anyio


async def test_a_summary_of_the_conversation_takes_no_turn_of_the_script(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="graphton.testing")
    turns = [
        {"tool_calls": [{"name": "execute", "args": {"command": f"echo step {n}"}}]}
        for n in range(1, 4)
    ] + [{"expect": {"contains": "step 3"}, "text": "Done after three steps."}]
    model = ScriptedChatModel(script=Script.from_data(turns))
    backend = FilesystemBackend(root_dir=tmp_path)
    # deepagents' own summarization, made to summarize after a few messages
    summarize_early = SummarizationMiddleware(
        model=model, backend=backend, trigger=("messages", 4), keep=("messages", 2)
    )
    agent = graphton.create_deep_agent(
        model=model, system_prompt="Work.", sandbox=backend, middleware=[summarize_early]
    )
    result = await agent.ainvoke({"messages": [{"role": "user", "content": "Three steps."}]})
    assert result["messages"][-1].text == "Done after three steps."
    assert model.turns_played == 4
    assert "a conversation summary was asked for" in caplog.text
