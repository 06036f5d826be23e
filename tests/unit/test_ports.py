"""Picking ports for servers started later: never in the range the OS hands out itself."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent_runner.local import temporal_server
from agent_runner.local.temporal_server import free_port


def ephemeral_range() -> tuple[int, int]:
    low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
    return int(low), int(high)


def test_picked_ports_are_free_and_below_the_ephemeral_range() -> None:
    low, _ = ephemeral_range()
    for _ in range(20):
        port = free_port(also_free=(1000,))
        assert temporal_server.FIRST_PICKED_PORT <= port < low - 1000
        for taken in (port, port + 1000):
            with socket.socket() as server:
                server.bind(("127.0.0.1", taken))  # would raise if it were not free


@pytest.fixture
def listener() -> Iterator[int]:
    with socket.socket() as server:
        server.bind(("127.0.0.1", free_port()))
        server.listen()
        yield server.getsockname()[1]


def test_a_taken_port_or_a_taken_offset_is_skipped(
    listener: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    free = free_port()
    offers = iter([listener, listener - 1000, free])
    monkeypatch.setattr(temporal_server.random, "randrange", lambda *_: next(offers))
    assert free_port(also_free=(1000,)) == free
