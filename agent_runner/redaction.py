"""Masking secret values wherever text leaves the runner: logs, status, errors.

An execution's secrets (environment values marked `is_secret`) are registered
with the worker's `SecretRegistry` for as long as it runs; the registry's log
filter masks them in every log line of every library, and each execution's
`Redactor` masks them in the status and in error messages.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable

from agent_runner.secrets import MASK


class Redactor:
    """Replaces every occurrence of the given secret values with `***`."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        values = sorted({s for s in secrets if s}, key=len, reverse=True)
        # Longest first, so a secret that contains another is masked whole.
        self._pattern = re.compile("|".join(re.escape(v) for v in values)) if values else None

    def __call__(self, text: str) -> str:
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(MASK, text)

    @property
    def active(self) -> bool:
        return self._pattern is not None


class SecretRegistry:
    """The secrets of every running execution of this worker, for the log filter."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_owner: dict[str, frozenset[str]] = {}
        self._redactor = Redactor()

    def register(self, owner: str, secrets: Iterable[str]) -> None:
        with self._lock:
            self._by_owner[owner] = frozenset(s for s in secrets if s)
            self._rebuild()

    def unregister(self, owner: str) -> None:
        with self._lock:
            self._by_owner.pop(owner, None)
            self._rebuild()

    def _rebuild(self) -> None:
        self._redactor = Redactor(s for values in self._by_owner.values() for s in values)

    def redact(self, text: str) -> str:
        return self._redactor(text)

    def log_filter(self) -> logging.Filter:
        return _RedactingFilter(self)


class _RedactingFilter(logging.Filter):
    def __init__(self, registry: SecretRegistry) -> None:
        super().__init__()
        self._registry = registry

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = self._registry.redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and record.exc_info[1] is not None:
            # Tracebacks are rendered later from exc_info; render and mask them now.
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = self._registry.redact(text)
        return True


def install_log_filter(registry: SecretRegistry) -> None:
    """Mask registered secrets in every handler of the root logger."""
    secret_filter = registry.log_filter()
    for handler in logging.getLogger().handlers:
        handler.addFilter(secret_filter)
