"""A running command's output, as it comes, for whoever watches the run.

The runner watches commands by tool call: it sets a listener for the duration of
one `execute` tool call (`listening`), and the local sandbox, which runs the
command in that call's context, hands the listener the command's text as it
arrives: stdout and stderr as they interleave, decoded, and through the
sandbox's output filter (masked as the result is: a secret split between two
reads is still masked, see `graphton.sandbox.masking`). Only the head the result
itself keeps (`max_output_bytes` per stream) is handed on, so watching costs
what the result costs, however much a command prints.
"""

from __future__ import annotations

import codecs
import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar

from graphton.sandbox.masking import StreamMasker

OutputListener = Callable[[str], None]
"""Called with each piece of a command's text, masked, in order."""

_listener: ContextVar[OutputListener | None] = ContextVar("graphton_command_output", default=None)


@contextlib.contextmanager
def listening(listener: OutputListener | None) -> Iterator[None]:
    """Commands started in this context (and tasks it starts) hand their output to
    `listener`; `None` stops an outer listener from hearing them."""
    token = _listener.set(listener)
    try:
        yield
    finally:
        _listener.reset(token)


def current_listener() -> OutputListener | None:
    return _listener.get()


class LiveText:
    """One stream's bytes to the listener: decoded across reads, masked across reads,
    up to `limit` bytes (the rest is the result's and the spool's business)."""

    def __init__(
        self, listener: OutputListener, limit: int, output_filter: Callable[[str], str] | None
    ) -> None:
        self._listener = listener
        self._left = limit
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._masker = StreamMasker(output_filter) if output_filter is not None else None

    def feed(self, chunk: bytes) -> None:
        if self._left <= 0:
            return
        chunk = chunk[: self._left]
        self._left -= len(chunk)
        self._hand_on(self._decoder.decode(chunk), final=self._left <= 0)

    def close(self) -> None:
        if self._left > 0:
            self._left = 0
            self._hand_on(self._decoder.decode(b"", final=True), final=True)

    def _hand_on(self, text: str, *, final: bool) -> None:
        if self._masker is not None:
            text = self._masker.feed(text) + (self._masker.flush() if final else "")
        if text:
            self._listener(text)


__all__ = ["LiveText", "OutputListener", "current_listener", "listening"]
