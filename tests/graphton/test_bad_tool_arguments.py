"""Malformed tool arguments come back to the model as tool errors; the run goes on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import graphton
from graphton import AIMessageCompleted, Script, ScriptedChatModel, ToolFinished

pytestmark = pytest.mark.anyio

LONG = "/" + "x" * 300 + "/" + "y" * 5000
BAD_CALLS: list[dict[str, Any]] = [
    {"name": "read_file", "args": {"file_path": "/a\x00b.txt"}},
    {"name": "read_file", "args": {"file_path": "/lone-\ud800.txt"}},
    {"name": "read_file", "args": {"file_path": LONG}},
    {"name": "write_file", "args": {"file_path": "/n\x00ul.txt", "content": "x"}},
    {"name": "write_file", "args": {"file_path": "/ok.txt", "content": "half \udc80 a pair"}},
    {"name": "write_file", "args": {"file_path": LONG, "content": "x"}},
    {
        "name": "edit_file",
        "args": {"file_path": "/e\ud800.txt", "old_string": "a", "new_string": "b"},
    },
    {"name": "ls", "args": {"path": "/d\x00ir"}},
    {"name": "ls", "args": {"path": "/\udfff"}},
    {"name": "ls", "args": {"path": LONG}},
    {"name": "glob", "args": {"pattern": "*\x00*"}},
    {"name": "glob", "args": {"pattern": "*\ud800"}},
    {"name": "grep", "args": {"pattern": "a\x00b"}},
    {"name": "grep", "args": {"pattern": "\ud800"}},
    {"name": "grep", "args": {"pattern": "x", "path": "/p\x00ath"}},
    {"name": "execute", "args": {"command": "echo a\x00b"}},
    {"name": "execute", "args": {"command": "echo \ud800"}},
]


async def test_nul_bytes_lone_surrogates_and_long_paths_are_tool_errors_and_the_run_completes(
    tmp_path: Path,
) -> None:
    script = Script.from_data(
        [
            {"text": "Trying bad arguments.", "tool_calls": BAD_CALLS},
            {"text": "Recovered."},
        ]
    )
    agent = graphton.create_deep_agent(
        model=ScriptedChatModel(script=script),
        system_prompt="test",
        sandbox=graphton.FilesystemBackend(tmp_path),
    )
    events = [
        event
        async for event in graphton.stream_events(
            agent,  # type: ignore[arg-type]
            {"messages": [{"role": "user", "content": "go"}]},
            {"configurable": {"thread_id": "bad-args"}},
        )
    ]
    finished = [e for e in events if isinstance(e, ToolFinished)]
    assert len(finished) == len(BAD_CALLS)
    for event in finished:
        assert event.failed, f"{event.name} succeeded: {event.result!r}"
    assert isinstance(events[-1], AIMessageCompleted) and events[-1].text == "Recovered."
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith(".")] == []
