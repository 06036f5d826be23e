"""A command's whole output, kept by the sandbox under `/.agent-runner/outputs/`, page by page.

The file can be megabytes: the page asks for one page at a time and gets it
masked with the execution's secret values. A page never ends inside a secret
(so no part of one escapes the mask) nor inside a UTF-8 character. The file is
opened without following links: an agent can write into its sandbox, and must
not turn the web view into a reader of any other file.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from agent_runner.errors import AgentRunnerError

OUTPUT_FOLDER = Path(".agent-runner") / "outputs"
PAGE_BYTES = 64 * 1024
"""A page the browser lays out at once (about 10,000 short lines)."""
OUTPUT_NAME = re.compile(r"^[0-9A-Za-z_-]{1,64}\.(?:stdout|stderr)$")


class OutputError(AgentRunnerError):
    """A kept output that cannot be read; the message says why."""


@dataclass(frozen=True)
class OutputPage:
    name: str
    offset: int
    """Where this page starts, in bytes of the file (at or before the offset asked for)."""
    next_offset: int
    """Where the next page starts; equal to `size` on the last page."""
    size: int
    text: str

    def as_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "offset": self.offset,
            "next_offset": self.next_offset,
            "size": self.size,
            "text": self.text,
        }


def read_page(
    sandbox_root: Path,
    name: str,
    offset: int,
    *,
    secrets: Iterable[str] = (),
    mask: Callable[[str], str] = lambda text: text,
    page_bytes: int = PAGE_BYTES,
) -> OutputPage:
    """The page of `name` that starts at `offset` (moved back to a whole character)."""
    if not OUTPUT_NAME.match(name):
        raise OutputError(f"{name!r} is not the name of a kept output")
    folder = (sandbox_root / OUTPUT_FOLDER).resolve()
    if not folder.is_relative_to(sandbox_root.resolve()):
        raise OutputError("the outputs folder leads outside the sandbox; not reading it")
    try:
        descriptor = os.open(folder / name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        raise OutputError(f"the kept output {name} is no longer in the sandbox") from None
    except OSError as err:
        raise OutputError(f"cannot read the kept output {name}: {err.strerror}") from None
    with os.fdopen(descriptor, "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise OutputError(f"the kept output {name} is not a regular file")
        size = info.st_size
        encoded = [s.encode() for s in secrets if s]
        margin = max((len(s) for s in encoded), default=1) - 1
        offset = min(max(offset, 0), size)
        window_start = max(offset - margin - 3, 0)
        file.seek(window_start)
        window = file.read(min(offset + page_bytes, size) + margin + 3 - window_start)
    start, end = _page_bounds(window, window_start, offset, offset + page_bytes, size, encoded)
    text = window[start - window_start : end - window_start].decode("utf-8", errors="replace")
    return OutputPage(name=name, offset=start, next_offset=end, size=size, text=mask(text))


def _page_bounds(
    window: bytes, base: int, start: int, end: int, size: int, secrets: list[bytes]
) -> tuple[int, int]:
    """`start` and `end` moved to character boundaries, then out of any secret they cut."""
    end = min(end, size)
    while start > base and start < size and _continuation(window[start - base]):
        start -= 1
    while end > start and end < size and end - base < len(window):
        if not _continuation(window[end - base]):
            break
        end -= 1
    for secret in secrets:
        found = window.find(secret)
        while found != -1:
            first, last = base + found, base + found + len(secret)
            if first < start < last:
                start = first
            if first < end < last:
                end = last
            found = window.find(secret, found + 1)
    return start, min(max(end, start), size)


def _continuation(byte: int) -> bool:
    return byte & 0b1100_0000 == 0b1000_0000
