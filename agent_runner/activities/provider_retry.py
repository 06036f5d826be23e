"""Step: a busy model provider is retried inside the activity, and every wait is shown.

The contract gives ExecuteGraphton one attempt, so Temporal's retries cannot
carry a 429 or a 529: the chat model retries by itself (`graphton.providers`),
the activity's heartbeats go on meanwhile (they run on a timer), and each wait
is a system message in the status ("waiting for the provider: retry 2 of 6 in
8 s ..."), updated in place while the same call keeps failing. A failure that
retrying cannot fix, or that outlasted the retries, ends the execution with
one line naming the provider, its URL and the variable to check.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Final

from langchain_core.language_models import BaseChatModel

from agent_runner import wire
from agent_runner.activities.errors import AGENT_FAILED, PROVIDER_REJECTED, PROVIDER_UNAVAILABLE
from agent_runner.clock import utc_now
from agent_runner.config import PROVIDER_KEY_VARIABLES, LLMConfig
from agent_runner.status import StatusBuilder, StatusReporter
from graphton.providers import (
    ProviderError,
    ProviderRejected,
    RetryingChatModel,
    RetryNotice,
    RetryPolicy,
)

log = logging.getLogger(__name__)

ax = wire.agentexecution

WAITING_PREFIX: Final = "waiting for the provider:"
_URL_VARIABLES: Final = {"ollama": "OLLAMA_BASE_URL"}


def retry_policy(llm: LLMConfig) -> RetryPolicy:
    return RetryPolicy(max_retries=llm.max_retries, initial_delay_s=llm.retry_delay_s)


def watch_provider_retries(
    model: BaseChatModel,
    llm: LLMConfig,
    builder: StatusBuilder,
    reporter: StatusReporter,
    execution_id: str,
) -> None:
    """Retry `model`'s provider by `llm`'s policy, showing each wait in the status."""
    if not isinstance(model, RetryingChatModel):
        return  # the scripted model: nothing to retry

    def on_retry(notice: RetryNotice) -> None:
        text = notice.describe()
        log.warning("execution %s: %s", execution_id, text)
        messages = builder.status.messages
        last = messages[-1] if len(messages) else None
        if (
            notice.retry > 1
            and last is not None
            and last.type == ax.MESSAGE_SYSTEM
            and last.content.startswith(WAITING_PREFIX)
        ):
            last.content = text
        else:
            messages.add(type=ax.MESSAGE_SYSTEM, content=text, timestamp=utc_now())
        reporter.changed(urgent=True)

    model.configure_retries(retry_policy(llm), on_retry)


@dataclass(frozen=True)
class AgentFailure:
    """How a failed run is reported: the status's `error` and the ApplicationError's type."""

    message: str
    type: str


def describe_provider_failure(error: BaseException, llm: LLMConfig) -> AgentFailure | None:
    """One line naming the provider, its URL and what to check; None when `error` is
    not a provider's failure."""
    provider_error = _provider_error(error)
    if provider_error is None:
        return None
    return _describe(provider_error, llm)


def _describe(error: ProviderError, llm: LLMConfig) -> AgentFailure:
    problem = error.problem
    who = f"the model provider {problem.provider} at {problem.url}"
    if isinstance(error, ProviderRejected):
        return AgentFailure(
            f"{who} {_rejection(problem.status, problem.detail, llm, problem.provider)}",
            PROVIDER_REJECTED,
        )
    url_variable = _URL_VARIABLES.get(problem.provider, "STIGMER_LLM_BASE_URL")
    retries = f"{error.retries} retr{'y' if error.retries == 1 else 'ies'}"
    if problem.kind == "unreachable":
        message = (
            f"{who} could not be reached after {retries} ({problem.detail}); "
            f"check {url_variable} and that the provider is running and reachable"
        )
    else:
        message = (
            f"{who} was still busy after {retries} "
            f"(last answer {problem.status or 'in the stream'}: {problem.detail}); "
            "try again later, or allow more with STIGMER_LLM_MAX_RETRIES"
        )
    return AgentFailure(message, PROVIDER_UNAVAILABLE)


def _provider_error(error: BaseException) -> ProviderError | None:
    """The provider's failure, also when a tool (a subagent's `task`) wrapped it."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, ProviderError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _rejection(status: int | None, detail: str, llm: LLMConfig, provider: str) -> str:
    key_variable = PROVIDER_KEY_VARIABLES.get(provider)
    keys = "STIGMER_LLM_API_KEY" + (f" (or {key_variable})" if key_variable else "")
    if status == 401:
        return f"refused the API key (401 {detail}); check {keys}"
    if status == 403:
        return f"refused access (403 {detail}); check that the key in {keys} may use this model"
    if status == 404:
        return (
            f"does not know the model (404 {detail}); "
            "check STIGMER_LLM_MODEL or the execution's model name"
        )
    if status is None:
        return f"failed the answer ({detail})"
    return (
        f"refused the request ({status} {detail}); check the model name (STIGMER_LLM_MODEL), "
        "STIGMER_LLM_MAX_TOKENS and STIGMER_LLM_TEMPERATURE"
    )


def describe_agent_failure(error: BaseException, llm: LLMConfig) -> AgentFailure:
    """Any failure of the agent's run, in words a user can act on."""
    described = describe_provider_failure(error, llm)
    if described is not None:
        return described
    return AgentFailure(f"{type(error).__name__}: {error}", AGENT_FAILED)
