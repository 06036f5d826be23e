"""The one gRPC channel to the backend: bearer auth on every call, TLS per config."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc

from agent_runner.config import BackendConfig

MAX_MESSAGE_BYTES = 64 * 1024 * 1024
"""Largest message sent or received: skill artifacts (ZIPs) travel in one message."""

# Keepalive: client and server must agree, or a server answers pings it finds too
# frequent with GOAWAY `too_many_pings` and kills a silent stream (`agent-runner
# run` following a command that prints nothing). gRPC servers in Java and Go refuse,
# by default, pings more often than every 5 minutes and pings without a call in
# flight; the client stays inside both, so the platform's backend needs no special
# policy, and the local daemon accepts far more than the client sends.
CLIENT_KEEPALIVE_TIME_MS = 330_000
"""A silent call is pinged every 5.5 minutes: slower than the 5 minutes Java and Go
servers accept by default."""
SERVER_MIN_PING_INTERVAL_MS = 10_000
"""The local daemon accepts pings this often (older runners pinged every 30 s)."""

_KEEPALIVE_OPTIONS = [
    ("grpc.keepalive_time_ms", CLIENT_KEEPALIVE_TIME_MS),
    ("grpc.keepalive_timeout_ms", 20_000),
    # Ping a silent stream for as long as it lasts (the default stops after two).
    ("grpc.http2.max_pings_without_data", 0),
    # An idle channel has nothing to lose; Java and Go servers refuse such pings.
    ("grpc.keepalive_permit_without_calls", 0),
]

SERVER_KEEPALIVE_OPTIONS = [
    ("grpc.http2.min_recv_ping_interval_without_data_ms", SERVER_MIN_PING_INTERVAL_MS),
    ("grpc.keepalive_permit_without_calls", 1),
]
"""The local daemon's ping policy, looser than every client it serves."""


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
