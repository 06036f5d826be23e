"""create_chat_model and ScriptedChatModel."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from graphton import (
    ModelConfigError,
    Script,
    ScriptedChatModel,
    ScriptError,
    create_chat_model,
    model_ids,
    models,
    testing,
)
from graphton.providers import RetryPolicy

pytestmark = pytest.mark.anyio


def write_script(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "script.yaml"
    path.write_text(text)
    return path


def test_unknown_provider_lists_the_known_ones() -> None:
    with pytest.raises(ModelConfigError, match="anthropic, openai, ollama, scripted"):
        create_chat_model("gemini:pro")


def test_spec_without_a_name_says_what_is_missing() -> None:
    with pytest.raises(ModelConfigError, match="scripted needs the path of a YAML script"):
        create_chat_model("scripted:")


def test_anthropic_without_a_key_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(ModelConfigError, match="ANTHROPIC_API_KEY"):
        create_chat_model("anthropic:sonnet")


def test_anthropic_alias_max_tokens_and_temperature_are_applied() -> None:
    model = create_chat_model("anthropic:sonnet", api_key="k", max_tokens=321, temperature=0.3)
    assert model.model == "claude-sonnet-4-6"  # type: ignore[attr-defined]
    assert model.max_tokens == 321  # type: ignore[attr-defined]
    assert model.temperature == 0.3  # type: ignore[attr-defined]


def test_openai_compatible_server_needs_only_a_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    model = create_chat_model("openai:qwen3", base_url="http://127.0.0.1:9/v1", max_tokens=50)
    assert model.openai_api_base == "http://127.0.0.1:9/v1"  # type: ignore[attr-defined]
    assert model.model_name == "qwen3"  # type: ignore[attr-defined]
    assert model.max_tokens == 50  # type: ignore[attr-defined]
    with pytest.raises(ModelConfigError, match="OPENAI_API_KEY"):
        create_chat_model("openai:gpt-4.1")


def test_ollama_options_are_applied() -> None:
    model = create_chat_model(
        "ollama:llama3.1", base_url="http://127.0.0.1:11434", max_tokens=64, temperature=0.0
    )
    assert model.num_predict == 64  # type: ignore[attr-defined]
    assert model.base_url == "http://127.0.0.1:11434"  # type: ignore[attr-defined]


async def test_openai_compatible_server_that_is_down_fails_clearly() -> None:
    # One quick retry: the default policy waits two minutes for a server to come back.
    model = create_chat_model(
        "openai:qwen3",
        base_url="http://127.0.0.1:9/v1",
        retry=RetryPolicy(max_retries=1, initial_delay_s=0.01),
    )
    with pytest.raises(Exception, match=r"(?i)connect"):
        await model.ainvoke("hi")


def test_scripted_model_loads_from_yaml_with_its_pace(tmp_path: Path) -> None:
    path = write_script(tmp_path, "chunk_delay_s: 0.01\nturns:\n  - text: hello there\n")
    model = create_chat_model(f"scripted:{path}")
    assert isinstance(model, ScriptedChatModel)
    assert model.chunk_delay_s == 0.01
    assert model.invoke("hi").text == "hello there"


class FakeClock:
    """Monotonic time that moves only when someone sleeps or works."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)


@pytest.mark.parametrize("streaming", ["async", "sync"])
async def test_scripted_model_keeps_a_providers_pace_however_slow_its_client(
    monkeypatch: pytest.MonkeyPatch, streaming: str
) -> None:
    """Chunk k leaves 0.1 s x k after the turn began: the client's 0.03 s per chunk is
    not added to the pace, and a client that falls 0.15 s behind finds chunks waiting."""
    clock = FakeClock()
    monkeypatch.setattr(testing.time, "monotonic", clock.monotonic)
    monkeypatch.setattr(testing.time, "sleep", clock.sleep)
    monkeypatch.setattr(testing.asyncio, "sleep", clock.asleep)
    model = ScriptedChatModel(
        script=Script.from_data([{"text": "abcdef"}]), chunk_chars=1, chunk_delay_s=0.1
    )
    work = [0.03, 0.03, 0.15, 0.03, 0.03, 0.03]  # the client's time on each chunk
    if streaming == "async":
        async for _ in model.astream("go"):
            clock.now += work.pop(0)
    else:
        for _ in model.stream("go"):
            clock.now += work.pop(0)
    assert clock.sleeps == [0.1, 0.07, 0.07, 0.02, 0.07]  # chunk 4 was already due


async def test_scripted_model_streams_text_and_tool_call_chunks() -> None:
    script = Script.from_data(
        [
            {
                "text": "a fairly long answer to stream",
                "tool_calls": [{"name": "ls", "args": {"path": "/"}}],
            }
        ]
    )
    model = ScriptedChatModel(script=script, chunk_chars=8)
    chunks = [chunk async for chunk in model.astream("go")]
    assert len(chunks) == 5  # four text pieces and one tool-call chunk
    assert "".join(c.text for c in chunks) == "a fairly long answer to stream"
    merged = chunks[0]
    for chunk in chunks[1:]:
        merged += chunk
    assert merged.tool_calls == [
        {"name": "ls", "args": {"path": "/"}, "id": "call_1_1", "type": "tool_call"}
    ]


def test_scripted_model_binds_tools_and_shares_its_place_in_the_script() -> None:
    script = Script.from_data([{"text": "one"}, {"text": "two"}])
    model = ScriptedChatModel(script=script)

    def ls(path: str) -> str:
        """List a folder."""
        return path

    bound = model.bind_tools([ls])
    assert bound.invoke("x").text == "one"
    assert model.invoke("x").text == "two"
    assert model.turns_played == 2


def test_running_out_of_script_says_so() -> None:
    model = ScriptedChatModel(script=Script.from_data([{"text": "only"}], source="s.yaml"))
    model.invoke("x")
    with pytest.raises(ScriptError, match=r"s\.yaml has 1 turns and the agent asked for turn 2"):
        model.invoke("x")


def test_expectation_is_checked_against_messages_since_the_last_turn() -> None:
    script = Script.from_data(
        [
            {
                "text": "",
                "tool_calls": [{"name": "execute", "args": {"command": "ls"}, "id": "c1"}],
            },
            {"expect": {"contains": "report.md", "not_contains": "error"}, "text": "good"},
        ]
    )
    model = ScriptedChatModel(script=script)
    first = model.invoke([HumanMessage("go")])
    history = [HumanMessage("go"), first, ToolMessage("report.md\n", tool_call_id="c1")]
    assert model.invoke(history).text == "good"

    failing = ScriptedChatModel(script=script)
    first = failing.invoke([HumanMessage("go")])
    with pytest.raises(ScriptError, match=r"turn 2: expected 'report\.md'"):
        failing.invoke([HumanMessage("go"), first, ToolMessage("nothing here", tool_call_id="c1")])


def test_history_expectation_sees_the_whole_conversation() -> None:
    script = Script.from_data([{"expect": {"history_contains": "first question"}, "text": "ok"}])
    history = [HumanMessage("first question"), AIMessage("first answer"), HumanMessage("again")]
    assert ScriptedChatModel(script=script).invoke(history).text == "ok"
    with pytest.raises(
        ScriptError, match="expected 'first question' somewhere in the conversation"
    ):
        ScriptedChatModel(script=script).invoke([HumanMessage("something else")])


def test_error_turn_fails_like_a_provider() -> None:
    model = ScriptedChatModel(script=Script.from_data([{"error": "provider overloaded"}]))
    with pytest.raises(ScriptError, match="turn 1: provider overloaded"):
        model.invoke([HumanMessage("go"), AIMessage("earlier")])


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"turns": []}, "non-empty list"),
        ([{"txt": "typo"}], "unknown keys"),
        ([{"tool_calls": [{"args": {}}]}], "needs a 'name'"),
        ([{"expect": {"matches": "x"}}], "'expect' takes"),
    ],
)
def test_malformed_scripts_are_refused_with_the_reason(document: object, message: str) -> None:
    with pytest.raises(ScriptError, match=message):
        Script.from_data(document)


def test_unreadable_or_invalid_yaml_is_named(tmp_path: Path) -> None:
    with pytest.raises(ScriptError, match="cannot read model script"):
        Script.from_yaml(tmp_path / "missing.yaml")
    bad = write_script(tmp_path, "turns: [unclosed\n")
    with pytest.raises(ScriptError, match="not valid YAML"):
        Script.from_yaml(bad)


@pytest.fixture
def on_2026_11_23(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model_ids, "_today", lambda: datetime.date(2026, 11, 23))
    monkeypatch.setattr(models, "_warned_retiring", set())


@pytest.mark.parametrize(
    ("name", "retired_on", "replacement"),
    [
        ("claude-sonnet-4", "2026-06-15", "claude-sonnet-4-6"),
        ("claude-opus-4-1-20250805", "2026-08-05", "claude-opus-4-8"),
    ],
)
def test_a_retired_model_is_refused_with_its_replacement(
    on_2026_11_23: None, name: str, retired_on: str, replacement: str
) -> None:
    with pytest.raises(ModelConfigError) as caught:
        create_chat_model(f"anthropic:{name}", api_key="k")
    assert f"retired the model {name!r} on {retired_on}" in str(caught.value)
    assert f"use {replacement!r}" in str(caught.value)


def test_a_model_retiring_soon_works_and_is_named_in_one_warning(
    on_2026_11_23: None, caplog: pytest.LogCaptureFixture
) -> None:
    for _ in range(2):
        model = create_chat_model("anthropic:claude-sonnet-4-5", api_key="k")
        assert model.model == "claude-sonnet-4-5-20250929"  # type: ignore[attr-defined]
    warnings = [r.getMessage() for r in caplog.records if "retires the model" in r.getMessage()]
    assert warnings == [
        "model 'anthropic:claude-sonnet-4-5': anthropic retires the model 'claude-sonnet-4-5' "
        "on 2026-11-30, after which requests naming it fail; move to 'claude-sonnet-4-6' "
        "before then"
    ]


def test_a_retirement_date_turns_the_warning_into_a_refusal() -> None:
    day_before = model_ids.retirement_notice(
        "anthropic", "sonnet-alias-free-name", datetime.date(2026, 11, 29)
    )
    assert day_before is None  # not a retiring model at all
    before = model_ids.retirement_notice(
        "anthropic", "claude-sonnet-4-5-20250929", datetime.date(2026, 11, 29)
    )
    on = model_ids.retirement_notice(
        "anthropic", "claude-sonnet-4-5-20250929", datetime.date(2026, 11, 30)
    )
    assert before is not None and before[0] is False
    assert on is not None and on[0] is True and "retired" in on[1]
    # The defaults and the short names point at models nobody retires.
    for provider, aliases in model_ids.MODEL_ALIASES.items():
        for alias, model_id in aliases.items():
            if alias != "claude-sonnet-4-5":
                assert model_ids.retirement_notice(provider, model_id) is None, alias
