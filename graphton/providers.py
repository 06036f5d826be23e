"""What a model provider's failure means, and retrying the ones that pass.

Providers say what went wrong through the HTTP status (and, mid-stream, an
`error` event whose type names it). The meaning decides what to do:

- 401, 403, 400, 404 and the other 4xx (but 408, 409 and 429): the request
  itself is wrong (key, permissions, model name, limits). Retrying cannot help:
  `ProviderRejected`, at once.
- 429, 408, 409, 5xx, 529 (overloaded), an `overloaded_error`/`api_error` event
  and a connection that fails or resets before the answer starts: the provider
  is busy or unwell. Retried with backoff (`retry-after` honoured) up to
  `RetryPolicy.max_retries`, then `ProviderUnavailable`.

The provider SDKs' own retries are switched off (`max_retries=0`, see
`graphton.models`) so that the two never multiply and every wait is visible
through `on_retry`.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Final, Literal
from urllib.parse import urlsplit

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from pydantic import PrivateAttr

from graphton.errors import GraphtonError

RETRYABLE_STATUSES: Final = frozenset({408, 409, 429, 529})
"""Besides every 5xx."""
RETRYABLE_EVENT_TYPES: Final = frozenset({"overloaded_error", "api_error", "rate_limit_error"})
"""Error types a provider sends inside a stream that already answered 200."""
_CONNECTION_ERROR_NAMES: Final = frozenset(
    {"APIConnectionError", "APITimeoutError", "TransportError", "TimeoutException"}
)


class ProviderError(GraphtonError):
    """A model provider failed a request; `problem` says how, for whoever words it."""

    def __init__(self, problem: ProviderProblem, retries: int = 0) -> None:
        self.problem = problem
        self.retries = retries
        super().__init__(problem.summary())


class ProviderRejected(ProviderError):
    """The provider refused the request (4xx): retrying cannot help."""


class ProviderUnavailable(ProviderError):
    """The provider stayed busy, unwell or unreachable through every retry."""


@dataclass(frozen=True)
class ProviderProblem:
    """One failed request to a provider, as its answer described it."""

    provider: str
    """`anthropic`, `openai`, `ollama`."""
    url: str
    """Where the request went (no credentials, no query)."""
    kind: Literal["rejected", "busy", "unreachable"]
    status: int | None
    """HTTP status; None when no answer came (connection failed or reset)."""
    detail: str
    """The provider's own error type and message, or the connection error."""
    retry_after_s: float | None = None
    """What the provider asked to wait (`retry-after-ms`, `retry-after`)."""

    @property
    def retryable(self) -> bool:
        return self.kind != "rejected"

    def summary(self) -> str:
        if self.status:
            what = f"answered {self.status}"
        elif self.kind == "unreachable":
            what = "could not be reached"
        else:
            what = "failed the answer"
        return f"{self.provider} at {self.url} {what}: {self.detail}"


@dataclass(frozen=True)
class RetryPolicy:
    """How long to keep trying a busy provider: exponential backoff, `retry-after` first."""

    max_retries: int = 6
    initial_delay_s: float = 2.0
    max_delay_s: float = 60.0
    """Longest single wait; a provider asking for more fails at once, clearly."""

    def delay(self, retry: int, problem: ProviderProblem) -> float:
        """Seconds before retry number `retry` (1-based)."""
        if problem.retry_after_s is not None:
            return max(problem.retry_after_s, 0.0)
        backoff: float = self.initial_delay_s * 2 ** (retry - 1)
        return min(backoff, self.max_delay_s)


@dataclass(frozen=True)
class RetryNotice:
    """Told to `on_retry` before each wait."""

    problem: ProviderProblem
    retry: int
    """1 for the first retry."""
    max_retries: int
    delay_s: float

    def describe(self) -> str:
        """`waiting for the provider: retry 2 of 6 in 8 s (anthropic ... answered 529: ...)`"""
        return (
            f"waiting for the provider: retry {self.retry} of {self.max_retries} in "
            f"{_seconds(self.delay_s)} s ({self.problem.summary()})"
        )


def _seconds(value: float) -> str:
    return f"{value:.0f}" if value >= 10 or value == int(value) else f"{value:.1f}"


def classify(error: BaseException, provider: str, url: str) -> ProviderProblem | None:
    """What `error` from a provider's client means; None when it is not a provider failure."""
    status = getattr(error, "status_code", None)
    response = getattr(error, "response", None)
    url = _request_url(error) or url
    if isinstance(status, int):
        headers = getattr(response, "headers", None) or {}
        detail, event_type = _error_detail(getattr(error, "body", None), error)
        if status < 400:
            # An `error` event inside a stream that had answered 200.
            busy = event_type in RETRYABLE_EVENT_TYPES
            return ProviderProblem(provider, url, "busy" if busy else "rejected", None, detail)
        busy = status in RETRYABLE_STATUSES or status >= 500
        return ProviderProblem(
            provider,
            url,
            "busy" if busy else "rejected",
            status,
            detail,
            retry_after_s=retry_after(headers) if busy else None,
        )
    names = {cls.__name__ for cls in type(error).__mro__}
    if isinstance(error, ConnectionError | TimeoutError) or names & _CONNECTION_ERROR_NAMES:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        return ProviderProblem(
            provider, url, "unreachable", None, f"{reason} ({type(error).__name__})"
        )
    return None


def _request_url(error: BaseException) -> str | None:
    request = getattr(error, "request", None)
    try:
        raw = str(request.url) if request is not None else None
    except RuntimeError:  # httpx raises when a request was never attached
        return None
    return public_url(raw) if raw else None


def public_url(url: str) -> str:
    """`url` without user, password or query: safe to show."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}" if parts.scheme else url


def _error_detail(body: object, error: BaseException) -> tuple[str, str | None]:
    """`type: message` from the provider's error body (Anthropic and OpenAI shapes)."""
    inner = body.get("error", body) if isinstance(body, Mapping) else None
    if isinstance(inner, Mapping):
        kind = inner.get("type") or inner.get("code")
        message = inner.get("message")
        if kind or message:
            text = ": ".join(str(part) for part in (kind, message) if part)
            return _one_line(text), str(kind) if kind else None
    if isinstance(inner, str):
        return _one_line(inner), None
    return _one_line(str(error) or type(error).__name__), None


def _one_line(text: str, limit: int = 300) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds a provider asked to wait: `retry-after-ms`, then `retry-after` (seconds or date)."""
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            return float(millis) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        return max(parsed.timestamp() - time.time(), 0.0) if parsed is not None else None


OnRetry = Callable[[RetryNotice], None]


class _Attempts:
    """The retry loop's state for one model call."""

    def __init__(self, model: RetryingChatModel) -> None:
        self._model = model
        self._policy = model._retry_policy
        self.retry = 0

    async def wait_or_raise(self, error: Exception) -> None:
        """Sleep before the next attempt, or raise what the caller should see."""
        problem = classify(error, self._model.provider_name, self._model.endpoint())
        if problem is None:
            raise error
        if not problem.retryable:
            raise ProviderRejected(problem, self.retry) from error
        if self.retry >= self._policy.max_retries:
            raise ProviderUnavailable(problem, self.retry) from error
        self.retry += 1
        delay = self._policy.delay(self.retry, problem)
        if delay > self._policy.max_delay_s:
            raise ProviderUnavailable(problem, self.retry - 1) from error
        on_retry = self._model._on_retry
        if on_retry is not None:
            on_retry(RetryNotice(problem, self.retry, self._policy.max_retries, delay))
        await asyncio.sleep(delay)


class RetryingChatModel(BaseChatModel):
    """Mixed in before a provider's chat model: its async calls retried by `RetryPolicy`.

    A stream that fails before its first chunk is retried; one that breaks off
    after chunks went out is not (they cannot be taken back), and fails as
    `ProviderUnavailable`.
    """

    provider_name: ClassVar[str] = "provider"
    _retry_policy: RetryPolicy = PrivateAttr(default_factory=RetryPolicy)
    _on_retry: OnRetry | None = PrivateAttr(default=None)

    def endpoint(self) -> str:
        """The provider's base URL, for messages."""
        return "the provider's default URL"

    def configure_retries(
        self, policy: RetryPolicy | None = None, on_retry: OnRetry | None = None
    ) -> None:
        """Set the policy, and who is told before each wait."""
        if policy is not None:
            self._retry_policy = policy
        self._on_retry = on_retry

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        attempts = _Attempts(self)
        while True:
            try:
                return await super()._agenerate(messages, stop, run_manager, **kwargs)
            except Exception as error:
                await attempts.wait_or_raise(error)

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        attempts = _Attempts(self)
        while True:
            # Chunks without content (the provider's `message_start`: id, usage) are held
            # back until content comes, so a retry does not count them twice.
            held: list[ChatGenerationChunk] = []
            started = False
            try:
                async for chunk in super()._astream(messages, stop, run_manager, **kwargs):
                    if not started and not _has_content(chunk):
                        held.append(chunk)
                        continue
                    started = True
                    for early in held:
                        yield early
                    held.clear()
                    yield chunk
                for early in held:
                    yield early
                return
            except Exception as error:
                if not started:
                    await attempts.wait_or_raise(error)
                    continue
                problem = classify(error, self.provider_name, self.endpoint())
                if problem is None:
                    raise
                raise ProviderUnavailable(
                    ProviderProblem(
                        problem.provider,
                        problem.url,
                        "busy",
                        problem.status,
                        f"the answer broke off midway: {problem.detail}",
                    ),
                    attempts.retry,
                ) from error


def _has_content(chunk: ChatGenerationChunk) -> bool:
    message = chunk.message
    return bool(message.content) or bool(getattr(message, "tool_call_chunks", None))


__all__ = [
    "ProviderError",
    "ProviderProblem",
    "ProviderRejected",
    "ProviderUnavailable",
    "RetryNotice",
    "RetryPolicy",
    "RetryingChatModel",
    "classify",
    "public_url",
    "retry_after",
]
