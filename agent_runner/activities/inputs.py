"""Activity arguments arrive raw and are decoded here, by declared type.

Decoding inside the activity (not in the SDK before it) lets an undecodable
payload fail as a non-retryable `ApplicationError` that says what is wrong;
the SDK's own decoding failure would be retried forever.
"""

from __future__ import annotations

from typing import TypeVar

import temporalio.activity
from temporalio.common import RawValue

from agent_runner.activities.errors import caller_error
from agent_runner.converter import PayloadDecodeError

Decoded = TypeVar("Decoded")


def decode_argument(raw: object, declared: type[Decoded], name: str) -> Decoded:
    """`raw` as `declared`, or a non-retryable error naming the parameter."""
    if isinstance(raw, declared):
        return raw
    if not isinstance(raw, RawValue):
        raise caller_error(
            f"argument {name!r} should be a {declared.__name__}, got {type(raw).__name__}"
        )
    converter = temporalio.activity.payload_converter()
    try:
        value = converter.from_payload(raw.payload, declared)
    except (PayloadDecodeError, ValueError, TypeError) as err:
        raise caller_error(f"argument {name!r} is not a valid {declared.__name__}: {err}") from err
    if not isinstance(value, declared):
        raise caller_error(
            f"argument {name!r} should be a {declared.__name__}, got {type(value).__name__}"
        )
    return value
