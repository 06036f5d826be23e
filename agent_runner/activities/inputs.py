"""Activity arguments arrive raw and are decoded here, by declared type.

Decoding inside the activity (not in the SDK before it) lets an undecodable
payload fail as a non-retryable `ApplicationError` that says what is wrong;
the SDK's own decoding failure would be retried forever. For the same reason
`ArgumentCheck` refuses a wrong number of arguments before the activity runs
(the SDK would call it anyway and fail with a retryable `TypeError`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar

import temporalio.activity
from temporalio.common import RawValue
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

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


def parameter_names(fn: Callable[..., Any]) -> list[str] | None:
    """The positional parameters an activity takes; None when it takes any number."""
    names = []
    for parameter in inspect.signature(fn).parameters.values():
        if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
            return None
        if parameter.kind in (
            inspect.Parameter.POSITIONAL_ONLY,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
        ):
            names.append(parameter.name)
    return names


class _ArgumentCheckInbound(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        expected = parameter_names(input.fn)
        if expected is not None and len(input.args) != len(expected):
            activity_type = temporalio.activity.info().activity_type
            raise caller_error(
                f"{activity_type} takes {len(expected)} argument"
                f"{'' if len(expected) == 1 else 's'} ({', '.join(expected)}), "
                f"got {len(input.args)}"
            )
        return await super().execute_activity(input)


class ArgumentCheck(Interceptor):
    """A worker interceptor: a wrong number of arguments is a non-retryable `InvalidInput`."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _ArgumentCheckInbound(next)
