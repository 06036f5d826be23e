"""The one gRPC channel to the backend: bearer auth on every call, TLS per config."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc

from agent_runner.config import BackendConfig

MAX_MESSAGE_BYTES = 64 * 1024 * 1024
"""Largest message sent or received: skill artifacts (ZIPs) travel in one message."""

_KEEPALIVE_OPTIONS = [
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.keepalive_permit_without_calls", 1),
]


class _BearerAuth:
    """Adds `authorization: Bearer <key>` to a call's metadata."""

    def __init__(self, reveal_key: Callable[[], str]) -> None:
        # A function, not the string: the key stays inside its Secret until sent.
        self._reveal_key = reveal_key

    def with_auth(self, details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
        metadata = grpc.aio.Metadata(*(details.metadata or ()))
        metadata.add("authorization", f"Bearer {self._reveal_key()}")
        return grpc.aio.ClientCallDetails(
            method=details.method,
            timeout=details.timeout,
            metadata=metadata,
            credentials=details.credentials,
            wait_for_ready=details.wait_for_ready,
        )


# grpc.aio files each interceptor under the first call kind it matches, so one
# object cannot serve both: unary and server-streaming calls get one each.
class _UnaryAuth(grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[type-arg]
    def __init__(self, auth: _BearerAuth) -> None:
        self._auth = auth

    async def intercept_unary_unary(
        self, continuation: Any, client_call_details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        return await continuation(self._auth.with_auth(client_call_details), request)


class _StreamAuth(grpc.aio.UnaryStreamClientInterceptor):  # type: ignore[type-arg]
    def __init__(self, auth: _BearerAuth) -> None:
        self._auth = auth

    async def intercept_unary_stream(
        self, continuation: Any, client_call_details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        return await continuation(self._auth.with_auth(client_call_details), request)


def open_channel(config: BackendConfig) -> grpc.aio.Channel:
    options = [
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        *_KEEPALIVE_OPTIONS,
    ]
    # grpc-stubs types interceptors as a placeholder that only Any satisfies.
    auth = _BearerAuth(config.api_key.reveal)
    interceptors: list[Any] = [_UnaryAuth(auth), _StreamAuth(auth)]
    if config.tls:
        return grpc.aio.secure_channel(
            config.endpoint,
            grpc.ssl_channel_credentials(),
            options=options,
            interceptors=interceptors,
        )
    return grpc.aio.insecure_channel(config.endpoint, options=options, interceptors=interceptors)
