"""The managed Temporal dev server is ready when it answers, not when its port opens."""

from __future__ import annotations

import socket

from agent_runner.local.temporal_server import TemporalDevServer, free_port


def test_a_port_that_only_listens_is_not_a_ready_server() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", free_port()))
        listener.listen()
        impostor = TemporalDevServer(port=listener.getsockname()[1])
        assert impostor._answers() is False


def test_a_started_server_answers_at_once(temporal_server: TemporalDevServer) -> None:
    assert temporal_server._answers() is True
