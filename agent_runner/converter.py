"""The payload converter that lets Java and Go workflows talk to this Python worker.

Python's default `json/protobuf` converter finds the message class only by the
payload's `messageType` metadata and rejects unknown fields. The Java SDK may
omit `messageType`, and a newer peer schema adds fields an older worker does
not know. This converter decodes by the parameter's declared type first, falls
back to `messageType`, ignores unknown fields, and still writes `messageType`
(and compact proto3 JSON) on everything it encodes.

A TypeScript or Java client without a protobuf converter sends the same proto3
JSON as `json/plain`; a parameter declared as a protobuf message decodes it
the same way. A `messageType` that contradicts the declared type is logged:
the declared type wins, but a peer sending the wrong message should be seen.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import google.protobuf.json_format
import google.protobuf.message
import google.protobuf.symbol_database
import temporalio.api.common.v1
import temporalio.converter

from agent_runner import wire  # noqa: F401  # registers every contract message by name
from agent_runner.errors import AgentRunnerError

log = logging.getLogger(__name__)


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
        return _parse(payload, _message_class(payload, type_hint))


class InteropJSONPlainPayloadConverter(temporalio.converter.JSONPlainPayloadConverter):
    """`json/plain` that also decodes proto3 JSON into a parameter declared as a message."""

    def from_payload(
        self,
        payload: temporalio.api.common.v1.Payload,
        type_hint: type | None = None,
    ) -> Any:
        if isinstance(type_hint, type) and issubclass(type_hint, google.protobuf.message.Message):
            return _parse(payload, type_hint)
        return super().from_payload(payload, type_hint)


def _parse(
    payload: temporalio.api.common.v1.Payload,
    message_class: type[google.protobuf.message.Message],
) -> google.protobuf.message.Message:
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
    message_type = payload.metadata.get("messageType", b"").decode()
    if isinstance(type_hint, type) and issubclass(type_hint, google.protobuf.message.Message):
        declared = type_hint.DESCRIPTOR.full_name
        if message_type and message_type != declared:
            log.warning(
                "payload says messageType %s but the parameter declares %s: decoded as %s",
                message_type,
                declared,
                declared,
            )
        return type_hint
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
                else InteropJSONPlainPayloadConverter()
                if isinstance(c, temporalio.converter.JSONPlainPayloadConverter)
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
