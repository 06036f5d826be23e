"""Starting a shell command and watching it from the event loop, with no thread per command.

asyncio's own subprocess support (Python 3.11) starts a thread per child to wait
for its exit and connects each pipe through a transport, a task and a few turns of
the loop. A sandbox command needs much less: the loop reads both pipes straight
into the captures and learns of the exit from a pidfd (Linux 5.3 and later), all
three watched by `add_reader`. Where a pidfd cannot be had (an older kernel, a
seccomp policy that forbids it), a thread waits for the exit as asyncio's does.

Starting is synchronous (fork and exec, as asyncio does it too), so there is no
moment at which a cancellation could leave a started command unaccounted for.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import threading
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import IO, Protocol

log = logging.getLogger(__name__)

READ_SIZE = 256 * 1024
"""Bytes read from a pipe per turn of the loop (what asyncio's pipe transport reads)."""


class OutputSink(Protocol):
    def feed(self, chunk: bytes) -> None: ...


class CommandEnvironment:
    """The environment commands get: this process's as it is now, less withheld names,
    plus the backend's own variables.

    Built once and rebuilt only when this process's environment changed: reading
    `os.environ` decodes every name and value in Python, which costs a command
    more than its fork, while its underlying store (bytes to bytes) is copied and
    compared in C. The result is bytes, which the exec takes as they are.
    """

    def __init__(self, extra: Mapping[str, str], withheld: Collection[str]) -> None:
        self._extra = {os.fsencode(k): os.fsencode(v) for k, v in extra.items()}
        self._withheld = frozenset(os.fsencode(name) for name in withheld)
        # One tuple, replaced whole: threads running commands at once see a matching pair.
        self._cache: tuple[dict[bytes, bytes], dict[bytes, bytes]] | None = None

    def now(self) -> dict[bytes, bytes]:
        current = _process_environment()
        cache = self._cache
        if cache is not None and cache[0] == current:
            return cache[1]
        seen = dict(current)
        built = {k: v for k, v in seen.items() if k not in self._withheld}
        built.update(self._extra)
        self._cache = (seen, built)
        return built


def _process_environment() -> Mapping[bytes, bytes]:
    # os.environ keeps its store as bytes on POSIX (`_data`, shared with os.environb).
    store = getattr(os.environ, "_data", None)
    if isinstance(store, dict):
        return store
    # os.environ replaced by a plain mapping (a test's patch, say): that mapping is
    # what this process means by its environment; os.environb still has the old one.
    return {os.fsencode(k): os.fsencode(v) for k, v in os.environ.items()}


class RunningCommand:
    """A shell command started in its own session, its output fed to two sinks as the
    loop reads it. `exited` resolves when the shell exits (its children may live
    on); `output_closed_within` waits for both pipes to close."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        process: subprocess.Popen[bytes],
        stdout: OutputSink,
        stderr: OutputSink,
    ) -> None:
        self._loop = loop
        self._process = process
        self.pid = process.pid
        self.exited: asyncio.Future[None] = loop.create_future()
        self._output_closed: asyncio.Future[None] = loop.create_future()
        self._open_pipes: dict[int, IO[bytes]] = {}
        self._pidfd: int | None = None
        self._sink_failures = 0
        assert process.stdout is not None and process.stderr is not None
        try:
            for pipe, sink in ((process.stdout, stdout), (process.stderr, stderr)):
                self._watch_pipe(pipe, sink)
            self._watch_exit()
        except BaseException:
            # Nothing of it may stay registered with the loop: the next command's pipes
            # would get these fd numbers, and a stale registration would swallow them.
            self._stop_watching_exit()
            self.close()
            raise

    @classmethod
    def start(
        cls,
        command: str,
        *,
        cwd: Path,
        env: Mapping[bytes, bytes],
        stdout: OutputSink,
        stderr: OutputSink,
    ) -> RunningCommand:
        """Start `command` with /bin/sh. Raises OSError (the folder is gone, no shell) and
        ValueError (a NUL byte in the command or the environment) as Popen does."""
        loop = asyncio.get_running_loop()
        process = subprocess.Popen(
            command,
            shell=True,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            bufsize=0,
        )
        try:
            return cls(loop, process, stdout, stderr)
        except BaseException:
            # Nothing watches it: end it here rather than leave it running, unreaped.
            with contextlib.suppress(OSError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            raise

    @property
    def returncode(self) -> int | None:
        return self._process.returncode

    async def output_closed_within(self, seconds: float) -> None:
        if not self._output_closed.done():
            await asyncio.wait({self._output_closed}, timeout=seconds)

    def close(self) -> None:
        """Stop reading: output still open belongs to background children (they live on).

        Before the exit is seen (the awaiting coroutine was closed, not cancelled: its
        loop went away) the caller has killed the group; a thread reaps the shell then,
        since this loop may never run again."""
        for fd in list(self._open_pipes):
            self._close_pipe(fd)
        if self._sink_failures > 1:
            log.error("a command's output could not be kept %d more times", self._sink_failures - 1)
            self._sink_failures = 0
        if not self.exited.done() and self._pidfd is not None:
            self._stop_watching_exit()
            self._wait_in_thread_from_now()

    # -- output --------------------------------------------------------------

    def _watch_pipe(self, pipe: IO[bytes], sink: OutputSink) -> None:
        fd = pipe.fileno()
        os.set_blocking(fd, False)
        self._open_pipes[fd] = pipe
        self._loop.add_reader(fd, self._read, fd, sink)

    def _read(self, fd: int, sink: OutputSink) -> None:
        try:
            data = os.read(fd, READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as err:
            log.warning("reading a command's output failed, so the rest is lost: %s", err)
            data = b""
        if not data:
            self._close_pipe(fd)
            return
        try:
            sink.feed(data)
        except Exception:
            # The pipe must still be drained, or the command would block on a full pipe.
            # One traceback says why; the count of later failures comes with `close`.
            self._sink_failures += 1
            if self._sink_failures == 1:
                log.exception("a command's output could not be kept; reading goes on")

    def _close_pipe(self, fd: int) -> None:
        pipe = self._open_pipes.pop(fd, None)
        if pipe is None:
            return
        if not self._loop.is_closed():
            self._loop.remove_reader(fd)
        _close_quietly(pipe)
        if not self._open_pipes and not self._output_closed.done() and not self._loop.is_closed():
            self._output_closed.set_result(None)

    # -- exit ----------------------------------------------------------------

    def _watch_exit(self) -> None:
        try:
            self._pidfd = os.pidfd_open(self.pid)
        except (AttributeError, OSError):
            # No pidfd here: a thread waits, as asyncio's own child watcher does.
            self._wait_in_thread_from_now()
            return
        self._loop.add_reader(self._pidfd, self._on_exit_seen)

    def _stop_watching_exit(self) -> None:
        if self._pidfd is not None:
            if not self._loop.is_closed():
                self._loop.remove_reader(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = None

    def _wait_in_thread_from_now(self) -> None:
        threading.Thread(
            target=self._wait_in_thread, name=f"command-{self.pid}", daemon=True
        ).start()

    def _on_exit_seen(self) -> None:
        self._stop_watching_exit()
        self._process.wait()  # the process is a zombie: reaping it does not block
        self._set_exited()

    def _wait_in_thread(self) -> None:
        self._process.wait()
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            self._loop.call_soon_threadsafe(self._set_exited)

    def _set_exited(self) -> None:
        if not self.exited.done():
            self.exited.set_result(None)


def _close_quietly(*pipes: IO[bytes] | None) -> None:
    for pipe in pipes:
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()


__all__ = ["CommandEnvironment", "OutputSink", "RunningCommand"]
