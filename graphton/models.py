"""`"provider:model"` -> a LangChain chat model.

Providers: `anthropic`, `openai` (with `base_url`, any OpenAI-compatible server),
`ollama`, and `scripted` (`scripted:<path to a YAML script>`, offline; see
`graphton.testing`). Common short names map to real provider ids (`MODEL_ALIASES`).

Provider models retry a busy provider themselves (`graphton.providers`), so the
SDKs' own retries are off: two layers of retries would multiply (3 x 7 tries)
and the SDK's waits would be invisible.
"""

from __future__ import annotations

import logging
import os
from typing import Final

from langchain_core.language_models import BaseChatModel
from pydantic import SecretStr

from graphton.errors import ModelConfigError
from graphton.model_ids import MODEL_ALIASES, resolve_model_name, retirement_notice
from graphton.providers import RetryPolicy
from graphton.testing import ScriptedChatModel

log = logging.getLogger(__name__)

PROVIDERS: Final = ("anthropic", "openai", "ollama", "scripted")

# The variable each provider's own SDK reads when no key is passed.
_KEY_VARIABLES: Final = {"anthropic": "ANTHROPIC_API_KEY", "openai": "OPENAI_API_KEY"}
# OpenAI-compatible servers (vLLM, LM Studio, llama.cpp) rarely check the key,
# but the OpenAI client refuses to start without one.
_UNCHECKED_KEY: Final = "not-checked-by-this-server"


def parse_model_spec(spec: str) -> tuple[str, str]:
    provider, sep, name = spec.partition(":")
    provider = provider.strip().lower()
    if not sep or provider not in PROVIDERS:
        raise ModelConfigError(
            f"model {spec!r}: expected 'provider:model' with a provider among "
            f"{', '.join(PROVIDERS)} (for example 'anthropic:claude-sonnet-4-6')"
        )
    if not name.strip():
        what = "the path of a YAML script" if provider == "scripted" else "a model name"
        raise ModelConfigError(f"model {spec!r}: {provider} needs {what} after the colon")
    return provider, name.strip()


def create_chat_model(
    spec: str,
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    max_tokens: int | None = None,
    temperature: float | None = None,
    retry: RetryPolicy | None = None,
) -> BaseChatModel:
    """Build the chat model `spec` names, with the given limits applied.

    Provider models are `graphton.providers.RetryingChatModel`s retrying by
    `retry` (default `RetryPolicy()`); `configure_retries` changes it later.
    Raises `ModelConfigError` for an unknown provider, a missing name or a
    missing key; a provider that cannot be reached fails on first use.
    """
    provider, name = parse_model_spec(spec)
    if provider == "scripted":
        return ScriptedChatModel.from_yaml(name)
    model_id = resolve_model_name(provider, name)
    _check_retirement(spec, provider, name)
    from graphton import provider_models

    if provider == "ollama":
        ollama = provider_models.RetryingChatOllama(
            model=model_id, base_url=base_url, num_predict=max_tokens, temperature=temperature
        )
        ollama.configure_retries(retry)
        return ollama
    key_variable = _KEY_VARIABLES[provider]
    key = api_key or os.environ.get(key_variable)
    if provider == "anthropic":
        if not key:
            raise ModelConfigError(
                f"model {spec!r}: Anthropic needs an API key; set {key_variable} "
                "(or STIGMER_LLM_API_KEY for the runner)"
            )
        anthropic = provider_models.RetryingChatAnthropic(  # type: ignore[call-arg]  # aliases
            model=model_id,
            api_key=SecretStr(key),
            base_url=base_url,
            max_tokens=max_tokens or 8192,
            temperature=temperature,
            max_retries=0,
        )
        anthropic.configure_retries(retry)
        return anthropic
    if not key and base_url is None:
        raise ModelConfigError(
            f"model {spec!r}: OpenAI needs an API key; set {key_variable} "
            "(or STIGMER_LLM_API_KEY for the runner), or a base URL for a compatible server"
        )
    openai = provider_models.RetryingChatOpenAI(  # type: ignore[call-arg]  # pydantic aliases
        model=model_id,
        api_key=SecretStr(key or _UNCHECKED_KEY),
        base_url=base_url,
        max_tokens=max_tokens,
        temperature=temperature,
        max_retries=0,
        stream_usage=True,
    )
    openai.configure_retries(retry)
    return openai


_warned_retiring: set[tuple[str, str]] = set()


def _check_retirement(spec: str, provider: str, name: str) -> None:
    """Refuse a retired model with its replacement; warn once of one retiring soon."""
    notice = retirement_notice(provider, name)
    if notice is None:
        return
    retired, message = notice
    if retired:
        raise ModelConfigError(f"model {spec!r}: {message}")
    if (provider, name) not in _warned_retiring:
        _warned_retiring.add((provider, name))
        log.warning("model %r: %s", spec, message)


__all__ = ["MODEL_ALIASES", "PROVIDERS", "create_chat_model", "parse_model_spec"]
