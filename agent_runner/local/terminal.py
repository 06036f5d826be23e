"""Untrusted text made safe for a terminal.

Model text, tool results, errors and file names reach `run`, `logs` and the
live view from an agent, which anyone who writes a prompt or a file can steer.
A terminal obeys control sequences in what it prints (OSC 52 writes the
clipboard, `ESC [2J` clears the screen, `ESC ]8` forges links), so every
control character is shown as its escape (`\\x1b`) instead of being sent; and
Rich markup is never parsed in such text (`arr[/2]` would be a closing tag):
it becomes a `rich.text.Text`, which Rich prints as it is.
"""

from __future__ import annotations

import re

from rich.text import Text

# C0 controls except tab and newline, DEL, and the C1 controls (0x80-0x9f: a
# terminal reads 0x9b as CSI and 0x9d as OSC, like ESC [ and ESC ]).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SEPARATORS = re.compile("[\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")
"""Line separators and bidirectional overrides: they reorder or break what is shown."""


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def clean(text: str) -> str:
    """`text` with every control character shown as its escape, never sent as it is."""
    return _SEPARATORS.sub(_escaped, _CONTROL.sub(_escaped, text))


def safe_text(text: str, style: str = "") -> Text:
    """Untrusted text as a Rich `Text`: control characters escaped, no markup parsed."""
    return Text(clean(text), style=style)


__all__ = ["clean", "safe_text"]
