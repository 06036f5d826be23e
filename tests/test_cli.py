"""The command line, run as a user runs it: a real subprocess."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from tests.conftest import REPO_ROOT


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("STIGMER_", "MODE"))}
    return subprocess.run(
        [sys.executable, "-m", "agent_runner", *args],
        capture_output=True,
        text=True,
        env={**clean, **(env or {})},
        cwd=REPO_ROOT,
        timeout=60,
    )


def test_help_lists_the_commands() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    assert "config" in result.stdout


def test_config_shows_the_effective_settings_without_secrets() -> None:
    result = run_cli("config", env={"MODE": "local", "STIGMER_API_KEY": "sk-local-secret"})
    assert result.returncode == 0, result.stderr
    assert "mode" in result.stdout and "local" in result.stdout
    assert "sk-local-secret" not in result.stdout + result.stderr


def test_bad_config_prints_one_line_per_problem_and_no_traceback() -> None:
    result = run_cli(
        "config",
        env={"MODE": "local", "TEMPORAL_MAX_CONCURRENCY": "abc", "SANDBOX_TYPE": "vm"},
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("agent-runner: configuration: TEMPORAL_MAX_CONCURRENCY='abc'")
    assert lines[1].startswith("agent-runner: configuration: SANDBOX_TYPE='vm'")


def test_worker_without_temporal_exits_1_cleanly_every_time() -> None:
    """The Temporal SDK's native threads must not abort the interpreter's exit (issue 17.7)."""
    with socket.socket() as probe:  # a port nothing listens on, reached through `localhost`
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {"MODE": "local", "TEMPORAL_SERVICE_ADDRESS": f"localhost:{port}"}
    codes = []
    for _ in range(10):
        result = run_cli("worker", env=env)
        assert "Fatal Python error" not in result.stderr, result.stderr
        codes.append(result.returncode)
        assert f"cannot reach Temporal at localhost:{port}" in result.stderr
    assert codes == [1] * 10
