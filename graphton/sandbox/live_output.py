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

import contextlib
import logging
from collections.abc import Callable, Iterator
from contextvars import ContextVar

from graphton.sandbox.masking import MaskedDecoder

OutputListener = Callable[[str], None]
"""Called with each piece of a command's text, masked, in order."""

log = logging.getLogger(__name__)

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
        self._text = MaskedDecoder(output_filter or _unmasked, errors="replace")

    def feed(self, chunk: bytes) -> None:
        if self._left <= 0:
            return
        chunk = chunk[: self._left]
        self._left -= len(chunk)
        self._hand_on(chunk, final=self._left <= 0)

    def close(self) -> None:
        if self._left > 0:
            self._left = 0
            self._hand_on(b"", final=True)

    def _hand_on(self, chunk: bytes, *, final: bool) -> None:
        text = self._text.feed(chunk, final=final)
        if not text:
            return
        try:
            self._listener(text)
        except Exception:
            # Watching is a view of the command, not part of it: the command, its
            # result and its spool go on; this stream is no longer handed on.
            self._left = 0
            log.exception("a command's live output could not be handed on; its result is kept")


def _unmasked(text: str) -> str:
    return text


_unmasked.max_match_length = 0  # type: ignore[attr-defined]  # nothing held back


__all__ = ["LiveText", "OutputListener", "current_listener", "listening"]
