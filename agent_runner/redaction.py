"""Masking secret values wherever text leaves the runner: logs, status, errors.

An execution's secrets (environment values marked `is_secret`) are registered
with the worker's `SecretRegistry` for as long as it runs; the registry's log
filter masks them in every log line of every library, and each execution's
`Redactor` masks them in the status and in error messages.

Masking works on whole values: `redact_message` passes every string of a
protobuf message (map keys and `Struct` keys included) through a redactor, and
`Redactor.unfinished_tail` says how much of a streamed text to hold back so that
the beginning of a secret whose end has not arrived yet is never let out.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from google.protobuf import descriptor, message

from agent_runner.secrets import MASK


class Redactor:
    """Replaces every occurrence of the given secret values with `***`."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        values = sorted({s for s in secrets if s}, key=len, reverse=True)
        self.secrets: tuple[str, ...] = tuple(values)
        """The masked values, longest first."""
        # Longest first, so a secret that contains another is masked whole.
        self._pattern = re.compile("|".join(re.escape(v) for v in values)) if values else None
        self._bytes_pattern = (
            re.compile(b"|".join(re.escape(v.encode()) for v in values)) if values else None
        )

    def __call__(self, text: str) -> str:
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(MASK, text)

    @property
    def active(self) -> bool:
        return self._pattern is not None

    @property
    def max_match_length(self) -> int:
        """The longest text this redactor replaces, so a stream masker holds back no
        more than a secret's length at a chunk boundary (graphton's `BoundedFilter`)."""
        return len(self.secrets[0]) if self.secrets else 0

    def found_in(self, data: bytes) -> bool:
        """Whether any secret's UTF-8 bytes occur in `data` (a serialized message, say:
        protobuf keeps strings verbatim, so a secret in any field shows here)."""
        return self._bytes_pattern is not None and self._bytes_pattern.search(data) is not None

    def unfinished_tail(self, text: str) -> int:
        """Length of the longest end of `text` that a secret starts with (and is longer
        than): what a stream must hold back until the next piece says more."""
        if not self.secrets:
            return 0
        longest = min(len(self.secrets[0]) - 1, len(text))
        for size in range(longest, 0, -1):
            tail = text[-size:]
            if any(len(s) > size and s.startswith(tail) for s in self.secrets):
                return size
        return 0


def redact_json(value: Any, redact: Callable[[str], str]) -> Any:
    """A JSON-like value with every string masked, mapping keys included."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {redact(str(k)): redact_json(v, redact) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_json(v, redact) for v in value]
    return value


def redact_message(msg: message.Message, redact: Callable[[str], str]) -> None:
    """Mask every string of a protobuf message in place: fields, lists, map keys and
    values, `Struct` keys, at any depth. One pass, whatever the message's shape."""
    for field, value in msg.ListFields():
        if field.type == descriptor.FieldDescriptor.TYPE_STRING:
            if field.is_repeated:
                value[:] = [redact(v) for v in value]
            else:
                setattr(msg, field.name, redact(value))
        elif field.type == descriptor.FieldDescriptor.TYPE_MESSAGE:
            entry = field.message_type
            if entry is not None and entry.GetOptions().map_entry:
                _redact_map(value, entry, redact)
            elif field.is_repeated:
                for item in value:
                    redact_message(item, redact)
            else:
                redact_message(value, redact)


def _redact_map(
    entries: Any, entry_type: descriptor.Descriptor, redact: Callable[[str], str]
) -> None:
    key_is_text = entry_type.fields_by_name["key"].type == descriptor.FieldDescriptor.TYPE_STRING
    value_field = entry_type.fields_by_name["value"]
    value_is_message = value_field.type == descriptor.FieldDescriptor.TYPE_MESSAGE
    value_is_text = value_field.type == descriptor.FieldDescriptor.TYPE_STRING
    for key in list(entries.keys()):
        new_key = redact(key) if key_is_text else key
        if value_is_message:
            redact_message(entries[key], redact)
            if new_key != key:
                entries[new_key].CopyFrom(entries[key])
                del entries[key]
        else:
            value = entries[key]
            if value_is_text:
                value = redact(value)
            if new_key != key:
                del entries[key]
            entries[new_key] = value


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
