"""Masking output that arrives in pieces: a secret split between two reads is still masked.

A sandbox is given one `output_filter`, a plain `str -> str` callable (the runner
passes its redactor; graphton knows nothing of what it masks). Applied to a whole
value that is enough. Output written while a command runs (the full-output spool)
arrives in chunks, and a secret can straddle two of them; `StreamMasker` makes any
such filter safe on a stream, given one fact about it:

    max_match_length: int
        The longest text the filter may replace (for a redactor: the length of its
        longest secret). Set it as an attribute of the callable. A filter without
        it is assumed to replace at most `DEFAULT_MAX_MATCH_LENGTH` characters.

    unfinished_tail: Callable[[str], int]   (optional)
        How many characters at the end of a text could be the start of a match
        (for a redactor: of a secret). Without it the masker must assume any of
        the last `max_match_length - 1` could be.

The masker holds back the end of what it has seen that could start a match (at
most `max_match_length - 1` characters) and emits a prefix only when filtering it
alone gives the same text as filtering it with what follows: no part of a secret
is ever emitted unmasked. A filter that says its unfinished tail lets output flow
on as it comes (a live view of a command that printed a secret, then waits, shows
everything up to the wait), where a bare bound would keep the last characters back
until more output arrives.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable
from typing import Protocol, runtime_checkable

DEFAULT_MAX_MATCH_LENGTH = 4096
"""Held back at a chunk boundary for a filter that does not say how long a match can be."""


@runtime_checkable
class BoundedFilter(Protocol):
    """An output filter that says how long the text it replaces can be."""

    max_match_length: int

    def __call__(self, text: str, /) -> str: ...


def max_match_length(output_filter: Callable[[str], str]) -> int:
    """How many characters a stream must look ahead so that `output_filter` sees every match."""
    length = getattr(output_filter, "max_match_length", None)
    if isinstance(length, int) and length >= 0:
        return length
    return DEFAULT_MAX_MATCH_LENGTH


class StreamMasker:
    """Applies a whole-value filter to text that arrives in pieces.

    `feed(piece)` returns the masked text that is now certain; `flush()` returns
    the rest at the end. Joined, the returns equal `output_filter` applied to the
    whole text, for any filter that replaces matches no longer than
    `max_match_length` and leaves everything else as it is (as a redactor does).
    """

    def __init__(self, output_filter: Callable[[str], str]) -> None:
        self._filter = output_filter
        self._hold = max(max_match_length(output_filter) - 1, 0)
        self._pending = ""

    @property
    def pending(self) -> str:
        """What was fed and is held back, not yet returned."""
        return self._pending

    def feed(self, piece: str) -> str:
        text = self._pending + piece
        cut = len(text) - self._held_back(text)
        if cut <= 0:
            self._pending = text
            return ""
        whole = self._filter(text)
        if whole == text:  # nothing to mask anywhere (the usual case), so not in a prefix either
            self._pending = text[cut:]
            return text[:cut]
        while cut > 0:
            head = self._filter(text[:cut])
            if whole.startswith(head):
                self._pending = text[cut:]
                return head
            # A match straddles the cut; it starts after `cut - hold - 1`, so
            # cutting before that keeps it whole in what is held back.
            cut -= self._hold + 1
        self._pending = text
        return ""

    def _held_back(self, text: str) -> int:
        """How many characters at the end of `text` may start a match still unseen."""
        unfinished_tail = getattr(self._filter, "unfinished_tail", None)
        if callable(unfinished_tail):
            return min(max(int(unfinished_tail(text)), 0), self._hold)
        return self._hold

    def flush(self) -> str:
        text, self._pending = self._pending, ""
        return self._filter(text) if text else ""


class MaskedDecoder:
    """A byte stream to masked text: UTF-8 decoded across reads (a character split
    between two reads is whole), then masked across reads (a `StreamMasker`)."""

    def __init__(self, output_filter: Callable[[str], str], errors: str) -> None:
        self._errors = errors
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors=errors)
        self._masker = StreamMasker(output_filter)

    def feed(self, data: bytes, *, final: bool = False) -> str:
        """The masked text now certain; with `final`, all the rest too."""
        text = self._masker.feed(self._decoder.decode(data, final=final))
        return text + self._masker.flush() if final else text

    @property
    def pending_bytes(self) -> int:
        """Bytes fed and not yet returned (an unfinished character, held-back text)."""
        held = self._masker.pending.encode("utf-8", errors=self._errors)
        return len(self._decoder.getstate()[0]) + len(held)


__all__ = [
    "DEFAULT_MAX_MATCH_LENGTH",
    "BoundedFilter",
    "MaskedDecoder",
    "StreamMasker",
    "max_match_length",
]
