"""The integration tests can run against a Temporal server that already exists
(`AGENT_RUNNER_TEST_TEMPORAL_ADDRESS`), as in CI with a shared cluster."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest
from temporalio.client import Client

from agent_runner.local.temporal_server import TemporalDevServer
from tests.conftest import REPO_ROOT
from tests.helpers import wait_until
from tests.integration.conftest import EXISTING_SERVER_VARIABLE

pytestmark = [pytest.mark.timeout(300)]


def java_style_runs(address: str) -> int:
    async def count() -> int:
        client = await Client.connect(address)
        query = "WorkflowType = 'JavaStyleOrchestrator'"
        return len([w async for w in client.list_workflows(query)])

    return asyncio.run(count())


def test_the_suite_runs_against_an_existing_server(temporal_server: TemporalDevServer) -> None:
    before = java_style_runs(temporal_server.address)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/integration/test_execute_graphton.py",
            "-k",
            "java_way",
        ],
        cwd=REPO_ROOT,
        env={**os.environ, EXISTING_SERVER_VARIABLE: temporal_server.address},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert "1 passed" in result.stdout
    # The run happened on this server, not on one the subprocess started for itself.
    wait_until(
        lambda: java_style_runs(temporal_server.address) == before + 1,
        timeout=30,
        what="the run to be listed on the existing server",
    )
