"""Masking on whole values: streamed text, every string of the status, every tool result,
the model's own output in the conversation, and metrics labels."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format
from langgraph.checkpoint.memory import InMemorySaver

import graphton
from agent_runner import wire
from agent_runner.masking import SecretMasking
from agent_runner.observability import RunnerMetrics, tool_label
from agent_runner.redaction import Redactor, redact_message
from agent_runner.status.builder import StatusBuilder

ax = wire.agentexecution
SECRET = "sk-live-7f3a9c2e51"


def builder(*secrets: str) -> StatusBuilder:
    redact = Redactor(secrets)
    ticks = itertools.count()
    return StatusBuilder(
        redact=redact,
        clock=lambda: f"2026-11-21T10:00:{next(ticks):02d}.000Z",
        hold_back=redact.unfinished_tail,
        secret_in=redact.found_in,
    )


def pushes_of_streamed_text(text: str, chunk: int, *secrets: str) -> list[str]:
    """What a subscriber sees of the open AI message after each delta."""
    status = builder(*secrets)
    status.start("go")
    seen = []
    for start in range(0, len(text), chunk):
        status.apply(graphton.AITextDelta(text=text[start : start + chunk]))
        seen.append(status.snapshot().messages[-1].content)
    status.apply(graphton.AIMessageCompleted(text=text))
    seen.append(status.snapshot().messages[-1].content)
    return seen


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 7, 16])
def test_a_secret_split_across_streamed_chunks_never_shows_even_in_part(chunk: int) -> None:
    text = f"The key is {SECRET}, and again {SECRET}."
    seen = pushes_of_streamed_text(text, chunk, SECRET)
    prefixes = [SECRET[:n] for n in range(4, len(SECRET) + 1)]
    for content in seen:
        assert not any(p in content for p in prefixes), content
    assert seen[-1] == "The key is ***, and again ***."
    # Held back only while it could be a secret: the text goes out as it streams.
    assert any(content.startswith("The key is") for content in seen[:-1])


def test_text_that_only_starts_like_a_secret_is_released_when_it_diverges() -> None:
    status = builder(SECRET)
    status.start("go")
    status.apply(graphton.AITextDelta(text="cost: sk-li"))
    assert status.snapshot().messages[-1].content == "cost: "
    status.apply(graphton.AITextDelta(text="ne 3"))
    assert status.snapshot().messages[-1].content == "cost: sk-line 3"
    assert Redactor([SECRET]).unfinished_tail("abc sk-live-7f") == len("sk-live-7f")
    assert Redactor([SECRET]).unfinished_tail("abc sk-live-7f3a9c2e51") == 0


def test_every_string_of_the_status_is_masked_names_and_keys_included() -> None:
    status = builder(SECRET)
    status.start("go")
    status.apply(
        graphton.AIMessageCompleted(
            text="",
            tool_calls=({"id": "c1", "name": SECRET, "args": {SECRET: {"k": [SECRET]}}},),
        )
    )
    status.apply(graphton.ToolStarted(call_id="c1", name=SECRET, args={SECRET: "v"}))
    status.apply(graphton.ToolFinished(call_id="c1", name=SECRET, result="no such tool"))
    status.apply(graphton.SubagentStarted(call_id="t1", subagent_type=SECRET, description="d"))
    status.apply(graphton.TodosUpdated(todos=(graphton.Todo(content=SECRET, status="pending"),)))
    snapshot = status.snapshot()
    assert SECRET not in json_format.MessageToJson(snapshot)
    assert SECRET not in str(snapshot)
    assert snapshot.tool_calls[0].name == "***"
    assert list(snapshot.tool_calls[0].args.fields) == ["***"]
    assert snapshot.sub_agent_executions[0].name == "***"


def test_redact_message_reaches_map_keys_and_nested_structs() -> None:
    execution = ax.AgentExecution()
    execution.spec.runtime_env[SECRET].value = f"a {SECRET}"
    execution.status.tool_calls.add(name="x").args.update({"a": {SECRET: [f"{SECRET}!"]}})
    redact_message(execution, Redactor([SECRET]))
    assert SECRET not in str(execution)
    assert execution.spec.runtime_env["***"].value == "a ***"


def test_metrics_labels_take_known_tool_names_only() -> None:
    assert tool_label("read_file") == "read_file"
    assert tool_label("lookup", known={"lookup"}) == "lookup"
    assert tool_label(SECRET, known={"lookup"}) == "other"
    metrics = RunnerMetrics()
    metrics.tool_calls.labels(tool=tool_label(SECRET), outcome="failed").inc()
    assert SECRET.encode() not in metrics.exposition()


def _agent(tmp_path: Path, turns: list[dict[str, Any]], saver: InMemorySaver) -> Any:
    model = graphton.ScriptedChatModel(script=graphton.Script.from_data({"turns": turns}))
    masking = SecretMasking(Redactor([SECRET]))
    return graphton.create_deep_agent(
        model=model,
        system_prompt="You help.",
        sandbox=graphton.FilesystemBackend(tmp_path),
        checkpointer=saver,
        middleware=[masking],
        subagents=[
            {
                "name": "general-purpose",
                "description": "helps",
                "system_prompt": "You help.",
                "middleware": [masking],
            }
        ],
    )


@pytest.mark.anyio
async def test_file_tools_read_a_secret_as_stars_and_the_conversation_never_holds_it(
    tmp_path: Path,
) -> None:
    (tmp_path / "creds.txt").write_text(f"token={SECRET}\n")
    turns = [
        {
            "tool_calls": [
                {"name": "read_file", "args": {"file_path": "/creds.txt"}},
                {"name": "grep", "args": {"pattern": "token", "output_mode": "content"}},
            ]
        },
        {
            "expect": {"contains": "token=***", "not_contains": SECRET},
            "text": f"I will say it anyway: {SECRET}",
            "tool_calls": [{"name": SECRET, "args": {SECRET: SECRET}}],
        },
        {"expect": {"not_contains": SECRET}, "text": "Done."},
    ]
    saver = InMemorySaver()
    agent = _agent(tmp_path, turns, saver)
    config = {"configurable": {"thread_id": "t"}}
    events = [
        e
        async for e in graphton.stream_events(
            agent, {"messages": [{"role": "user", "content": "read"}]}, config
        )
    ]
    finished = [e for e in events if isinstance(e, graphton.ToolFinished)]
    assert {e.name for e in finished} >= {"read_file", "grep"}
    assert all(SECRET not in e.result for e in finished)
    state = await agent.aget_state(config)
    assert SECRET not in repr(state.values["messages"])
    stored = repr(list(saver.storage.items())) + repr(list(saver.writes.items()))
    assert SECRET not in stored
