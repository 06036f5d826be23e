"""The script a Daytona session runs for one command, run here by zsh (the daemon's shell,
which sources it) and by sh, and the reading of what it logged."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from graphton.sandbox.daytona_script import CommandFiles, command_script, read_output

SHELLS = [shell for shell in ("zsh", "sh") if shutil.which(shell)]


def files_under(root: Path) -> CommandFiles:
    return CommandFiles(
        pid=f"{root}/.agent-runner/commands/c1.pid",
        stdout=f"{root}/.agent-runner/outputs/c1.stdout",
        stderr=f"{root}/.agent-runner/outputs/c1.stderr",
        marker="AGENT-RUNNER-END-c1",
    )


def run(
    shell: str, command: str, root: Path, limit: int = 10, **env: str
) -> subprocess.CompletedProcess[str]:
    """As the daemon does: the shell reads the script on its stdin."""
    script = command_script(command, root=str(root), env=env, files=files_under(root), limit=limit)
    return subprocess.run(
        [shell], input=script, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize("shell", SHELLS)
def test_the_script_reports_output_sizes_and_exit_code_whatever_the_shell(
    shell: str, tmp_path: Path
) -> None:
    done = run(shell, "printf 'twelve bytes'; echo oops >&2; exit 7", tmp_path, NAME="v a'l")
    output = read_output(done.stdout, done.stderr, "AGENT-RUNNER-END-c1")
    assert done.returncode == 7
    assert (output.stdout, output.stderr) == ("twelve byt", "oops\n")
    assert (output.stdout_size, output.stderr_size, output.exit_code) == (12, 5, 7)
    assert output.complete
    kept = tmp_path / ".agent-runner" / "outputs" / "c1.stdout"
    assert kept.read_text() == "twelve bytes"  # longer than the limit: kept whole
    env = run(shell, 'echo "$NAME"; echo .[x]', tmp_path, limit=100, NAME="v a'l")
    assert read_output(env.stdout, env.stderr, "AGENT-RUNNER-END-c1").stdout == "v a'l\n.[x]\n"


@pytest.mark.parametrize("shell", SHELLS)
def test_a_missing_working_folder_is_reported_as_a_failure_to_run(
    shell: str, tmp_path: Path
) -> None:
    done = run(shell, "true", tmp_path / "missing")
    output = read_output(done.stdout, done.stderr, "AGENT-RUNNER-END-c1")
    assert output.complete and output.exit_code == 126
    assert "does not exist" in output.stderr


def test_a_log_read_before_the_end_is_not_complete() -> None:
    partial = read_output("half a line", "", "AGENT-RUNNER-END-c1")
    assert not partial.complete and partial.exit_code is None
    assert partial.stdout == "half a line"
    only_stdout = read_output("x\nAGENT-RUNNER-END-c1 1 0 0\n", "", "AGENT-RUNNER-END-c1")
    assert not only_stdout.complete  # stderr's end has not been logged yet
