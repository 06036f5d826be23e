"""`agent-runner up`, `run`, `demo`, `list` and `logs` as a developer runs them: real processes."""

from __future__ import annotations

import asyncio
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
from temporalio.client import Client, WorkflowExecutionStatus

from agent_runner import wire
from agent_runner.local.store import Store
from agent_runner.local.temporal_server import TemporalDevServer, free_port
from agent_runner.workflow import workflow_id
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
        "AGENT_RUNNER_WEB_PORT": str(free_port()),  # `up`'s web view, never a shared port
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
    assert "next steps" in result.stdout  # what to type after the demo
    assert 'agent-runner run "Profile data.csv" --agent data-analyst' in result.stdout
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
        ready, _, _ = select.select([fd], [], [], 0.5)
        chunk = os.read(fd, 4096) if ready else b""
        seen += chunk
        if marker.encode() in seen:
            break
        if time.monotonic() > deadline or (not chunk and process.poll() is not None):
            raise AssertionError(f"never saw {marker!r}; output so far:\n{seen.decode()}")
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
    assert b"anthropic:claude-sonnet-4-6" in output
    assert key.encode() not in output  # masked input: not even echoed
    for path in home.rglob("*"):
        if path.is_file():
            assert key.encode() not in path.read_bytes(), f"the key leaked into {path}"


# -- issue 17: the local loop --------------------------------------------------------------


def test_offline_the_data_analyst_does_its_own_job_from_a_fresh_folder(home: Path) -> None:
    env = local_env(home)
    del env["AGENT_RUNNER_SKILLS_DIR"]  # a fresh folder: no skills of its own
    result = cli(home, "run", "Profile data.csv", "--agent", "data-analyst", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "data-analyst agent's own script" in result.stdout
    workspace = home / "workspace"
    assert "| population | integer | 1 |" in (workspace / "data.profile.md").read_text()
    assert "# Findings" in (workspace / "findings.md").read_text()
    assert not (workspace / "reports").exists()  # not the demo's survey
    [execution] = stored_executions(home)
    assert execution.spec.agent_id == "data-analyst"


def test_offline_an_agent_without_a_script_fails_at_once_in_one_line(home: Path) -> None:
    resources = home / "resources"
    resources.mkdir()
    (resources / "plain.yaml").write_text(
        "kind: Agent\nmetadata: {slug: plain}\nspec: {instructions: Be brief.}\n"
    )
    result = cli(
        home, "run", "hi", "--agent", "plain", "--resources", str(resources), env=local_env(home)
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("agent-runner: agent 'plain' needs a live model")
    assert "ANTHROPIC_API_KEY" in line and "--model" in line
    assert not (home / "data" / "daemon.sqlite3").exists() or stored_executions(home) == []


def test_every_manifest_problem_of_every_file_is_reported_at_once(home: Path) -> None:
    resources = home / "resources"
    resources.mkdir()
    (resources / "agent.yaml").write_text(
        "kind: Agent\nmetadata:\n  slug: helper\nspec:\n  instruction: Help.\n"
        "  skillRefs:\n    - slug: todo-scna\n"
    )
    (resources / "instance.yaml").write_text(
        "kind: AgentInstance\nmetadata: {slug: inst}\nspec:\n  agentId: nobody\n"
        "  environmentRefs: [{slug: no-env}]\n"
    )
    (resources / "typo.yaml").write_text("kind: Agnet\nmetadata: {slug: x}\n")
    result = cli(home, "validate", "--resources", str(resources), env=local_env(home))
    assert result.returncode == 1
    out = result.stdout
    assert (
        f"{resources / 'agent.yaml'}:5: spec.instruction: unknown field; did you mean "
        "'instructions'?" in out
    )
    assert f"{resources / 'agent.yaml'}:7: spec.skillRefs[0].slug: no skill 'todo-scna'" in out
    assert "did you mean 'todo-scan'?" in out
    assert f"{resources / 'instance.yaml'}:4: spec.agentId: no agent 'nobody'" in out
    assert (
        f"{resources / 'instance.yaml'}:5: spec.environmentRefs[0].slug: no environment "
        "'no-env'" in out
    )
    assert f"{resources / 'typo.yaml'}:1: kind: 'Agnet' is not a kind; did you mean 'Agent'?" in out
    up = cli(home, "up", "--resources", str(resources), env=local_env(home))
    assert up.returncode == 2 and len(up.stderr.strip().splitlines()) >= 6


def test_logs_and_run_print_untrusted_text_literally_and_safely(home: Path) -> None:
    env = local_env(home)
    hostile = "arr[/2] and [/x] then \x1b]52;c;cHduZWQ=\x07\x1b[2J done"
    model = script(home, [{"text": hostile}])
    first = cli(home, "run", "hi", "--model", model, env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "\x1b" not in first.stdout and "Traceback" not in first.stderr
    [execution] = stored_executions(home)
    replay = cli(home, "logs", execution.metadata.id, env=env)
    assert replay.returncode == 0, replay.stderr
    assert "Traceback" not in replay.stderr
    assert "arr[/2] and [/x] then" in replay.stdout
    assert "\x1b" not in replay.stdout and "\x07" not in replay.stdout
    assert "\\x1b]52;c;cHduZWQ=\\x07\\x1b[2J done" in replay.stdout
    broken = script(home, [{"error": "cannot open [/tmp] \x1b[2J"}])
    failing = cli(home, "run", "again", "--continue", "--model", broken, env=env)
    assert failing.returncode == 1
    assert "Traceback" not in failing.stderr
    assert "cannot open [/tmp]" in failing.stdout and "\x1b" not in failing.stdout


def test_ids_are_shown_and_continue_resumes_the_last_session(home: Path) -> None:
    env = {**local_env(home), "COLUMNS": "80"}
    model = script(home, [{"text": "First."}, {"text": "Second."}])
    first = cli(home, "run", "one", "--model", model, env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    [execution] = stored_executions(home)
    session, execution_id = execution.spec.session_id, execution.metadata.id
    assert f"execution {execution_id}" in first.stdout and f"session {session}" in first.stdout
    assert f'continue: agent-runner run "…" --session {session}' in first.stdout
    second = cli(home, "run", "two", "--continue", "--model", model, "--json", env=env)
    assert second.returncode == 0, second.stderr
    result = json.loads(second.stdout)
    assert result["sessionId"] == session and result["executionId"] != execution_id
    assert result["phase"] == "EXECUTION_COMPLETED"
    listing = cli(home, "list", env=env)
    assert execution_id in listing.stdout and session in listing.stdout  # whole, at 80 columns
    full = cli(home, "logs", "--json", env=env)
    assert json.loads(full.stdout)["metadata"]["id"] == result["executionId"]


def test_run_shows_the_running_stacks_model_and_warns_about_its_own(
    home: Path, up_process: tuple[subprocess.Popen[str], dict[str, str]]
) -> None:
    process, env = up_process
    read_until(process, "press Ctrl-C")
    other = home / "other-resources"
    other.mkdir()
    shell = {**env, "ANTHROPIC_API_KEY": "sk-ant-not-the-stacks"}
    result = cli(
        home,
        "run",
        "Profile data.csv",
        "--agent",
        "data-analyst",
        "--resources",
        str(other),
        env=shell,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = " ".join(result.stdout.split())
    assert "model: scripted (offline" in out
    assert f"--resources {other} is not used" in out
    assert (
        "this shell's model is anthropic:claude-sonnet-4-6, but the running stack uses "
        "scripted" in out
    )
    assert "temporal: http://" in out  # the execution in the web UI


def test_up_reloads_an_edited_manifest_and_skill_and_keeps_the_last_good_set(
    home: Path,
) -> None:
    resources, skills = home / "resources", home / "skills"
    assert (
        cli(
            home, "new", "agent", "helper", "--resources", str(resources), env=local_env(home)
        ).returncode
        == 0
    )
    assert (
        cli(
            home, "new", "skill", "counter", "--skills", str(skills), env=local_env(home)
        ).returncode
        == 0
    )
    env = {
        **local_env(home),
        "AGENT_RUNNER_SKILLS_DIR": str(skills),
        "AGENT_RUNNER_RESOURCES_DIR": str(resources),
    }
    process = subprocess.Popen(
        [*CLI, "up"],
        cwd=home,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        read_until(process, "press Ctrl-C")
        manifest = resources / "helper.yaml"
        manifest.write_text(
            manifest.read_text().replace(
                "  # skillRefs:                  # skills of the skills folder this agent may use\n"
                "  #   - slug: csv-profile\n",
                "  skillRefs:\n    - slug: counter\n",
            )
        )
        read_until(process, "reloaded")
        skill_md = skills / "counter" / "SKILL.md"
        skill_md.write_text(skill_md.read_text().replace("Counts the files", "COUNTS-V2 the files"))
        read_until(process, "reloaded")
        model = script(
            home,
            [
                {
                    "tool_calls": [
                        {
                            "name": "read_file",
                            "args": {"file_path": "/.agent-runner/skills/counter/SKILL.md"},
                        }
                    ]
                },
                {"expect": {"contains": "COUNTS-V2"}, "text": "The new skill text is served."},
            ],
        )
        result = cli(home, "run", "hi", "--agent", "helper", "--model", model, env=env)
        assert result.returncode == 0, result.stdout + result.stderr
        manifest.write_text("kind: Agent\nmetadata: {slug: helper}\nspec: {instruction: x}\n")
        read_until(process, "still serving the last good set")
        again = cli(home, "run", "hi", "--agent", "helper", env=env)
        assert again.returncode == 0, again.stdout + again.stderr
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(60)


def test_ctrl_c_on_up_cancels_running_executions_as_cancelled_in_temporal(
    home: Path, temporal_server: TemporalDevServer
) -> None:
    env = {**local_env(home), "TEMPORAL_SERVICE_ADDRESS": temporal_server.address}
    up = subprocess.Popen(
        [*CLI, "up"],
        cwd=home,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    run = None
    try:
        read_until(up, "press Ctrl-C")
        model = script(
            home,
            [
                {
                    "tool_calls": [
                        {"name": "execute", "args": {"command": "echo $$ > wait.pid; sleep 600"}}
                    ]
                },
            ],
        )
        run = subprocess.Popen(
            [*CLI, "run", "wait", "--model", model],
            cwd=home,
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        pid_file = home / "workspace" / "wait.pid"
        wait_until(
            lambda: pid_file.exists() and pid_file.read_text().strip() != "",
            timeout=120,
            what="the command to start",
        )
        os.kill(up.pid, signal.SIGINT)
        said = read_until(up, "every execution is cancelled")
        assert "stopping: cancelling 1 running execution(s)" in said
        assert "press Ctrl-C again to stop at once" in said
        assert up.wait(60) == 0
        wait_until(lambda: process_gone(int(pid_file.read_text())), what="the command to die")
        stdout, _ = run.communicate(timeout=60)
        assert "cancelled" in stdout
    finally:
        for process in (up, run):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()
    [execution] = stored_executions(home)
    assert execution.status.phase == ax.EXECUTION_CANCELLED

    async def workflow_status() -> WorkflowExecutionStatus | None:
        client = await Client.connect(temporal_server.address)
        handle = client.get_workflow_handle(workflow_id(execution.metadata.id))
        return (await handle.describe()).status

    assert asyncio.run(workflow_status()) == WorkflowExecutionStatus.CANCELED


def test_a_taken_metrics_port_is_one_line_naming_metrics_port(home: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        result = cli(home, "up", env=local_env(home, METRICS_PORT=str(port)))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert f"cannot serve /metrics on 127.0.0.1:{port} (METRICS_PORT" in last


def test_a_new_skill_passes_its_own_scenario_offline_and_lints_clean(home: Path) -> None:
    """`new skill` writes a skill whose scenario passes as written: the paths it uses are
    where the runner puts skills in the sandbox."""
    env = local_env(home)
    assert cli(home, "new", "skill", "counter", "--skills", "skills", env=env).returncode == 0
    lint = cli(home, "skills", "lint", "skills/counter", env=env)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    scenario = cli(home, "skills", "test", "skills/counter", env=env)
    assert scenario.returncode == 0, scenario.stdout + scenario.stderr
    assert "1 passed, 0 failed" in scenario.stdout
