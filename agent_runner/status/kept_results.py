"""`ResultKeeper`: a tool result too long for the status is kept whole in the local sandbox.

The status keeps the first 16 KiB of a tool result; the model read more (a
command's output up to 1 MiB per stream). Past 1 MiB the sandbox itself keeps a
command's whole output in `/.agent-runner/outputs/`; below that, nothing kept
what the status cut, so the web view could not show it. In the filesystem
sandbox the runner writes such a result (masked, as the status holds it) next to
the sandbox's own kept outputs, and the status's cut note names the file. A
budget per execution bounds the disk it takes; past it, the note says only what
was cut, as before.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from pathlib import Path

log = logging.getLogger(__name__)

KEPT_RESULTS_FOLDER = ".agent-runner/outputs"
"""Where the sandbox keeps commands' whole output; the web view pages files there."""
KEPT_RESULTS_BYTES = 64 * 1024 * 1024
"""Bytes of whole results one execution may keep."""
_UNSAFE = re.compile(r"[^0-9A-Za-z_-]")
MAX_STEM = 64
"""Longest file name (before `.stdout`) the web view pages."""


class ResultKeeper:
    def __init__(
        self, sandbox_root: Path, execution_id: str, budget_bytes: int = KEPT_RESULTS_BYTES
    ) -> None:
        """`execution_id` goes into each file's name: executions of a session share the
        workspace, and tool call ids repeat across them (the scripted model's do)."""
        self._folder = sandbox_root / KEPT_RESULTS_FOLDER
        self._execution = _UNSAFE.sub("_", execution_id)[:24]
        self._left = budget_bytes
        self._failed = False

    def __call__(self, call_id: str, text: str) -> str | None:
        """Keep `text` (already masked) as the whole result of `call_id`; where the agent
        would find it, or None when it was not kept."""
        data = text.encode("utf-8", errors="replace")
        if self._failed or len(data) > self._left:
            return None
        name = f"{self._stem(call_id)}.stdout"
        try:
            self._folder.mkdir(parents=True, exist_ok=True)
            flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
            with os.fdopen(os.open(self._folder / name, flags, 0o600), "wb") as file:
                file.write(data)
        except OSError as err:
            # Not worth failing a run over: the status still says what it cut.
            self._failed = True
            log.warning("whole tool results cannot be kept in %s: %s", self._folder, err)
            return None
        self._left -= len(data)
        return f"/{KEPT_RESULTS_FOLDER}/{name}"

    def _stem(self, call_id: str) -> str:
        """`result-<execution>-<call>`, within the 64 characters the web view accepts;
        a call id too long for that is replaced by its digest, never cut (cut ids of
        two calls could be the same)."""
        call = _UNSAFE.sub("_", call_id)
        stem = f"result-{self._execution}-{call}"
        if len(stem) <= MAX_STEM:
            return stem
        digest = hashlib.sha256(call_id.encode()).hexdigest()[:16]
        return f"result-{self._execution}-{digest}"


__all__ = ["KEPT_RESULTS_BYTES", "ResultKeeper"]
