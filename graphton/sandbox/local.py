"""`FilesystemBackend`: the local sandbox, a folder on this machine plus a shell in it.

!!! warning "Not an isolation boundary"
    File tools are confined to `root_dir`, but `execute` runs real shell commands
    with this process's user and environment. A command can read or change
    anything that user can. Use it for local development and tests; run
    untrusted agents in a Daytona sandbox (`DaytonaBackend`).

Compared with deepagents' `LocalShellBackend`, commands here inherit the
process environment (plus `PYTHONUNBUFFERED=1` and the extra `env`), run each
in their own process group so a timeout or cancellation kills the command's
children too, read output through bounded buffers, and never block the event
loop.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from deepagents.backends.filesystem import FilesystemBackend as _FileToolsBackend
from deepagents.backends.protocol import SandboxBackendProtocol

from graphton.errors import SandboxPathError
from graphton.sandbox.result import TIMEOUT_EXIT_CODE, ExecutionResult

DEFAULT_TIMEOUT_S = 120
DEFAULT_MAX_OUTPUT_BYTES = 1024 * 1024
"""Bytes kept per stream (stdout, stderr) of one command; the rest is counted and dropped."""

OUTPUT_FOLDER = ".agent-runner/outputs"
"""Where, under the root, the whole output of a command that outgrew the limit is kept."""
DRAIN_AFTER_EXIT_S = 1.0
"""How long output is still read after the shell exits. A background child that
keeps the pipe open (`server &`) would otherwise hold the command until its timeout."""


class FilesystemBackend(_FileToolsBackend, SandboxBackendProtocol):
    """deepagents' file tools over `root_dir` (virtual paths) plus `execute` in that folder.

    `env` is added to every command's environment; `output_filter` is applied
    to every command's stdout and stderr before anyone sees them (the runner
    masks secret values with it). Output past `max_output_bytes` per stream is
    kept whole in `/.agent-runner/outputs/` (unless `keep_full_output=False`),
    and the result says where.
    """

    def __init__(
        self,
        root_dir: str | Path,
        *,
        env: Mapping[str, str] | None = None,
        timeout: int = DEFAULT_TIMEOUT_S,
        max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES,
        output_filter: Callable[[str], str] | None = None,
        keep_full_output: bool = True,
    ) -> None:
        root = Path(root_dir).expanduser().resolve()
        root.mkdir(parents=True, exist_ok=True)
        super().__init__(root_dir=root, virtual_mode=True)
        self._extra_env = {"PYTHONUNBUFFERED": "1", **(env or {})}
        self._timeout = timeout
        self._max_output_bytes = max_output_bytes
        self._output_filter = output_filter or (lambda text: text)
        self._keep_full_output = keep_full_output
        self._process_groups: set[int] = set()

    @property
    def id(self) -> str:
        return f"local:{self.cwd}"

    @property
    def root_dir(self) -> Path:
        return self.cwd

    # -- paths ---------------------------------------------------------------

    def _resolve_path(self, key: str) -> Path:
        """Map a virtual path (`/notes.md`) to a file under the root, or refuse it.

        The root's own host path is accepted too (`pwd` in a command prints it).
        """
        root = str(self.cwd)
        if key == root or key.startswith(root + "/"):
            key = key[len(root) :] or "/"
        if key.startswith("~"):
            raise SandboxPathError(
                f"{key!r} is not a sandbox path: '~' is not allowed; "
                "use a path under the sandbox root '/'"
            )
        if ".." in PurePosixPath(key).parts:
            raise SandboxPathError(
                f"{key!r} leaves the sandbox: '..' is not allowed; "
                "use a path under the sandbox root '/'"
            )
        full = (self.cwd / key.lstrip("/")).resolve()
        if not full.is_relative_to(self.cwd):
            raise SandboxPathError(
                f"{key!r} leads outside the sandbox through a symbolic link; "
                "only files under the sandbox root '/' can be used"
            )
        return full

    # -- commands ------------------------------------------------------------

    def execute(self, command: str, *, timeout: int | None = None) -> ExecutionResult:
        """Run `command`; a blocking twin of `aexecute` for synchronous callers."""
        coroutine = self.aexecute(command, timeout=timeout)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(coroutine)
        # Called from a thread that runs an event loop: blocking it would stall
        # every other task, so the command gets a loop of its own on a helper thread.
        with ThreadPoolExecutor(max_workers=1) as helper:
            return helper.submit(asyncio.run, coroutine).result()

    async def aexecute(
        self,
        command: str,
        *,
        timeout: int | None = None,  # noqa: ASYNC109  # the protocol's name for it
    ) -> ExecutionResult:
        """Run `command` with a shell in the root; the command's failure lands in the result.

        `timeout` in seconds (None: the backend's default; 0: none). On timeout the
        whole process group is killed and the exit code is 124. When the awaiting
        task is cancelled the whole group is killed and the cancellation re-raised.
        """
        limit = self._timeout if timeout is None else timeout
        started = time.monotonic()
        loop = asyncio.get_running_loop()
        try:
            transport, capture = await loop.subprocess_shell(
                lambda: _CaptureProtocol(loop, self._max_output_bytes, self._spools()),
                command,
                cwd=self.cwd,
                env={**os.environ, **self._extra_env},  # the process's as it is now
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as err:
            return ExecutionResult(
                exit_code=126,
                stderr=f"could not start the command: {err}",
                duration_s=time.monotonic() - started,
            )
        group = transport.get_pid()
        self._process_groups.add(group)
        timed_out = False
        try:
            # Shielded: a timeout or cancellation must not cancel the futures themselves.
            async with asyncio.timeout(limit or None):
                await asyncio.shield(capture.exited)
                await capture.output_closed_within(DRAIN_AFTER_EXIT_S)
        except TimeoutError:
            timed_out = True
            _kill_group(group)
            await asyncio.shield(capture.exited)
            await capture.output_closed_within(DRAIN_AFTER_EXIT_S)
        except asyncio.CancelledError:
            _kill_group(group)
            await asyncio.shield(capture.exited)
            raise
        finally:
            # Output still open here belongs to background children that keep the
            # pipe; closing the transport stops reading it (they live on).
            transport.close()
            if not _group_alive(group):
                self._process_groups.discard(group)
        stderr_text = capture.stderr.text()
        if timed_out:
            note = f"[killed after {limit}s: the command timed out]"
            stderr_text = f"{stderr_text}\n{note}" if stderr_text else note
        return ExecutionResult(
            exit_code=TIMEOUT_EXIT_CODE
            if timed_out
            else _shell_exit_code(transport.get_returncode()),
            stdout=self._output_filter(capture.stdout.text()),
            stderr=self._output_filter(stderr_text),
            truncated=capture.stdout.dropped > 0 or capture.stderr.dropped > 0,
            timed_out=timed_out,
            duration_s=time.monotonic() - started,
        )

    def _spools(self) -> tuple[tuple[Path, str], tuple[Path, str]] | None:
        """Where this command's streams go when they outgrow the in-memory limit."""
        if not self._keep_full_output:
            return None
        name = uuid.uuid4().hex[:12]
        return (
            (self.cwd / OUTPUT_FOLDER / f"{name}.stdout", f"/{OUTPUT_FOLDER}/{name}.stdout"),
            (self.cwd / OUTPUT_FOLDER / f"{name}.stderr", f"/{OUTPUT_FOLDER}/{name}.stderr"),
        )

    def kill_all(self) -> int:
        """Kill every process group this backend started that is still alive.

        Used when an execution ends or is cancelled, so that background children
        of earlier commands do not outlive it. Returns the number of groups killed.
        """
        killed = 0
        for group in list(self._process_groups):
            if _kill_group(group):
                killed += 1
            self._process_groups.discard(group)
        return killed


class _CaptureProtocol(asyncio.SubprocessProtocol):
    """Receives a command's output straight into bounded buffers, and its exit.

    No stream readers or reading tasks: each chunk the event loop reads is kept
    (up to the limit) or counted, at once. `exited` resolves when the process
    exits; Python 3.11's `Process.wait()` would also wait for the pipes, which a
    background child can hold open indefinitely.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        limit: int,
        spools: tuple[tuple[Path, str], tuple[Path, str]] | None = None,
    ) -> None:
        self.stdout = _BoundedCapture(limit, spools[0] if spools else None)
        self.stderr = _BoundedCapture(limit, spools[1] if spools else None)
        self.exited: asyncio.Future[None] = loop.create_future()
        self._output_closed: asyncio.Future[None] = loop.create_future()
        self._open_pipes = 2

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        (self.stdout if fd == 1 else self.stderr).feed(data)

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        if fd in (1, 2):
            (self.stdout if fd == 1 else self.stderr).close()
            self._open_pipes -= 1
            if self._open_pipes == 0 and not self._output_closed.done():
                self._output_closed.set_result(None)

    def process_exited(self) -> None:
        if not self.exited.done():
            self.exited.set_result(None)

    async def output_closed_within(self, seconds: float) -> None:
        if not self._output_closed.done():
            await asyncio.wait({self._output_closed}, timeout=seconds)


class _BoundedCapture:
    """Keeps the first `limit` bytes of a stream in memory and counts the rest.

    With a `spool` file, output past the limit is not lost: from the first byte
    over the limit, the whole stream is written to that file, and the text says
    where it is.
    """

    def __init__(self, limit: int, spool: tuple[Path, str] | None = None) -> None:
        self.limit = limit
        self.head = bytearray()
        self.dropped = 0
        self._spool = spool
        self._spool_file: BinaryIO | None = None

    def feed(self, chunk: bytes) -> None:
        room = self.limit - len(self.head)
        if room >= len(chunk):
            self.head += chunk
            return
        if room > 0:
            self.head += chunk[:room]
        self.dropped += len(chunk) - max(room, 0)
        if self._spool is not None:
            if self._spool_file is None:
                path = self._spool[0]
                path.parent.mkdir(parents=True, exist_ok=True)
                self._spool_file = path.open("wb")
                self._spool_file.write(self.head[: len(self.head) - max(room, 0)])
            self._spool_file.write(chunk)

    def close(self) -> None:
        if self._spool_file is not None:
            self._spool_file.close()

    def text(self) -> str:
        decoded = self.head.decode("utf-8", errors="replace")
        if not self.dropped:
            return decoded
        total = len(self.head) + self.dropped
        if self._spool_file is not None and self._spool is not None:
            # First, so that it survives any later cut of a long result.
            return (
                f"[output too long: the first {len(self.head)} of {total} bytes follow; "
                f"the whole output is in {self._spool[1]}]\n{decoded}"
            )
        return f"{decoded}\n[... {self.dropped} more bytes not kept]"


def _kill_group(group: int) -> bool:
    """SIGKILL a process group; False when it no longer exists."""
    try:
        os.killpg(group, signal.SIGKILL)
    except ProcessLookupError:
        return False
    return True


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _shell_exit_code(returncode: int | None) -> int:
    """Exit code as a shell reports it: 128 + N for a process killed by signal N."""
    if returncode is None:
        return -1
    return 128 - returncode if returncode < 0 else returncode


__all__ = ["DEFAULT_MAX_OUTPUT_BYTES", "DEFAULT_TIMEOUT_S", "FilesystemBackend"]
