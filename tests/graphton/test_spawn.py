"""How the local sandbox starts and watches commands: no thread per command, a
fallback where pidfds are refused, the environment as it is at each command, and
output that is drained whatever its consumer does."""

from __future__ import annotations

import asyncio
import errno
import gc
import logging
import os
import re
import threading
from pathlib import Path

import pytest

from graphton import FilesystemBackend
from graphton.sandbox import spawn
from tests.helpers import process_gone, wait_until

pytestmark = pytest.mark.anyio


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "sandbox"


async def test_a_running_command_costs_no_thread(root: Path) -> None:
    backend = FilesystemBackend(root)
    await backend.aexecute("true")  # the guard's own helpers are started by the first command
    before = threading.active_count()
    task = asyncio.create_task(backend.aexecute("sleep 0.5; echo done"))
    await asyncio.sleep(0.2)
    during = threading.active_count()
    result = await task
    assert result.stdout == "done\n"
    assert during == before, f"{during - before} thread(s) started for one command"
    backend.kill_all()


async def test_commands_still_run_where_pidfds_are_refused(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refused(pid: int, flags: int = 0) -> int:
        raise OSError(errno.EPERM, "pidfd_open refused by a seccomp policy")

    monkeypatch.setattr(os, "pidfd_open", refused)
    backend = FilesystemBackend(root)
    done = await backend.aexecute("echo out; echo err >&2; exit 3")
    assert (done.exit_code, done.stdout, done.stderr) == (3, "out\n", "err\n")
    slow = await backend.aexecute("sleep 30", timeout=1)
    assert slow.timed_out and slow.exit_code == 124
    backend.kill_all()


async def test_each_command_sees_the_environment_as_it_is_when_it_starts(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHANGING_VAR", "first")
    monkeypatch.setenv("GOES_AWAY", "here")
    monkeypatch.setenv("WORKER_SECRET", "one")
    backend = FilesystemBackend(root, withheld_env={"WORKER_SECRET"})
    show = 'echo "$CHANGING_VAR ${GOES_AWAY:-gone} ${WORKER_SECRET:-withheld}"'
    assert (await backend.aexecute(show)).stdout == "first here withheld\n"
    monkeypatch.setenv("CHANGING_VAR", "second")
    monkeypatch.delenv("GOES_AWAY")
    monkeypatch.setenv("WORKER_SECRET", "two")  # changed, and still withheld
    assert (await backend.aexecute(show)).stdout == "second gone withheld\n"
    backend.kill_all()


async def test_a_consumer_that_fails_does_not_stall_the_command(
    root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    class Failing:
        def feed(self, chunk: bytes) -> None:
            raise RuntimeError("the consumer broke")

    class Counting:
        total = 0

        def feed(self, chunk: bytes) -> None:
            self.total += len(chunk)

    root.mkdir()
    counted = Counting()
    # Far more than a pipe holds: had the failing stream stopped being read, the
    # command would block on it forever.
    running = spawn.RunningCommand.start(
        "head -c 3000000 /dev/zero >&2; echo tail",
        cwd=root,
        env=spawn.CommandEnvironment({}, ()).now(),
        stdout=counted,
        stderr=Failing(),
    )
    with caplog.at_level(logging.ERROR, logger="graphton.sandbox.spawn"):
        await asyncio.wait_for(asyncio.shield(running.exited), 30)
        await running.output_closed_within(5)
    running.close()
    assert running.returncode == 0
    assert counted.total == len(b"tail\n")
    assert "could not be kept; reading goes on" in caplog.text


async def test_a_command_that_cannot_start_leaves_nothing_behind(root: Path) -> None:
    backend = FilesystemBackend(root)
    result = await backend.aexecute("echo \0")
    assert result.exit_code == 126
    assert "could not start the command" in result.stderr
    assert (await backend.aexecute("echo still fine")).stdout == "still fine\n"
    backend.kill_all()


async def test_an_environment_replaced_by_a_plain_mapping_is_the_one_commands_get(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = FilesystemBackend(root)
    monkeypatch.setattr(os, "environ", {**os.environ, "SWAPPED_IN": "yes"})
    assert (await backend.aexecute('echo "${SWAPPED_IN:-no}"')).stdout == "yes\n"
    backend.kill_all()


async def test_a_command_that_could_not_be_watched_leaves_nothing_registered(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = FilesystemBackend(root)
    await backend.aexecute("true")  # the guard's watchdog is up before the threads fail

    def refused(pid: int, flags: int = 0) -> int:
        raise OSError(errno.EPERM, "pidfd_open refused")

    def no_thread(self: threading.Thread) -> None:
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(os, "pidfd_open", refused)
    with monkeypatch.context() as threads:
        threads.setattr(threading.Thread, "start", no_thread)
        with pytest.raises(RuntimeError, match="can't start new thread"):
            await backend.aexecute("sleep 30")
    # The next command gets the same fd numbers: stale registrations would swallow them.
    result = await backend.aexecute("echo two; echo err >&2")
    assert (result.stdout, result.stderr) == ("two\n", "err\n")
    backend.kill_all()


async def test_a_command_that_ends_in_time_is_not_timed_out_for_a_child_holding_its_output(
    root: Path,
) -> None:
    backend = FilesystemBackend(root)
    result = await backend.aexecute("sleep 5 & echo started", timeout=1)
    assert (result.exit_code, result.timed_out, result.stdout) == (0, False, "started\n")
    assert backend.kill_all() == 1  # the child lives on until the execution ends


def test_a_command_whose_loop_goes_away_is_killed_and_reaped(root: Path) -> None:
    backend = FilesystemBackend(root)
    asyncio.run(backend.aexecute("true"))
    loop = asyncio.new_event_loop()
    task = loop.create_task(
        backend.aexecute("echo $$ > shell; sleep 30 & echo $! > child; exec sleep 30")
    )
    loop.run_until_complete(asyncio.sleep(0.3))
    shell, child = (int((root / name).read_text()) for name in ("shell", "child"))
    loop.close()  # without cancelling the task: its coroutine is closed when collected
    del task
    gc.collect()
    wait_until(lambda: process_gone(child) and not Path(f"/proc/{shell}").exists())
    pidfds = [fd for fd in os.listdir("/proc/self/fd") if "pidfd" in _link(fd)]
    assert pidfds == []
    backend.kill_all()


def _link(fd: str) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return ""


async def test_a_failing_consumer_is_logged_once_with_a_count(
    root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    class Failing:
        def feed(self, chunk: bytes) -> None:
            raise RuntimeError("the consumer broke")

    root.mkdir()
    running = spawn.RunningCommand.start(
        "for i in 1 2 3 4 5; do echo $i; sleep 0.05; done",
        cwd=root,
        env=spawn.CommandEnvironment({}, ()).now(),
        stdout=Failing(),
        stderr=Failing(),
    )
    with caplog.at_level(logging.ERROR, logger="graphton.sandbox.spawn"):
        await asyncio.wait_for(asyncio.shield(running.exited), 30)
        await running.output_closed_within(5)
        running.close()
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert len(tracebacks) == 1
    assert re.search(r"could not be kept \d+ more times", caplog.text)
