"""`LoopHome`: the one event loop an SDK client belongs to, and getting work onto it.

The `daytona` SDK's async client keeps HTTP sessions that belong to the loop
that made them. Work awaited on another loop (a caller's `asyncio.run` in a
thread) is handed to the owner's loop; blocking calls from a thread without a
loop go to the owner's loop too, or, in a plain synchronous program, to a loop
of the home's own in a background thread, kept for every later call. When the
owner loop is gone, so is the client it made: `forget` is told, and the loop at
hand becomes the owner.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from graphton.errors import SandboxError

Result = TypeVar("Result")


class LoopHome:
    def __init__(self, forget: Callable[[], None]) -> None:
        """`forget()` drops what belonged to a loop that is gone (it may refuse by raising)."""
        self._forget = forget
        self.loop: asyncio.AbstractEventLoop | None = None
        self._own: asyncio.AbstractEventLoop | None = None

    def claim(self) -> None:
        """The running loop becomes the owner (it is about to make the client)."""
        self.loop = asyncio.get_running_loop()

    async def run(self, work: Callable[[], Awaitable[Result]]) -> Result:
        """`await work()` on the owner loop, whichever loop awaits this."""
        current = asyncio.get_running_loop()
        loop = self.loop
        if loop is None or loop is current:
            return await work()
        if loop.is_running():
            owned: Coroutine[Any, Any, Result] = _awaiting(work)
            return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(owned, loop))
        self._move_to(current)
        return await work()

    def block(self, work: Callable[[], Coroutine[Any, Any, Result]]) -> Result:
        """`work()` to its end on the owner loop, from a thread that is not running it."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        loop = self.loop
        if loop is None or not loop.is_running():
            loop = self._private_loop()
            self._move_to(loop)
        if running is loop:
            raise SandboxError(
                "a blocking DaytonaBackend method was called on its own event loop; "
                "use the async method (aexecute, aupload_files, ...) instead"
            )
        return asyncio.run_coroutine_threadsafe(work(), loop).result()

    def shut(self) -> None:
        """End the home's own loop and its thread, if it made one."""
        own, self._own = self._own, None
        if own is not None and not own.is_closed():
            own.call_soon_threadsafe(own.stop)
        if own is not None and self.loop is own:
            self.loop = None

    def _move_to(self, loop: asyncio.AbstractEventLoop) -> None:
        self._forget()
        self.loop = loop

    def _private_loop(self) -> asyncio.AbstractEventLoop:
        if self._own is None or self._own.is_closed():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="daytona-backend", daemon=True).start()
            self._own = loop
        return self._own


async def _awaiting(work: Callable[[], Awaitable[Result]]) -> Result:
    return await work()
