"""`agent-runner up`, `run`, `demo`, `list` and `logs` as a developer runs them: real processes."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from agent_runner import wire
from agent_runner.local.store import Store
from agent_runner.local.temporal_server import free_port
from tests.conftest import REPO_ROOT
from tests.helpers import process_gone, wait_until

pytestmark = pytest.mark.timeout(240)

ax = wire.agentexecution
CLI = [sys.executable, "-m", "agent_runner"]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A developer's checkout-like folder: run from here, workspace and data inside."""
    (tmp_path / "workspace").mkdir()
    return tmp_path


def local_env(home: Path, **extra: str) -> dict[str, str]:
    inherited = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("STIGMER_", "TEMPORAL_", "ANTHROPIC_", "OPENAI_", "MODE"))
    }
    return {
        **inherited,
        "TEMPORAL_SERVICE_ADDRESS": f"127.0.0.1:{free_port(also_free=(1000,))}",  # + UI
        "STIGMER_BACKEND_ENDPOINT": f"127.0.0.1:{free_port()}",
        "SANDBOX_ROOT_DIR": str(home / "workspace"),
        "AGENT_RUNNER_DATA_DIR": str(home / "data"),
        "AGENT_RUNNER_SKILLS_DIR": str(REPO_ROOT / "skills"),
        "COLUMNS": "200",
        **extra,
    }


def script(home: Path, turns: list[dict[str, object]]) -> str:
    path = home / f"script-{len(list(home.glob('script-*')))}.yaml"
    path.write_text(yaml.safe_dump({"turns": turns}))
    return f"scripted:{path}"


def cli(home: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], cwd=home, env=env, capture_output=True, text=True, timeout=180
    )


def stored_executions(home: Path) -> list[ax.AgentExecution]:
    store = Store(home / "data" / "daemon.sqlite3")
    try:
        executions = [store.get_execution(s.id) for s in store.recent_executions(100)]
    finally:
        store.close()
    return [e for e in executions if e is not None]


def descendants(pid: int) -> set[int]:
    children = set()
    for status in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = status.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            child = int(status.parent.name)
            children |= {child, *descendants(child)}
    return children


# -- the demo and `run` on an ephemeral stack -----------------------------------------


def test_the_make_run_demo_completes_and_leaves_its_files(home: Path) -> None:
    result = cli(home, "demo", env=local_env(home))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "scripted" in result.stdout  # announced as scripted
    assert "completed" in result.stdout
    reports = home / "workspace" / "reports"
    assert "| **total** |" in (reports / "stats.md").read_text()
    assert (reports / "todos.md").read_text().startswith("# Open markers")
    assert "Workspace report" in (reports / "README.md").read_text()
    [execution] = stored_executions(home)
    assert execution.status.phase == ax.EXECUTION_COMPLETED
    assert execution.status.sub_agent_executions[0].status == ax.SUB_AGENT_COMPLETED


def test_run_json_prints_the_final_status(home: Path) -> None:
    env = local_env(home)
    model = script(home, [{"text": "Hello there."}])
    result = cli(home, "run", "hi", "--model", model, "--json", env=env)
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert status["phase"] == "EXECUTION_COMPLETED"
    assert status["messages"][-1]["content"] == "Hello there."


def test_a_failing_agent_exits_1_with_the_error(home: Path) -> None:
    env = local_env(home)
    model = script(home, [{"error": "model exploded"}])
    result = cli(home, "run", "hi", "--model", model, env=env)
    assert result.returncode == 1
    assert "failed" in result.stdout and "model exploded" in result.stdout


def test_unknown_agent_is_one_clear_line(home: Path) -> None:
    result = cli(home, "run", "hi", "--agent", "nobody", env=local_env(home))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("agent-runner: agent 'nobody'")
    assert "Traceback" not in result.stderr


def test_ctrl_c_cancels_the_execution_and_exits_130(home: Path) -> None:
    env = local_env(home)
    model = script(
        home,
        [
            {
                "tool_calls": [
                    {"name": "execute", "args": {"command": "echo $$ > wait.pid; sleep 600"}}
                ]
            }
        ],
    )
    process = subprocess.Popen(
        [*CLI, "run", "wait", "--model", model],
        cwd=home,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    pid_file = home / "workspace" / "wait.pid"
    try:
        wait_until(
            lambda: pid_file.exists() or process.poll() is not None,
            timeout=120,
            what="the command to start",
        )
    finally:
        if not pid_file.exists():
            process.kill()
            stdout, stderr = process.communicate()
            pytest.fail(f"the run never started its command:\n{stdout}\n{stderr}")
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stdout + stderr
    assert "cancelled" in stdout
    wait_until(lambda: process_gone(int(pid_file.read_text())), what="the command to die")
    [execution] = stored_executions(home)
    assert execution.status.phase == ax.EXECUTION_CANCELLED


def test_list_and_logs_replay_stored_executions(home: Path) -> None:
    env = local_env(home)
    model = script(home, [{"text": "Replayed answer."}])
    assert cli(home, "run", "remember me", "--model", model, env=env).returncode == 0
    [execution] = stored_executions(home)
    listing = cli(home, "list", env=env)
    assert execution.metadata.id in listing.stdout and "completed" in listing.stdout
    replay = cli(home, "logs", execution.metadata.id, env=env)
    assert replay.returncode == 0
    assert "remember me" in replay.stdout and "Replayed answer." in replay.stdout


# -- `up` --------------------------------------------------------------------------------


@pytest.fixture
def up_process(home: Path) -> Iterator[tuple[subprocess.Popen[str], dict[str, str]]]:
    env = local_env(home)
    process = subprocess.Popen(
        [*CLI, "up"],
        cwd=home,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    yield process, env
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def read_until(process: subprocess.Popen[str], marker: str, timeout: float = 120) -> str:
    """Read the raw pipe (not the buffered file object, which select cannot see into)."""
    assert process.stdout is not None
    fd = process.stdout.fileno()
    seen = b""
    deadline = time.monotonic() + timeout
    while marker.encode() not in seen:
        if time.monotonic() > deadline or process.poll() is not None:
            raise AssertionError(f"never saw {marker!r}; output so far:\n{seen.decode()}")
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            seen += os.read(fd, 4096)
    return seen.decode()


def test_up_serves_runs_and_sigterm_leaves_nothing_behind(
    home: Path, up_process: tuple[subprocess.Popen[str], dict[str, str]]
) -> None:
    process, env = up_process
    banner = read_until(process, "press Ctrl-C")
    assert env["TEMPORAL_SERVICE_ADDRESS"] in banner and str(home / "workspace") in banner
    assert "web ui" in banner and "scripted" in banner
    children = descendants(process.pid)
    assert children, "the Temporal dev server runs as a child"
    model = script(home, [{"text": "Served by up."}])
    result = cli(home, "run", "hi", "--model", model, "--json", env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["phase"] == "EXECUTION_COMPLETED"
    process.send_signal(signal.SIGTERM)
    assert process.wait(60) == 0
    wait_until(lambda: all(process_gone(pid) for pid in children), what="every child to stop")


def test_up_with_its_port_taken_fails_naming_the_port(home: Path) -> None:
    env = local_env(home)
    with socket.socket() as squatter:
        port = int(env["STIGMER_BACKEND_ENDPOINT"].rsplit(":", 1)[1])
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        result = cli(home, "up", env=env)
    assert result.returncode == 1
    assert f"port {port}" in result.stderr.strip().splitlines()[-1]
    assert "Traceback" not in result.stderr


def test_up_without_a_terminal_names_the_missing_key(home: Path) -> None:
    result = cli(home, "up", env=local_env(home, STIGMER_LLM_PROVIDER="anthropic"))
    assert result.returncode == 2
    assert "ANTHROPIC_API_KEY is not set" in result.stderr


def test_up_asks_for_a_missing_key_on_a_terminal_and_never_writes_it(home: Path) -> None:
    key = "sk-ant-typed-at-the-prompt-4711"
    env = local_env(home, STIGMER_LLM_PROVIDER="anthropic")
    pid, fd = pty.fork()
    if pid == 0:  # the child: `agent-runner up` on a terminal
        os.chdir(home)
        os.execve(sys.executable, [*CLI, "up"], env)
    output = b""

    def read_for(marker: bytes) -> None:
        nonlocal output
        deadline = time.monotonic() + 120
        while marker not in output:
            assert time.monotonic() < deadline, output.decode(errors="replace")
            ready, _, _ = select.select([fd], [], [], 0.5)
            if ready:
                try:
                    output += os.read(fd, 4096)
                except OSError as err:  # EIO: the child closed the terminal, i.e. ended
                    pytest.fail(f"`up` ended before {marker!r} ({err}):\n{output.decode()}")

    try:
        read_for(b"ANTHROPIC_API_KEY is not set")
        os.write(fd, key.encode() + b"\n")
        read_for(b"press Ctrl-C")
    finally:
        os.kill(pid, signal.SIGTERM)
        os.waitpid(pid, 0)
        os.close(fd)
    assert b"anthropic:claude-sonnet-4-5" in output
    assert key.encode() not in output  # masked input: not even echoed
    for path in home.rglob("*"):
        if path.is_file():
            assert key.encode() not in path.read_bytes(), f"the key leaked into {path}"
