"""The payload converter that lets Java and Go workflows talk to this Python worker.

Python's default `json/protobuf` converter finds the message class only by the
payload's `messageType` metadata and rejects unknown fields. The Java SDK may
omit `messageType`, and a newer peer schema adds fields an older worker does
not know. This converter decodes by the parameter's declared type first, falls
back to `messageType`, ignores unknown fields, and still writes `messageType`
(and compact proto3 JSON) on everything it encodes.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import google.protobuf.json_format
import google.protobuf.message
import google.protobuf.symbol_database
import temporalio.api.common.v1
import temporalio.converter

from agent_runner import wire  # noqa: F401  # registers every contract message by name
from agent_runner.errors import AgentRunnerError


class PayloadDecodeError(AgentRunnerError):
    """A `json/protobuf` payload could not be turned into the message it should be."""


class InteropJSONProtoPayloadConverter(temporalio.converter.JSONProtoPayloadConverter):
    """`json/protobuf` that decodes by declared type and tolerates newer schemas."""

    def __init__(self) -> None:
        super().__init__(ignore_unknown_fields=True)

    def from_payload(
        self,
        payload: temporalio.api.common.v1.Payload,
        type_hint: type | None = None,
    ) -> Any:
        message_class = _message_class(payload, type_hint)
        try:
            return google.protobuf.json_format.Parse(
                payload.data, message_class(), ignore_unknown_fields=True
            )
        except google.protobuf.json_format.ParseError as err:
            raise PayloadDecodeError(
                f"payload is not a valid {message_class.DESCRIPTOR.full_name} in proto3 JSON: {err}"
            ) from err


def _message_class(
    payload: temporalio.api.common.v1.Payload, type_hint: type | None
) -> type[google.protobuf.message.Message]:
    if isinstance(type_hint, type) and issubclass(type_hint, google.protobuf.message.Message):
        return type_hint
    message_type = payload.metadata.get("messageType", b"").decode()
    if not message_type:
        raise PayloadDecodeError(
            "json/protobuf payload has no messageType and the receiving parameter "
            "declares no protobuf type, so its message type is unknown"
        )
    try:
        symbol: type[google.protobuf.message.Message] = (
            google.protobuf.symbol_database.Default().GetSymbol(message_type)
        )
    except KeyError as err:
        raise PayloadDecodeError(
            f"json/protobuf payload names messageType {message_type!r}, "
            "which this worker does not know"
        ) from err
    return symbol


class InteropPayloadConverter(temporalio.converter.CompositePayloadConverter):
    """Temporal's default converters, in their order, with the interop `json/protobuf`."""

    def __init__(self) -> None:
        defaults = temporalio.converter.DefaultPayloadConverter.default_encoding_payload_converters
        super().__init__(
            *(
                InteropJSONProtoPayloadConverter()
                if isinstance(c, temporalio.converter.JSONProtoPayloadConverter)
                else c
                for c in defaults
            )
        )


def interop_data_converter(
    codec: temporalio.converter.PayloadCodec | None = None,
) -> temporalio.converter.DataConverter:
    """The data converter every client and worker of this project uses (with the claim
    check codec when it is enabled)."""
    return dataclasses.replace(
        temporalio.converter.default(),
        payload_converter_class=InteropPayloadConverter,
        payload_codec=codec,
    )
