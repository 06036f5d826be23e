"""The real provider clients against servers speaking the providers' wire protocols.

Streams with tool calls and usage, and every failure as providers send it:
refused at once, or retried by graphton (never by the SDK as well) with
`retry-after` honoured, then given up with the provider and URL named.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool

from graphton import create_chat_model
from graphton.providers import (
    ProviderRejected,
    ProviderUnavailable,
    RetryingChatModel,
    RetryNotice,
    RetryPolicy,
)
from tests.provider_apis import AnthropicAPI, OpenAIAPI, start_anthropic, start_openai

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]

KEY = "sk-test-provider-key"
FAST = RetryPolicy(max_retries=3, initial_delay_s=0.01)


@pytest.fixture
async def anthropic_api() -> AsyncIterator[AnthropicAPI]:
    api, runner = await start_anthropic(KEY)
    yield api
    await runner.cleanup()


@pytest.fixture
async def openai_api() -> AsyncIterator[OpenAIAPI]:
    api, runner = await start_openai(KEY)
    yield api
    await runner.cleanup()


@tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


def anthropic_model(
    api: AnthropicAPI,
    key: str = KEY,
    policy: RetryPolicy = FAST,
    name: str = "claude-sonnet-4-6",
) -> BaseChatModel:
    return create_chat_model(f"anthropic:{name}", api_key=key, base_url=api.url, retry=policy)


def openai_model(api: OpenAIAPI, key: str = KEY, policy: RetryPolicy = FAST) -> BaseChatModel:
    return create_chat_model("openai:gpt-4.1", api_key=key, base_url=api.url, retry=policy)


async def streamed(model: BaseChatModel, *messages: Any) -> AIMessage:
    """What an agent does: stream the answer with the tools bound, and add the chunks up."""
    bound = model.bind_tools([get_weather])
    total = None
    async for chunk in bound.astream(list(messages) or [HumanMessage("weather in Paris?")]):
        total = chunk if total is None else total + chunk
    assert total is not None
    return AIMessage(
        content=total.content,
        tool_calls=total.tool_calls,  # type: ignore[attr-defined]
        usage_metadata=total.usage_metadata,  # type: ignore[attr-defined]
    )


TOOL_TURN = {
    "text": "Let me look that up.",
    "tool_calls": [{"name": "get_weather", "args": {"city": "Paris"}, "id": "call_weather_1"}],
}


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
async def test_a_streamed_answer_brings_text_tool_calls_and_usage(
    provider: str, anthropic_api: AnthropicAPI, openai_api: OpenAIAPI
) -> None:
    api = anthropic_api if provider == "anthropic" else openai_api
    model = anthropic_model(anthropic_api) if provider == "anthropic" else openai_model(openai_api)
    api.play(TOOL_TURN, {"text": "It is sunny in Paris."})
    first = await streamed(model)
    assert "Let me look that up." in first.text
    [call] = first.tool_calls
    assert (call["name"], call["args"], call["id"]) == (
        "get_weather",
        {"city": "Paris"},
        "call_weather_1",
    )
    assert first.usage_metadata is not None
    assert first.usage_metadata["input_tokens"] > 0
    assert first.usage_metadata["output_tokens"] > 0
    # The server refuses a tool call without its result, as the real APIs do.
    answer = await streamed(
        model,
        HumanMessage("weather in Paris?"),
        first,
        ToolMessage("sunny in Paris", tool_call_id="call_weather_1"),
    )
    assert answer.text == "It is sunny in Paris."
    assert len(api.requests) == 2


async def test_the_sdks_do_not_retry_on_their_own() -> None:
    for model in (
        create_chat_model("anthropic:sonnet", api_key="k"),
        create_chat_model("openai:gpt-4.1", api_key="k"),
    ):
        assert model.max_retries == 0  # type: ignore[attr-defined]
        assert isinstance(model, RetryingChatModel)


@pytest.mark.parametrize(
    ("status", "what"),
    [(401, "authentication_error"), (403, "permission_error"), (400, "invalid_request_error")],
)
async def test_a_refusal_fails_at_once_naming_the_provider_and_url(
    anthropic_api: AnthropicAPI, status: int, what: str
) -> None:
    anthropic_api.play({"fail": {"status": status, "message": "no"}}, {"text": "never"})
    notices: list[RetryNotice] = []
    model = anthropic_model(anthropic_api)
    model.configure_retries(FAST, notices.append)  # type: ignore[attr-defined]
    with pytest.raises(ProviderRejected) as caught:
        await streamed(model)
    problem = caught.value.problem
    assert problem.status == status
    assert problem.url == f"{anthropic_api.url}/v1/messages"
    assert what in problem.detail
    assert notices == []
    assert len(anthropic_api.requests) == 1


async def test_a_wrong_key_is_refused_by_the_server_itself(openai_api: OpenAIAPI) -> None:
    with pytest.raises(ProviderRejected) as caught:
        await streamed(openai_model(openai_api, key="sk-wrong"))
    assert caught.value.problem.status == 401
    assert (
        "invalid_api_key" in caught.value.problem.detail
        or "Incorrect API key" in caught.value.problem.detail
    )


@pytest.mark.parametrize(
    "failure",
    [
        {"status": 429, "retry_after": 0.05},
        {"status": 529, "type": "overloaded_error"},
        {"status": 500},
        {"status": 503},
        {"reset": True},
        {"stream_error": "overloaded_error"},
    ],
    ids=["429", "529", "500", "503", "reset", "overloaded-mid-stream"],
)
async def test_a_busy_provider_is_retried_and_the_wait_is_told(
    anthropic_api: AnthropicAPI, failure: dict[str, Any]
) -> None:
    anthropic_api.play({"fail": failure}, {"fail": failure}, {"text": "Finally."})
    notices: list[RetryNotice] = []
    model = anthropic_model(anthropic_api)
    model.configure_retries(FAST, notices.append)  # type: ignore[attr-defined]
    answer = await streamed(model)
    assert answer.text == "Finally."
    assert [n.retry for n in notices] == [1, 2]
    assert len(anthropic_api.requests) == 3  # the SDK added no retries of its own
    assert notices[1].describe().startswith("waiting for the provider: retry 2 of 3 in ")


async def test_retry_after_is_honoured(openai_api: OpenAIAPI) -> None:
    openai_api.play({"fail": {"status": 429, "retry_after": 1.5}}, {"text": "ok"})
    notices: list[RetryNotice] = []
    model = openai_model(openai_api)
    model.configure_retries(FAST, notices.append)  # type: ignore[attr-defined]
    assert (await streamed(model)).text == "ok"
    assert [n.delay_s for n in notices] == [1.5]
    assert "retry 1 of 3 in 1.5 s" in notices[0].describe()


async def test_a_provider_busy_through_every_retry_gives_up_clearly(openai_api: OpenAIAPI) -> None:
    openai_api.play(*[{"fail": {"status": 503, "message": "upstream busy"}}] * 4)
    with pytest.raises(ProviderUnavailable) as caught:
        await streamed(openai_model(openai_api))
    assert caught.value.retries == 3
    assert caught.value.problem.status == 503
    assert "upstream busy" in str(caught.value)
    assert len(openai_api.requests) == 4


async def test_a_wait_longer_than_the_longest_allowed_fails_at_once(
    anthropic_api: AnthropicAPI,
) -> None:
    anthropic_api.play({"fail": {"status": 429, "retry_after": 3600}})
    model = anthropic_model(anthropic_api, policy=RetryPolicy(max_retries=3, max_delay_s=60))
    with pytest.raises(ProviderUnavailable):
        await streamed(model)
    assert len(anthropic_api.requests) == 1


async def test_an_unreachable_ollama_names_its_url() -> None:
    model = create_chat_model("ollama:llama3.1", base_url="http://127.0.0.1:9", retry=FAST)
    with pytest.raises(ProviderUnavailable) as caught:
        await model.ainvoke("hi")
    problem = caught.value.problem
    assert (problem.provider, problem.kind) == ("ollama", "unreachable")
    assert problem.url.startswith("http://127.0.0.1:9")


async def test_a_model_the_provider_retired_is_refused_at_once_naming_it(
    anthropic_api: AnthropicAPI,
) -> None:
    """One graphton does not know of: the provider's 404 names it, and nothing retries."""
    anthropic_api.play({"text": "never"})
    model = anthropic_model(anthropic_api, name="claude-3-opus-20240229")
    with pytest.raises(ProviderRejected) as caught:
        await streamed(model)
    assert caught.value.problem.status == 404
    assert "claude-3-opus-20240229" in str(caught.value)
    assert len(anthropic_api.requests) == 1


async def test_the_stand_in_refuses_an_assistant_prefill_as_claude_4_6_does(
    anthropic_api: AnthropicAPI,
) -> None:
    """Claude 4.6 and later refuse a conversation that ends with an assistant message
    (prefill); the stand-in refuses it too, so every agent run through it checks that
    the agent never sends one."""
    anthropic_api.play({"text": "never"})
    model = anthropic_model(anthropic_api)
    with pytest.raises(ProviderRejected, match="prefill"):
        await model.ainvoke([HumanMessage("hi"), AIMessage("I think")])
