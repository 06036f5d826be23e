"""Cloud mode keeps conversations in PostgreSQL (CHECKPOINT_DATABASE_URL): a real server."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from agent_runner import wire
from agent_runner.local.temporal_server import TemporalDevServer, free_port
from tests.integration.conftest import Stack, cloud_worker_start, running_stack

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(180)]

ax = wire.agentexecution


def postgres_binary(name: str) -> str:
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))), None
    )
    if found is None:
        raise RuntimeError(f"PostgreSQL's {name} is not installed; `make test` installs it")
    return found


def as_postgres_user(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: drop to its own user when we are root."""
    return ["runuser", "-u", "postgres", "--", *command] if os.getuid() == 0 else command


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    data = Path(tempfile.mkdtemp(prefix="agent-runner-pg-"))
    if os.getuid() == 0:
        shutil.chown(data, "postgres", "postgres")
    port = free_port()
    subprocess.run(
        as_postgres_user(
            [postgres_binary("initdb"), "-D", str(data), "-A", "trust", "-U", "runner"]
        ),
        check=True,
        capture_output=True,
    )
    pg_ctl = postgres_binary("pg_ctl")
    options = f"-p {port} -c listen_addresses=127.0.0.1 -k {data}"
    subprocess.run(
        as_postgres_user(
            [pg_ctl, "-D", str(data), "-o", options, "-l", str(data / "log"), "-w", "start"]
        ),
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql://runner@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            as_postgres_user([pg_ctl, "-D", str(data), "-m", "fast", "stop"]), check=False
        )
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture
async def cloud_stack(
    temporal_server: TemporalDevServer, tmp_path: Path, postgres_url: str
) -> AsyncIterator[Stack]:
    cloud = {"MODE": "cloud", "SANDBOX_TYPE": "filesystem", "CHECKPOINT_DATABASE_URL": postgres_url}
    async with running_stack(temporal_server, tmp_path, cloud) as stack:
        yield stack


async def test_a_session_remembers_its_conversation_in_postgres(cloud_stack: Stack) -> None:
    session_id = await cloud_stack.new_session()
    first = await cloud_stack.new_execution(
        "My name is Ada.", [{"text": "Noted, Ada."}], session_id=session_id
    )
    await (await cloud_stack.start(first)).result()
    second = await cloud_stack.new_execution(
        "What is my name?",
        [{"expect": {"history_contains": ["My name is Ada.", "Noted, Ada."]}, "text": "Ada."}],
        session_id=session_id,
    )
    result = await (await cloud_stack.start(second)).result()
    assert result.phase == ax.EXECUTION_COMPLETED
    assert not (cloud_stack.config.data_dir / "checkpoints.sqlite3").exists()


def test_an_unreachable_database_stops_the_worker_without_showing_the_url() -> None:
    url = f"postgresql://u:pg-secret-99@127.0.0.1:{free_port()}/db"
    result = cloud_worker_start({"CHECKPOINT_DATABASE_URL": url})
    assert result.returncode == 1
    assert "cannot reach the PostgreSQL of CHECKPOINT_DATABASE_URL" in result.stderr
    assert "pg-secret-99" not in result.stderr
