"""The command line, run as a user runs it: a real subprocess."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

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


def test_dotenv_is_read_and_the_environment_wins_over_it(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "# local settings\nMODE=local\nexport TEMPORAL_NAMESPACE='from-dotenv'\n"
        "TEMPORAL_MAX_CONCURRENCY=7  # a comment\n"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("STIGMER_", "MODE"))}
    clean.pop("TEMPORAL_NAMESPACE", None)
    result = subprocess.run(
        [sys.executable, "-m", "agent_runner", "config"],
        capture_output=True,
        text=True,
        env={**clean, "TEMPORAL_MAX_CONCURRENCY": "3"},
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "from-dotenv" in result.stdout  # read from .env
    assert "max concurrency  3" in result.stdout  # the environment wins


def test_config_shows_every_setting_group_and_the_workers_warnings() -> None:
    result = run_cli(
        "config",
        env={
            "MODE": "cloud",
            "STIGMER_BACKEND_ENDPOINT": "b:443",
            "STIGMER_API_KEY": "k",
            "DAYTONA_API_KEY": "d",
            "STIGMER_LLM_API_KEY": "sk",
        },
    )
    assert result.returncode == 0, result.stderr
    for group in ("metrics:", "tracing:", "checkpoints:", "redis:", "claim check:", "shutdown:"):
        assert group in result.stdout
    assert "warning: conversation memory is kept in one worker's memory only" in result.stdout
    assert "/metrics and /healthz on 127.0.0.1:9464" in result.stdout


def test_config_with_mode_unset_says_how_to_choose_first() -> None:
    result = run_cli("config")
    assert result.returncode == 2
    first = result.stderr.strip().splitlines()[0]
    assert "MODE is not set" in first and "MODE=local" in first
