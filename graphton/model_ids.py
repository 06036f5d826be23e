"""Model names: the short names graphton maps to a provider's ids, and the ids a
provider retires (after that date a request naming one fails).

Kept apart from `graphton.models` so that a configuration can be checked without
importing LangChain. A retired id is refused with its replacement before any
request, instead of failing every execution at the provider with "not found";
one retiring soon is named in a warning while it still works.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

MODEL_ALIASES: Final[Mapping[str, Mapping[str, str]]] = {
    "anthropic": {
        "sonnet": "claude-sonnet-4-6",
        "opus": "claude-opus-4-8",
        "haiku": "claude-haiku-4-5-20251001",
        "claude-haiku-4-5": "claude-haiku-4-5-20251001",
        "claude-sonnet-4-5": "claude-sonnet-4-5-20250929",
    },
    "openai": {
        "gpt-4.1": "gpt-4.1-2025-04-14",
        "gpt-4.1-mini": "gpt-4.1-mini-2025-04-14",
        "gpt-4o": "gpt-4o-2024-11-20",
        "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
    },
}


@dataclass(frozen=True)
class Retirement:
    on: datetime.date
    """The first day requests naming the model fail."""
    replacement: str


_SONNET_4 = Retirement(datetime.date(2026, 6, 15), "claude-sonnet-4-6")
_OPUS_4 = Retirement(datetime.date(2026, 6, 15), "claude-opus-4-8")
_OPUS_4_1 = Retirement(datetime.date(2026, 8, 5), "claude-opus-4-8")
_SONNET_4_5 = Retirement(datetime.date(2026, 11, 30), "claude-sonnet-4-6")

RETIREMENTS: Final[Mapping[str, Mapping[str, Retirement]]] = {
    # From Anthropic's model deprecations page; the names include the short ones
    # earlier releases of graphton accepted.
    "anthropic": {
        "claude-sonnet-4": _SONNET_4,
        "claude-sonnet-4-0": _SONNET_4,
        "claude-sonnet-4-20250514": _SONNET_4,
        "claude-opus-4": _OPUS_4,
        "claude-opus-4-0": _OPUS_4,
        "claude-opus-4-20250514": _OPUS_4,
        "claude-opus-4-1": _OPUS_4_1,
        "claude-opus-4-1-20250805": _OPUS_4_1,
        "claude-sonnet-4-5": _SONNET_4_5,
        "claude-sonnet-4-5-20250929": _SONNET_4_5,
    },
}


def _today() -> datetime.date:
    return datetime.datetime.now(datetime.UTC).date()


def resolve_model_name(provider: str, name: str) -> str:
    """The provider's real model id for a documented alias; other names pass unchanged."""
    return MODEL_ALIASES.get(provider, {}).get(name, name)


def retirement_notice(
    provider: str, name: str, today: datetime.date | None = None
) -> tuple[bool, str] | None:
    """For a model (or an alias of one) its provider retires: (retired already, what to
    tell the user, naming the model as they did); None for any other model."""
    retiring = RETIREMENTS.get(provider, {})
    retirement = retiring.get(name) or retiring.get(resolve_model_name(provider, name))
    if retirement is None:
        return None
    today = today or _today()
    on = retirement.on.isoformat()
    if today >= retirement.on:
        return True, (
            f"{provider} retired the model {name!r} on {on}: requests naming it fail; "
            f"use {retirement.replacement!r}"
        )
    return False, (
        f"{provider} retires the model {name!r} on {on}, after which requests naming it "
        f"fail; move to {retirement.replacement!r} before then"
    )


__all__ = ["MODEL_ALIASES", "RETIREMENTS", "Retirement", "resolve_model_name", "retirement_notice"]
