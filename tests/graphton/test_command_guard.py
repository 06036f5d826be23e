"""No command outlives the process that started it: killed by any signal, SIGKILL included."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from graphton import FilesystemBackend
from tests.helpers import process_gone, wait_until

pytestmark = pytest.mark.anyio

# The command leaves children of three kinds: in its process group, the shell
# itself, and one that left the group (setsid).
COMMAND = (
    "sleep 600 & echo $! > bg.pid; "
    "setsid sleep 600 & echo $! > escaped.pid; "
    "echo $$ > sh.pid; "
    "sleep 600"
)
PIDS = ("bg.pid", "escaped.pid", "sh.pid")


class Owner:
    """A separate process (its own process group, like a worker) running COMMAND in a
    FilesystemBackend over `root`."""

    def __init__(self, root: Path) -> None:
        program = textwrap.dedent(
            f"""
            import asyncio, sys
            from graphton import FilesystemBackend
            backend = FilesystemBackend({str(root)!r})
            async def main():
                task = asyncio.create_task(backend.aexecute({COMMAND!r}, timeout=0))
                guard = getattr(backend, "_guard", None)  # None: code without a guard
                while guard is not None and guard._watchdog is None:
                    await asyncio.sleep(0.01)
                print(guard._watchdog.pid if guard is not None else 0, flush=True)
                await task
            asyncio.run(main())
            """
        )
        self.root = root
        self.process = subprocess.Popen(
            [sys.executable, "-c", program],
            stdout=subprocess.PIPE,
            start_new_session=True,
        )
        assert self.process.stdout is not None
        self.watchdog = int(self.process.stdout.readline())
        wait_until(
            lambda: all((root / name).exists() and (root / name).read_text() for name in PIDS),
            timeout=30,
            what="the command and its children to start",
        )
        self.pids = [int((root / name).read_text()) for name in PIDS]

    def kill_group(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        for pid in [self.process.pid, self.watchdog, *getattr(self, "pids", [])]:
            if pid <= 0:
                continue
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def owner(tmp_path: Path) -> Iterator[Owner]:
    started = Owner(tmp_path)
    yield started
    started.stop()


def test_a_sigkilled_owner_takes_its_commands_with_it(owner: Owner) -> None:
    assert not any(process_gone(pid) for pid in owner.pids)
    owner.kill_group()  # the whole "machine": worker and its process group
    wait_until(
        lambda: all(process_gone(pid) for pid in owner.pids),
        timeout=10,
        what="every process of the command to end",
    )


def test_opening_the_root_again_reaps_what_a_dead_owner_left_even_without_its_watchdog(
    owner: Owner,
) -> None:
    if owner.watchdog:
        os.kill(owner.watchdog, signal.SIGKILL)  # the watchdog dies first, then the owner
        wait_until(lambda: process_gone(owner.watchdog), what="the watchdog to die")
    owner.kill_group()
    assert not any(process_gone(pid) for pid in owner.pids)  # orphans, still running
    FilesystemBackend(owner.root)  # a retry opens the sandbox: it returns once they are gone
    assert all(process_gone(pid) for pid in owner.pids)
    assert list((owner.root / ".agent-runner" / "commands").iterdir()) == []


def test_the_commands_of_a_live_owner_are_left_alone(owner: Owner) -> None:
    FilesystemBackend(owner.root)  # another worker on the same root
    assert not any(process_gone(pid) for pid in owner.pids)


async def test_kill_all_ends_children_that_left_the_process_group_too(tmp_path: Path) -> None:
    backend = FilesystemBackend(tmp_path)
    result = await backend.aexecute("setsid sleep 600 & echo $! > escaped.pid; echo started")
    assert result.stdout == "started\n"
    escaped = int((tmp_path / "escaped.pid").read_text())
    assert not process_gone(escaped)
    backend.kill_all()
    wait_until(lambda: process_gone(escaped), what="kill_all to end the escaped sleep")


async def test_a_command_runs_when_it_cannot_be_recorded_and_that_is_said_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / ".agent-runner").mkdir()
    (tmp_path / ".agent-runner" / "commands").write_text("not a folder")
    backend = FilesystemBackend(tmp_path)
    with caplog.at_level(logging.WARNING):
        first = await backend.aexecute("echo one")
        second = await backend.aexecute("echo two")
    assert (first.stdout, second.stdout) == ("one\n", "two\n")
    warnings = [r.getMessage() for r in caplog.records if "cannot be recorded" in r.getMessage()]
    assert len(warnings) == 1


async def test_a_backend_is_recorded_once_before_its_first_command_and_unrecorded_on_close(
    tmp_path: Path,
) -> None:
    """One record per backend, not per command: a command pays no file I/O for it."""
    records = tmp_path / ".agent-runner" / "commands"
    backend = FilesystemBackend(tmp_path)
    first = await backend.aexecute("ls .agent-runner/commands")
    assert first.exit_code == 0
    [record] = first.stdout.split()  # written before the first command ran
    for _ in range(3):
        await backend.aexecute("true")
    assert [p.name for p in records.iterdir()] == [record]
    assert json.loads((records / record).read_text())["owner"][0] == os.getpid()
    backend.kill_all()
    assert list(records.iterdir()) == []
