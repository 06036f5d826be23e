"""LangSmith's per-hook bookkeeping runs in place when nothing is traced, and in its
own thread as before when something is."""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import langsmith
import pytest
from langsmith._internal import _aiter
from langsmith.run_helpers import tracing_context

import graphton
from graphton import tracing

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def no_override_before_or_after() -> Iterator[None]:
    langsmith.set_runtime_overrides()
    yield
    langsmith.set_runtime_overrides()


@pytest.fixture
def thread_hops(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of what LangSmith handed to its thread pool."""
    hops: list[str] = []
    default = _aiter._default_aio_to_thread

    async def counted(ctx: contextvars.Context, func: Callable[..., Any], /, *a: Any, **k: Any):
        hops.append(getattr(func, "__name__", repr(func)))
        return await default(ctx, func, *a, **k)

    monkeypatch.setattr(_aiter, "_default_aio_to_thread", counted)
    return hops


async def run_three_steps(root: Path) -> None:
    turns: list[dict[str, Any]] = [
        {"tool_calls": [{"name": "execute", "args": {"command": "true"}}]} for _ in range(3)
    ]
    model = graphton.ScriptedChatModel(script=graphton.Script.from_data([*turns, {"text": "ok"}]))
    agent = graphton.create_deep_agent(
        model=model, system_prompt="test", sandbox=graphton.FilesystemBackend(root)
    )
    await agent.ainvoke({"messages": [{"role": "user", "content": "go"}]})


async def test_without_the_override_every_hook_hops_to_a_thread(
    tmp_path: Path, thread_hops: list[str]
) -> None:
    await run_three_steps(tmp_path)
    assert len(thread_hops) >= 2 * 3  # a set-up and an end per hook, several hooks a step


async def test_with_it_no_hook_hops_when_nothing_is_traced(
    tmp_path: Path, thread_hops: list[str]
) -> None:
    assert tracing.skip_langsmith_thread_hops()
    await run_three_steps(tmp_path)
    assert thread_hops == []


async def test_when_tracing_is_on_the_bookkeeping_still_goes_to_langsmiths_thread() -> None:
    handed_over: list[str] = []
    ran_in: list[int] = []

    async def default(ctx: contextvars.Context, func: Callable[[], None]) -> None:
        handed_over.append(func.__name__)
        ctx.run(func)

    def bookkeeping() -> None:
        ran_in.append(threading.get_ident())

    with tracing_context(enabled=True):
        traced = contextvars.copy_context()
    await tracing._in_place_unless_tracing(default, traced, bookkeeping)
    assert handed_over == ["bookkeeping"]

    with tracing_context(enabled=False):
        untraced = contextvars.copy_context()
    await tracing._in_place_unless_tracing(default, untraced, bookkeeping)
    assert handed_over == ["bookkeeping"]
    assert ran_in == [threading.get_ident()] * 2


def test_a_programs_own_override_stands() -> None:
    async def own(default: Any, ctx: contextvars.Context, func: Any, /, *a: Any, **k: Any) -> Any:
        return ctx.run(func, *a, **k)

    langsmith.set_runtime_overrides(aio_to_thread=own)
    assert tracing.skip_langsmith_thread_hops() is False
    from langsmith._runtime_overrides import get_runtime_overrides

    assert get_runtime_overrides().aio_to_thread is own
    langsmith.set_runtime_overrides()
    assert tracing.skip_langsmith_thread_hops() is True
    assert tracing.skip_langsmith_thread_hops() is True  # installing twice is harmless
