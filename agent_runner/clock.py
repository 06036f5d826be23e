"""Times as the wire contract writes them: RFC 3339, UTC, milliseconds, `Z`."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
