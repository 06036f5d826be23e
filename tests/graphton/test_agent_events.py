"""A scripted deep agent over a real FilesystemBackend: its files and its exact event stream."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver

import graphton
from graphton import (
    AIMessageCompleted,
    AITextDelta,
    Script,
    ScriptedChatModel,
    SubagentFinished,
    SubagentStarted,
    Todo,
    TodosUpdated,
    ToolFinished,
    ToolStarted,
)

pytestmark = pytest.mark.anyio

TURNS = [
    {
        "text": "Planning.",
        "tool_calls": [
            {
                "name": "write_todos",
                "args": {"todos": [{"content": "write", "status": "in_progress"}]},
            }
        ],
    },
    {
        "text": "Writing.",
        "tool_calls": [
            {"name": "write_file", "args": {"file_path": "/hello.txt", "content": "hi"}},
            {"name": "execute", "args": {"command": "cat hello.txt > copy.txt; exit 3"}},
        ],
    },
    {
        "expect": {"contains": ["Updated file /hello.txt", "exit code 3"]},
        "text": "Delegating.",
        "tool_calls": [
            {
                "name": "task",
                "args": {"description": "count files", "subagent_type": "general-purpose"},
            }
        ],
    },
    {"text": "Counting.", "tool_calls": [{"name": "execute", "args": {"command": "ls | wc -l"}}]},
    {"expect": {"contains": "2"}, "text": "There are 2 files."},
    {"expect": {"contains": "There are 2 files."}, "text": "All done."},
]


async def collect(agent: object, message: str, thread: str) -> list[graphton.AgentEvent]:
    return [
        event
        async for event in graphton.stream_events(
            agent,  # type: ignore[arg-type]
            {"messages": [{"role": "user", "content": message}]},
            {"configurable": {"thread_id": thread}},
        )
    ]


def without_ids(event: graphton.AgentEvent) -> graphton.AgentEvent:
    """Message ids are random run ids; everything else must match exactly."""
    if isinstance(event, AITextDelta | AIMessageCompleted):
        return type(event)(**{**event.__dict__, "message_id": None})
    if isinstance(event, SubagentStarted | SubagentFinished):
        return type(event)(**{**event.__dict__, "namespace": ()})
    return event


async def test_scripted_agent_writes_files_and_streams_the_exact_events(tmp_path: Path) -> None:
    model = ScriptedChatModel(script=Script.from_data(TURNS), chunk_chars=100)
    agent = graphton.create_deep_agent(
        model=model,
        system_prompt="You are a careful test agent.",
        sandbox={"type": "filesystem", "root_dir": str(tmp_path)},
    )
    events = await collect(agent, "do it", "t1")

    assert (tmp_path / "hello.txt").read_text() == "hi"
    assert (tmp_path / "copy.txt").read_text() == "hi"
    task_ns = next(e for e in events if isinstance(e, SubagentStarted)).namespace
    assert task_ns and task_ns[0].startswith("tools:")

    sub = "call_3_1"
    assert [without_ids(e) for e in events] == [
        AITextDelta(text="Planning."),
        AIMessageCompleted(
            text="Planning.",
            tool_calls=(
                {
                    "id": "call_1_1",
                    "name": "write_todos",
                    "args": {"todos": [{"content": "write", "status": "in_progress"}]},
                },
            ),
        ),
        ToolStarted(
            call_id="call_1_1",
            name="write_todos",
            args={"todos": [{"content": "write", "status": "in_progress"}]},
        ),
        ToolFinished(
            call_id="call_1_1",
            name="write_todos",
            result="Updated todo list to [{'content': 'write', 'status': 'in_progress'}]",
        ),
        TodosUpdated(todos=(Todo(content="write", status="in_progress"),)),
        AITextDelta(text="Writing."),
        AIMessageCompleted(
            text="Writing.",
            tool_calls=(
                {
                    "id": "call_2_1",
                    "name": "write_file",
                    "args": {"file_path": "/hello.txt", "content": "hi"},
                },
                {
                    "id": "call_2_2",
                    "name": "execute",
                    "args": {"command": "cat hello.txt > copy.txt; exit 3"},
                },
            ),
        ),
        ToolStarted(
            call_id="call_2_1", name="write_file", args={"file_path": "/hello.txt", "content": "hi"}
        ),
        ToolStarted(
            call_id="call_2_2", name="execute", args={"command": "cat hello.txt > copy.txt; exit 3"}
        ),
        ToolFinished(call_id="call_2_1", name="write_file", result="Updated file /hello.txt"),
        ToolFinished(
            call_id="call_2_2",
            name="execute",
            result="\n[Command failed with exit code 3]",
            exit_code=3,
            error="command exited with code 3",
        ),
        AITextDelta(text="Delegating."),
        AIMessageCompleted(
            text="Delegating.",
            tool_calls=(
                {
                    "id": sub,
                    "name": "task",
                    "args": {"description": "count files", "subagent_type": "general-purpose"},
                },
            ),
        ),
        ToolStarted(
            call_id=sub,
            name="task",
            args={"description": "count files", "subagent_type": "general-purpose"},
        ),
        SubagentStarted(call_id=sub, subagent_type="general-purpose", description="count files"),
        AITextDelta(text="Counting.", subagent=sub),
        AIMessageCompleted(
            text="Counting.",
            tool_calls=({"id": "call_4_1", "name": "execute", "args": {"command": "ls | wc -l"}},),
            subagent=sub,
        ),
        ToolStarted(
            call_id="call_4_1", name="execute", args={"command": "ls | wc -l"}, subagent=sub
        ),
        ToolFinished(
            call_id="call_4_1",
            name="execute",
            result="2\n\n[Command succeeded with exit code 0]",
            exit_code=0,
            subagent=sub,
        ),
        AITextDelta(text="There are 2 files.", subagent=sub),
        AIMessageCompleted(text="There are 2 files.", subagent=sub),
        ToolFinished(call_id=sub, name="task", result="There are 2 files."),
        SubagentFinished(call_id=sub, subagent_type="general-purpose", output="There are 2 files."),
        AITextDelta(text="All done."),
        AIMessageCompleted(text="All done."),
    ]


async def test_conversation_continues_on_the_same_thread_with_a_checkpointer(
    tmp_path: Path,
) -> None:
    script = Script.from_data(
        [{"text": "First answer."}, {"expect": {"contains": "second question"}, "text": "Second."}]
    )
    agent = graphton.create_deep_agent(
        model=ScriptedChatModel(script=script),
        system_prompt="test",
        sandbox=graphton.FilesystemBackend(tmp_path),
        checkpointer=InMemorySaver(),
    )
    await collect(agent, "first question", "thread-a")
    await collect(agent, "second question", "thread-a")
    state = await agent.aget_state({"configurable": {"thread_id": "thread-a"}})
    texts = [m.text for m in state.values["messages"]]
    assert texts == ["first question", "First answer.", "second question", "Second."]


class SlowSaver(InMemorySaver):
    """A checkpointer whose writes take a while, like a database on a busy disk."""

    async def aput(self, *args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(0.25)
        return await super().aput(*args, **kwargs)


async def stored_when_step_three_runs(tmp_path: Path, durability: Any) -> list[str]:
    """Run three steps over a slow checkpointer; what a resume would find stored (first
    line of each message) at the moment the third step starts."""
    checkpointer = SlowSaver()
    config = {"configurable": {"thread_id": "thread-d"}}
    seen: list[list[str]] = []

    @tool
    async def peek() -> str:
        """Look at the last stored checkpoint."""
        state = await agent.aget_state(config)  # type: ignore[arg-type]
        seen.append([m.text.splitlines()[0] for m in state.values.get("messages", [])])
        return "peeked"

    script = Script.from_data(
        [
            {
                "text": "Step one.",
                "tool_calls": [{"name": "execute", "args": {"command": "echo one"}}],
            },
            {"text": "Step two.", "tool_calls": [{"name": "peek", "args": {}}]},
            {"text": "Done."},
        ]
    )
    agent = graphton.create_deep_agent(
        model=ScriptedChatModel(script=script),
        system_prompt="test",
        sandbox=graphton.FilesystemBackend(tmp_path),
        checkpointer=checkpointer,
        tools=[peek],
    )
    input = {"messages": [{"role": "user", "content": "go"}]}
    async for _ in graphton.stream_events(agent, input, config, durability=durability):  # type: ignore[arg-type]
        pass
    assert len(seen) == 1
    return seen[0]


async def test_each_step_is_stored_before_the_next_one_starts(tmp_path: Path) -> None:
    # a process that dies now loses nothing that finished: step one never runs twice
    stored = await stored_when_step_three_runs(tmp_path, "sync")
    assert stored == ["go", "Step one.", "one", "Step two."]


async def test_langgraphs_default_durability_lags_behind_which_is_why_it_is_not_ours(
    tmp_path: Path,
) -> None:
    # the same run, stored while the next step runs: a crash now would repeat step one
    stored = await stored_when_step_three_runs(tmp_path, "async")
    assert "one" not in stored


def test_unknown_sandbox_type_is_refused_with_the_accepted_ones() -> None:
    with pytest.raises(graphton.SandboxConfigError, match="accepted types: filesystem"):
        graphton.create_sandbox_backend({"type": "docker"})
    with pytest.raises(graphton.SandboxConfigError, match="needs 'root_dir'"):
        graphton.create_sandbox_backend({"type": "filesystem"})
