"""The providers' LangChain chat models with `RetryingChatModel` mixed in.

Subclasses, not wrappers: `isinstance(model, ChatAnthropic)` still holds, so
deepagents' prompt caching and model profiles see the provider they expect.
Imported only when a provider model is built (the SDKs are heavy).
"""

from __future__ import annotations

from typing import ClassVar

from langchain_anthropic import ChatAnthropic
from langchain_ollama import ChatOllama
from langchain_openai import ChatOpenAI

from graphton.providers import RetryingChatModel, public_url

ANTHROPIC_DEFAULT_URL = "https://api.anthropic.com"
OPENAI_DEFAULT_URL = "https://api.openai.com/v1"
OLLAMA_DEFAULT_URL = "http://localhost:11434"


class RetryingChatAnthropic(RetryingChatModel, ChatAnthropic):
    provider_name: ClassVar[str] = "anthropic"

    def endpoint(self) -> str:
        return public_url(self.anthropic_api_url or ANTHROPIC_DEFAULT_URL)


class RetryingChatOpenAI(RetryingChatModel, ChatOpenAI):
    provider_name: ClassVar[str] = "openai"

    def endpoint(self) -> str:
        return public_url(self.openai_api_base or OPENAI_DEFAULT_URL)


class RetryingChatOllama(RetryingChatModel, ChatOllama):
    provider_name: ClassVar[str] = "ollama"

    def endpoint(self) -> str:
        return public_url(self.base_url or OLLAMA_DEFAULT_URL)
