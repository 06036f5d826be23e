"""A command's output, bounded twice: a head in memory, the rest (up to a cap) on disk, masked.

Each stream (stdout, stderr) keeps its first `limit` bytes in memory; that head is
what the result carries. From the first byte past the limit the stream is also
written, from its start and through the backend's output filter, to a spool file
in the sandbox, so the model can read what it was not shown. The spool has caps
(per stream, and a budget shared by every command of the backend); past them, and
after a write error such as a full disk, bytes are counted, not kept. The result's
note says exactly what was kept where.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from graphton.sandbox.live_output import LiveText, OutputListener
from graphton.sandbox.masking import MaskedDecoder, StreamMasker


class SpoolBudget:
    """Bytes the spool files of one backend (one execution) may still take on disk."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.left = total

    def take(self, wanted: int) -> bool:
        """Reserve `wanted` bytes, all or none."""
        if wanted > self.left:
            return False
        self.left -= wanted
        return True


@dataclass(frozen=True)
class SpoolTarget:
    """Where one stream's spool goes, on the host and as the model names it."""

    path: Path
    virtual: str
    cap: int
    """Most bytes this stream may write."""
    budget: SpoolBudget


class StreamCapture:
    """One stream of one command: the exact head in memory, the whole stream spooled."""

    def __init__(
        self,
        limit: int,
        spool: SpoolTarget | None = None,
        output_filter: Callable[[str], str] | None = None,
        live: OutputListener | None = None,
    ) -> None:
        """`live`: also hand the head's text, masked, to this listener as it arrives."""
        self.limit = limit
        self.head = bytearray()
        self.total = 0
        self._spool = spool
        self._writer: _SpoolWriter | None = None
        self._filter = output_filter
        self._live = LiveText(live, limit, output_filter) if live is not None else None

    @property
    def dropped(self) -> int:
        """Bytes neither in the head nor in the spool file."""
        if self.total <= self.limit:
            return 0
        kept = len(self.head) if self._writer is None else max(self._writer.kept, len(self.head))
        return max(self.total - kept, 0)

    @property
    def spool_error(self) -> str | None:
        return self._writer.error if self._writer is not None else None

    def feed(self, chunk: bytes) -> None:
        overflowing = self.total + len(chunk) > self.limit
        if self._writer is None and self._spool is not None and overflowing:
            self._writer = _SpoolWriter(self._spool, self._filter)
            # The spool holds the whole stream: what the head kept so far, then the rest.
            self._writer.write(bytes(self.head))
        self.total += len(chunk)
        room = self.limit - len(self.head)
        if room > 0:
            self.head += chunk[:room]
        if self._writer is not None:
            self._writer.write(chunk)
        if self._live is not None:
            self._live.feed(chunk)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        if self._live is not None:
            self._live.close()

    def text(self) -> str:
        """The head as text, masked, after a note saying what was kept where when it is not all."""
        decoded = self.head.decode("utf-8", errors="replace")
        if self.total <= self.limit:
            return self._filter(decoded) if self._filter is not None else decoded
        shown, held = decoded, 0
        if self._filter is not None:
            # The head ends where the stream went on: its last characters may be the
            # start of a secret, so they are held back as on a stream.
            masker = StreamMasker(self._filter)
            shown = masker.feed(decoded)
            held = len(masker.pending.encode("utf-8", errors="replace"))
        return f"{self._note(len(self.head) - held)}\n{shown}"

    def _note(self, shown: int) -> str:
        head = f"[output too long: the first {shown} of {self.total} bytes follow"
        writer = self._writer
        if writer is None:
            return f"{head}; the other {self.total - shown} bytes were not kept]"
        where = writer.target.virtual
        if writer.kept == self.total:
            return f"{head}; the whole output is in {where}]"
        if writer.kept == 0:
            kept = "none of it could be kept on disk"
        else:
            kept = f"its first {writer.kept} bytes are in {where}"
        not_kept = self.total - max(writer.kept, shown)
        why = writer.stopped_because
        return f"{head}; {kept}; the other {not_kept} bytes were not kept ({why})]"


class _SpoolWriter:
    """Writes one stream to its spool file, masked, until a cap or an error stops it.

    `kept` counts the stream's bytes whose (masked) text is on disk. Text the
    masker still holds back when writing stops is not written: it may end with
    the beginning of a secret.
    """

    def __init__(self, target: SpoolTarget, output_filter: Callable[[str], str] | None) -> None:
        self.target = target
        self.kept = 0
        self.error: str | None = None
        self.stopped_because = ""
        self._fed = 0
        self._written = 0
        # surrogateescape: bytes that are not UTF-8 reach the file as they came.
        self._masker = (
            MaskedDecoder(output_filter, errors="surrogateescape")
            if output_filter is not None
            else None
        )
        self._fd: int | None = None
        try:
            target.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(
                target.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600
            )
        except OSError as err:
            self._stop_on_error(err)

    @property
    def _stopped(self) -> bool:
        return self._fd is None or bool(self.stopped_because)

    def write(self, data: bytes) -> None:
        if self._stopped or not data:
            return
        room = self.target.cap - self._fed
        self._feed(data[:room], final=False)
        if len(data) > room:
            self._stop(f"the spool keeps at most {self.target.cap} bytes per stream")

    def close(self) -> None:
        if not self._stopped:
            self._feed(b"", final=True)
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
            if self._written == 0:
                self.target.path.unlink(missing_ok=True)

    def _feed(self, data: bytes, *, final: bool) -> None:
        self._fed += len(data)
        if self._masker is None:  # nothing to mask: the bytes as they are
            if data and self._put(data):
                self.kept = self._fed
            return
        out = self._masker.feed(data, final=final).encode("utf-8", errors="surrogateescape")
        if out and not self._put(out):
            return
        self.kept = self._fed - self._masker.pending_bytes

    def _put(self, out: bytes) -> bool:
        """Write all of `out` or none of it (a short write is undone)."""
        assert self._fd is not None
        if self._written + len(out) > self.target.cap:
            self._stop(f"the spool keeps at most {self.target.cap} bytes per stream")
            return False
        if not self.target.budget.take(len(out)):
            self._stop(f"the spool keeps at most {self.target.budget.total} bytes per execution")
            return False
        before = self._written
        try:
            view = memoryview(out)
            while view:
                count = os.write(self._fd, view)
                self._written += count
                view = view[count:]
        except OSError as err:
            self.target.budget.left += len(out)
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, before)
                self._written = before
            self._stop_on_error(err)
            return False
        return True

    def _stop_on_error(self, err: OSError) -> None:
        self.error = err.strerror or str(err)
        self._stop(f"writing {self.target.virtual} failed: {self.error}")

    def _stop(self, because: str) -> None:
        if not self.stopped_because:
            self.stopped_because = because
