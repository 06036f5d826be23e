"""Commands an agent runs on the worker's host never inherit the worker's credentials."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent_runner import wire
from agent_runner.config import WORKER_ONLY_VARIABLES, Config
from agent_runner.redaction import Redactor
from agent_runner.sandboxes import SandboxManager

pytestmark = pytest.mark.anyio

WORKER_SECRETS = {
    "STIGMER_API_KEY": "worker-backend-token",
    "ANTHROPIC_API_KEY": "sk-ant-worker",
    "DAYTONA_API_KEY": "dtn-worker",
    "AWS_SECRET_ACCESS_KEY": "aws-worker",
    "TEMPORAL_API_KEY": "temporal-worker",
}


async def test_a_local_command_sees_no_worker_credential_but_its_own_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in WORKER_SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HOME_GROWN", "inherited")
    config = Config.load_from_env(
        {"MODE": "local", "SANDBOX_ROOT_DIR": str(tmp_path), "STIGMER_LLM_PROVIDER": "scripted"}
    )
    manager = SandboxManager(config, backend=None)  # type: ignore[arg-type]
    environment = {"OPENAI_API_KEY": "agent-own-key"}  # an agent may give a command a key
    opened = await manager.open(environment, Redactor(), wire.session.Session())
    result = await opened.backend.aexecute("env")
    await opened.kill_running_commands()
    seen = dict(line.split("=", 1) for line in result.output.splitlines() if "=" in line)
    for name, value in WORKER_SECRETS.items():
        assert name not in seen, name
        assert value not in result.output
    assert seen["OPENAI_API_KEY"] == "agent-own-key"
    assert seen["HOME_GROWN"] == "inherited"
    assert set(WORKER_SECRETS) <= WORKER_ONLY_VARIABLES
