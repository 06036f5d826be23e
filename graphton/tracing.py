"""LangSmith's bookkeeping around middleware hooks, kept on the loop when nothing is traced.

LangChain's agent factory wraps every middleware hook (each model call and each
tool call, for every middleware that has one) in LangSmith's `traceable`, even
with tracing off. In async code that wrapper hands its set-up and its end to a
thread-pool thread and back, twice per hook: a deep agent's step pays about
eighteen such round trips, some 15% of a scripted step on a 2-CPU machine
(bench/FINDINGS.md). With tracing off that bookkeeping only decides that there
is nothing to record, so running it in place changes nothing else.
`skip_langsmith_thread_hops()` installs LangSmith's own runtime override for
that: with tracing on, in any form (environment, `tracing_context`, a parent
run), the override defers to LangSmith's default thread hop.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger(__name__)

AioToThread = Callable[..., Awaitable[Any]]


async def _in_place_unless_tracing(
    default: AioToThread,
    context: contextvars.Context,
    func: Callable[..., Any],
    /,
    *args: Any,
    **kwargs: Any,
) -> Any:
    from langsmith.utils import tracing_is_enabled

    if context.run(tracing_is_enabled):
        return await default(context, func, *args, **kwargs)
    return context.run(func, *args, **kwargs)


def skip_langsmith_thread_hops() -> bool:
    """Install the override for this process unless one is installed already (a
    program's own choice stands). Returns whether ours is the one in force."""
    import langsmith

    try:  # LangSmith sets overrides publicly but has no public getter
        from langsmith._runtime_overrides import get_runtime_overrides
    except ImportError:
        log.info("this LangSmith has no runtime overrides; its thread hops stay")
        return False
    current = get_runtime_overrides().aio_to_thread
    if current is _in_place_unless_tracing:
        return True
    if current is not None:
        log.info("LangSmith already has a runtime override; its thread hops stay as set")
        return False
    langsmith.set_runtime_overrides(aio_to_thread=_in_place_unless_tracing)
    return True


__all__ = ["skip_langsmith_thread_hops"]
