"""The shell script that runs one command in a Daytona sandbox, and the reading of its logs.

Daytona's daemon hands a session command to the sandbox's own shell (zsh in
Daytona's images), which *sources* it: an `exit` in it would end the session's
shell, zsh's globbing and word splitting differ from `sh`, and an async
command's stdin is a pipe that never closes. So the command is not given to
that shell as it is: a small POSIX script, valid in zsh, bash and sh alike,
runs it with `sh -c` (as the local sandbox does) in the sandbox's root, with
the execution's environment set for this command only and stdin from
/dev/null. The script

- writes the pid of the command's shell to a pid file, so that a timeout or a
  cancellation can kill the command with everything it started,
- sends the command's stdout and stderr to files under the root, so that the
  daemon (which keeps a command's whole log in memory to answer) only ever
  holds the first `limit` bytes of each, and the whole output stays in the
  sandbox when it is longer,
- ends each stream with a marker line, which makes the bytes read back exact
  (the daemon's line reader adds a newline to a last line that has none) and
  carries both streams' full sizes.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
"""The names Daytona's daemon accepts for environment variables (and `export` too)."""
FAILED_TO_RUN_EXIT_CODE = 126
"""A command that could not be started at all (no working folder, no shell), as locally."""


@dataclass(frozen=True)
class CommandFiles:
    """Where, under the sandbox's root, one command keeps its pid and its output."""

    pid: str
    stdout: str
    stderr: str
    marker: str
    """Ends both streams, the stdout one as `marker <stdout size> <stderr size> <exit code>`."""


def command_script(
    command: str, *, root: str, env: Mapping[str, str], files: CommandFiles, limit: int
) -> str:
    """The script a session runs for `command`; see the module's docstring."""
    exports = "".join(
        f"export {name}={shlex.quote(value)}\n"
        for name, value in env.items()
        if ENV_NAME.match(name)
    )
    q = {name: shlex.quote(getattr(files, name)) for name in ("pid", "stdout", "stderr")}
    folder = shlex.quote(files.pid.rsplit("/", 1)[0])
    outputs = shlex.quote(files.stdout.rsplit("/", 1)[0])
    missing = shlex.quote(
        f"the sandbox's working folder {root} does not exist or cannot be entered"
    )
    failed = FAILED_TO_RUN_EXIT_CODE
    # The script's own stdout and stderr are 3 and 4; the shell's words (such as
    # "Killed" for a command killed on timeout) go nowhere. `finish` ends both streams
    # with the marker, which is how the runner knows the command is over.
    inner = (
        "exec 3>&1 4>&2 >/dev/null 2>&1\n"
        f"finish() {{ printf '\\n%s %s %s %s\\n' {files.marker} $1 $2 $3 >&3; "
        f"printf '\\n%s\\n' {files.marker} >&4; exit $3; }}\n"
        f"cd {shlex.quote(root)} || {{ echo {missing} >&4; finish 0 0 {failed}; }}\n"
        f"mkdir -p {folder} {outputs} || finish 0 0 {failed}\n"
        f"{exports}"
        f"sh -c {shlex.quote(command)} < /dev/null > {q['stdout']} 2> {q['stderr']} &\n"
        f"echo $! > {q['pid']}\n"
        "wait $!; code=$?\n"
        f"rm -f {q['pid']}\n"
        f"out=$(wc -c < {q['stdout']}); err=$(wc -c < {q['stderr']})\n"
        f"head -c {limit} {q['stdout']} >&3; head -c {limit} {q['stderr']} >&4\n"
        f'if [ "$out" -le {limit} ] && [ "$err" -le {limit} ]; '
        f"then rm -f {q['stdout']} {q['stderr']}; fi\n"
        "finish $out $err $code\n"
    )
    return f"sh -c {shlex.quote(inner)}"


@dataclass(frozen=True)
class CommandOutput:
    stdout: str
    stderr: str
    stdout_size: int | None
    """The stream's full size in bytes; None until the script reported it."""
    stderr_size: int | None
    exit_code: int | None
    """The command's exit status; None until the script reported it."""
    complete: bool
    """Both streams ended with the marker: the command is over and all of it was read."""


def read_output(stdout: str, stderr: str, marker: str) -> CommandOutput:
    """Split what the daemon logged (so far) into the command's own output and the report
    the script ends with."""
    out_text = stdout
    numbers: list[int | None] = [None, None, None]
    at = stdout.rfind(f"\n{marker} ")
    if at >= 0:
        out_text = stdout[:at]
        words = stdout[at + len(marker) + 2 :].split()
        if len(words) >= 3 and all(w.lstrip("-").isdigit() for w in words[:3]):
            numbers = [int(w) for w in words[:3]]
    err_text, ended = stderr, False
    at = stderr.rfind(f"\n{marker}\n")
    if at >= 0:
        err_text, ended = stderr[:at], True
    out_size, err_size, exit_code = numbers
    return CommandOutput(
        out_text, err_text, out_size, err_size, exit_code, ended and exit_code is not None
    )


# Stops a process, kills its descendants (found while it cannot fork more), then it.
_KILL_TREE = """kill_tree() {
  kill -STOP "$1" 2>/dev/null || return 0
  for child in $(cat /proc/"$1"/task/*/children 2>/dev/null); do kill_tree "$child"; done
  kill -KILL "$1" 2>/dev/null
}"""


def kill_script(pid_files: list[str]) -> str:
    """A command that kills, with everything it started, each process whose pid is in one
    of `pid_files`, and removes the files."""
    files = " ".join(shlex.quote(f) for f in pid_files)
    body = (
        f"{_KILL_TREE}\nfor f in {files}; do\n"
        '  if [ -f "$f" ]; then pid=$(cat "$f"); [ -n "$pid" ] && kill_tree "$pid"; fi\n'
        '  rm -f "$f"\ndone\ntrue'
    )
    return f"sh -c {shlex.quote(body)}"
