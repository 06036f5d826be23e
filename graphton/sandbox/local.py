"""`FilesystemBackend`: the local sandbox, a folder on this machine plus a shell in it.

!!! warning "Not an isolation boundary"
    File tools are confined to `root_dir`, but `execute` runs real shell commands
    with this process's user and environment. A command can read or change
    anything that user can. Use it for local development and tests; run
    untrusted agents in a Daytona sandbox (`DaytonaBackend`).

Compared with deepagents' `LocalShellBackend`, commands here inherit the
process environment (plus `PYTHONUNBUFFERED=1` and the extra `env`), run each
in their own process group so a timeout or cancellation kills the command's
children too, never outlive this process (see `graphton.sandbox.guard`), read
output through bounded buffers with a bounded spool on disk, and never block
the event loop.

Paths. The file tools take virtual paths: `/` is the root. Because a command
run in the root sees the host (`pwd` prints the root's real path), the root's
real path is accepted too, and an answer uses the form of its question:
`ls /notes` lists `/notes/a.md`; `ls <root>/notes` lists `<root>/notes/a.md`.
The runner's own folder `/.agent-runner/` (spooled outputs, command records)
is left out of `ls`, `glob` and `grep` answers unless the question is about a
path inside it; it stays readable by path.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import signal
import time
import uuid
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath
from typing import Any

from deepagents.backends.filesystem import FilesystemBackend as _FileToolsBackend
from deepagents.backends.protocol import (
    INVALID_PATH,
    PERMISSION_DENIED,
    DeleteResult,
    EditResult,
    FileDownloadResponse,
    FileInfo,
    FileUploadResponse,
    GlobResult,
    GrepMatch,
    GrepResult,
    LsResult,
    ReadResult,
    SandboxBackendProtocol,
    WriteResult,
)
from deepagents.backends.sandbox import MAX_BINARY_BYTES
from deepagents.backends.utils import _get_backend_read_file_type

from graphton.errors import SandboxPathError
from graphton.sandbox.capture import SpoolBudget, SpoolTarget, StreamCapture
from graphton.sandbox.guard import TAG_VARIABLE, CommandGuard, reap_leftovers
from graphton.sandbox.live_output import current_listener
from graphton.sandbox.result import TIMEOUT_EXIT_CODE, ExecutionResult
from graphton.sandbox.spawn import CommandEnvironment, RunningCommand

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 120
DEFAULT_MAX_OUTPUT_BYTES = 1024 * 1024
"""Bytes kept in memory (and in the result) per stream (stdout, stderr) of one command."""
DEFAULT_SPOOL_STREAM_BYTES = 64 * 1024 * 1024
"""Bytes of one stream of one command kept on disk, at most."""
DEFAULT_SPOOL_TOTAL_BYTES = 256 * 1024 * 1024
"""Bytes kept on disk for all the commands of one backend (one execution), at most."""

RUNNER_FOLDER = ".agent-runner"
"""The runner's own folder under the root: hidden from listings, readable by path."""
OUTPUT_FOLDER = f"{RUNNER_FOLDER}/outputs"
"""Where, under the root, the output of a command that outgrew the limit is kept."""
DRAIN_AFTER_EXIT_S = 1.0
"""How long output is still read after the shell exits. A background child that
keeps the pipe open (`server &`) would otherwise hold the command until its timeout."""
MAX_PATH_BYTES = 4096
MAX_NAME_BYTES = 255


class InvalidSandboxPath(SandboxPathError):
    """A path that is malformed (a NUL byte, text that is not valid Unicode, too long)
    or names no place in the sandbox (`..`, `~`): the protocol's `invalid_path`."""


class FilesystemBackend(_FileToolsBackend, SandboxBackendProtocol):
    """deepagents' file tools over `root_dir` (virtual paths) plus `execute` in that folder.

    Commands inherit this process's environment less the names in `withheld_env`
    (the runner withholds its own credentials), and `env` is added to it.
    `output_filter` is applied to every command's output before anyone sees it,
    the spooled copy on disk included (the runner masks secret values with it; see
    `graphton.sandbox.masking` for how it stays safe on a stream). Output past
    `max_output_bytes` per stream is kept in `/.agent-runner/outputs/` (unless
    `keep_full_output=False`), at most `spool_stream_bytes` per stream and
    `spool_total_bytes` for all commands of this backend; the result says exactly
    what was kept where, and `truncated` is set only when bytes were dropped.

    Opening a backend reaps what commands of a process that died left running
    under the same root (and waits until it is gone).
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
        spool_stream_bytes: int = DEFAULT_SPOOL_STREAM_BYTES,
        spool_total_bytes: int = DEFAULT_SPOOL_TOTAL_BYTES,
        withheld_env: Collection[str] = (),
    ) -> None:
        root = Path(root_dir).expanduser().resolve()
        root.mkdir(parents=True, exist_ok=True)
        super().__init__(root_dir=root, virtual_mode=True)
        reap_leftovers(root)
        tag = uuid.uuid4().hex
        self._environment = CommandEnvironment(
            {"PYTHONUNBUFFERED": "1", **(env or {}), TAG_VARIABLE: tag}, withheld_env
        )
        self._timeout = timeout
        self._max_output_bytes = max_output_bytes
        self._output_filter = output_filter
        self._keep_full_output = keep_full_output
        self._spool_stream_bytes = spool_stream_bytes
        self._spool_budget = SpoolBudget(spool_total_bytes)
        self._guard = CommandGuard(root, tag)
        self._process_groups: set[int] = set()

    @property
    def id(self) -> str:
        return f"local:{self.cwd}"

    @property
    def root_dir(self) -> Path:
        return self.cwd

    # -- paths ---------------------------------------------------------------

    def _virtual(self, key: str) -> str:
        """`key` as a virtual path (the root's real path accepted), checked for form."""
        if "\0" in key:
            raise InvalidSandboxPath(f"{key!r} is not a valid path: it contains a NUL byte")
        try:
            encoded = key.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidSandboxPath(
                f"{key!r} is not a valid path: it contains a character that is not valid "
                "Unicode (a lone surrogate)"
            ) from None
        if len(encoded) > MAX_PATH_BYTES or any(
            len(part.encode()) > MAX_NAME_BYTES for part in key.split("/")
        ):
            raise InvalidSandboxPath(
                f"{key[:80]!r}... is not a valid path: too long (at most {MAX_PATH_BYTES} "
                f"bytes, {MAX_NAME_BYTES} per name)"
            )
        root = str(self.cwd)
        if key == root or key.startswith(root + "/"):
            key = key[len(root) :] or "/"
        if key.startswith("~"):
            raise InvalidSandboxPath(
                f"{key!r} is not a sandbox path: '~' is not allowed; "
                "use a path under the sandbox root '/'"
            )
        if ".." in PurePosixPath(key).parts:
            raise InvalidSandboxPath(
                f"{key!r} leaves the sandbox: '..' is not allowed; "
                "use a path under the sandbox root '/'"
            )
        return key

    def _resolve_path(self, key: str) -> Path:
        """Map a virtual path (`/notes.md`) to a file under the root, or refuse it."""
        key = self._virtual(key)
        try:
            full = (self.cwd / key.lstrip("/")).resolve()
        except (OSError, RuntimeError) as err:  # RuntimeError: a symbolic link loop
            raise InvalidSandboxPath(f"{key!r} cannot be resolved: {err}") from None
        if not full.is_relative_to(self.cwd):
            raise SandboxPathError(
                f"{key!r} leads outside the sandbox through a symbolic link; "
                "only files under the sandbox root '/' can be used"
            )
        return full

    def _host_form(self, path: str | None) -> bool:
        """Whether a question named the root by its real path (the answer then does too)."""
        root = str(self.cwd)
        return path is not None and (path == root or path.startswith(root + "/"))

    def _answer_path(self, virtual: str, host_form: bool) -> str:
        return f"{self.cwd}{virtual}" if host_form and virtual.startswith("/") else virtual

    def _shows(self, virtual: str, asked: str | None) -> bool:
        """Whether an answer entry is shown: the runner's folder only when asked about it."""
        hidden = f"/{RUNNER_FOLDER}"
        inside = virtual == hidden or virtual.startswith(hidden + "/")
        if not inside:
            return True
        try:
            question = "/" + self._virtual(asked or "/").strip("/")
        except SandboxPathError:
            return False
        return question == hidden or question.startswith(hidden + "/")

    # -- file tools: malformed input is an error result, never an exception --------

    def ls(self, path: str) -> LsResult:
        try:
            self._virtual(path)
        except SandboxPathError as err:
            return LsResult(error=str(err), entries=None)
        result = super().ls(path)
        if result.entries is None:
            return result
        host = self._host_form(path)
        entries: list[FileInfo] = [
            {**entry, "path": self._answer_path(entry["path"], host)}
            for entry in result.entries
            if self._shows(entry["path"], path)
        ]
        return LsResult(error=result.error, entries=entries)

    def read(self, file_path: str, offset: int = 0, limit: int = 2000) -> ReadResult:
        """deepagents' read, with its sandboxes' bound on binary files (shown as base64)."""
        try:
            self._virtual(file_path)
        except SandboxPathError as err:
            return ReadResult(error=f"Error reading file: {err}")
        if _get_backend_read_file_type(file_path) != "text":
            try:
                size = self._resolve_path(file_path).stat().st_size
            except OSError:
                size = 0  # the read itself reports what is wrong
            if size > MAX_BINARY_BYTES:
                return ReadResult(
                    error=f"File '{file_path}': Binary file exceeds maximum preview size "
                    f"of {MAX_BINARY_BYTES} bytes"
                )
        return super().read(file_path, offset, limit)

    def write(self, file_path: str, content: str) -> WriteResult:
        try:
            self._virtual(file_path)
            _check_text("content", content)
        except SandboxPathError as err:
            return WriteResult(error=f"Error writing file: {err}")
        return super().write(file_path, content)

    def edit(
        self,
        file_path: str,
        old_string: str,
        new_string: str,
        replace_all: bool = False,  # the protocol's signature
    ) -> EditResult:
        try:
            self._virtual(file_path)
            _check_text("old_string", old_string)
            _check_text("new_string", new_string)
        except SandboxPathError as err:
            return EditResult(error=f"Error editing file: {err}")
        return super().edit(file_path, old_string, new_string, replace_all)

    def delete(self, file_path: str) -> DeleteResult:
        """Delete a file or folder; a symbolic link is removed as a link, never followed."""
        try:
            virtual = self._virtual(file_path)
        except SandboxPathError as err:
            return DeleteResult(error=f"Error deleting: {err}")
        relative = virtual.strip("/")
        if relative:
            # The link itself: its folder resolved (and confined), its name as it is.
            parent = self._resolve_path("/" + str(PurePosixPath(relative).parent))
            link = parent / PurePosixPath(relative).name
            if link.is_symlink():
                try:
                    link.unlink()
                except OSError as err:
                    return DeleteResult(error=f"Error deleting '{file_path}': {err}")
                return DeleteResult(path=file_path)
        return super().delete(file_path)

    def grep(
        self,
        pattern: str,
        path: str | None = None,
        glob: str | None = None,
        *,
        max_count: int | None = None,
        context_lines: int = 0,
    ) -> GrepResult:
        try:
            self._virtual(path or "/")
            _check_pattern("pattern", pattern)
            _check_pattern("glob", glob or "")
        except SandboxPathError as err:
            return GrepResult(error=str(err), matches=None)
        # deepagents' search without ripgrep searches a file's whole folder: a search of
        # one file keeps that file's matches only (and counts them itself).
        only = self._single_file(path)
        result = super().grep(
            pattern,
            path,
            glob,
            max_count=None if only else max_count,
            context_lines=context_lines,
        )
        if result.matches is None:
            return result
        host = self._host_form(path)
        matches: list[GrepMatch] = [
            {**match, "path": self._answer_path(match["path"], host)}
            for match in result.matches
            if self._shows(match["path"], path) and only in (None, match["path"])
        ]
        truncated = result.truncated
        if only and max_count is not None and len(matches) > max_count:
            matches, truncated = matches[:max_count], True
        return GrepResult(error=result.error, matches=matches, truncated=truncated)

    def _single_file(self, path: str | None) -> str | None:
        """The virtual path of the file a search names, when it names a file (deepagents'
        fallback search, without ripgrep, would search the file's whole folder)."""
        try:
            resolved = self._resolve_path(path or "/")
        except SandboxPathError:
            return None
        return "/" + resolved.relative_to(self.cwd).as_posix() if resolved.is_file() else None

    async def agrep(
        self,
        pattern: str,
        path: str | None = None,
        glob: str | None = None,
        *,
        max_count: int | None = None,
        context_lines: int = 0,
    ) -> GrepResult:
        return await asyncio.to_thread(
            self.grep, pattern, path, glob, max_count=max_count, context_lines=context_lines
        )

    def glob(self, pattern: str, path: str | None = None) -> GlobResult:
        try:
            self._virtual(path or "/")
            _check_pattern("pattern", pattern)
        except SandboxPathError as err:
            return GlobResult(error=str(err), matches=None)
        result = super().glob(pattern, path)
        if result.matches is None:
            return result
        host = self._host_form(path)
        matches: list[FileInfo] = [
            {**match, "path": self._answer_path(match["path"], host)}
            for match in result.matches
            if self._shows(match["path"], path)
        ]
        return GlobResult(
            error=result.error,
            matches=matches,
            truncated=result.truncated,
            truncation_reason=result.truncation_reason,
        )

    def upload_files(self, files: list[tuple[str, bytes]]) -> list[FileUploadResponse]:
        return [
            refused
            if (refused := self._refusal(path, FileUploadResponse)) is not None
            else super(FilesystemBackend, self).upload_files([(path, content)])[0]
            for path, content in files
        ]

    def download_files(self, paths: list[str]) -> list[FileDownloadResponse]:
        return [
            refused
            if (refused := self._refusal(path, FileDownloadResponse)) is not None
            else super(FilesystemBackend, self).download_files([path])[0]
            for path in paths
        ]

    def _refusal(self, path: str, response: Any) -> Any:
        """The protocol's error for a path that is malformed or leaves the root; None if fine."""
        try:
            self._resolve_path(path)
        except InvalidSandboxPath:
            return response(path=path, error=INVALID_PATH)
        except SandboxPathError:
            return response(path=path, error=PERMISSION_DENIED)
        except OSError:
            return None  # the operation itself reports it with the right code
        return None

    # -- commands ------------------------------------------------------------

    def execute(self, command: str, *, timeout: int | None = None) -> ExecutionResult:
        """Run `command`; a blocking twin of `aexecute` for synchronous callers."""
        coroutine = self.aexecute(command, timeout=timeout)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(coroutine)
        # Called from a thread that runs an event loop: blocking it would stall
        # every other task, so the command gets a loop of its own on a helper thread,
        # in this context (its output listener, say), which a thread does not inherit.
        context = contextvars.copy_context()
        with ThreadPoolExecutor(max_workers=1) as helper:
            return helper.submit(context.run, asyncio.run, coroutine).result()

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
        An empty or blank command is exit code 1 with a message.
        """
        limit = self._timeout if timeout is None else timeout
        started = time.monotonic()
        if not isinstance(command, str) or not command.strip():
            return ExecutionResult(
                exit_code=1, stderr="Error: the command is empty; give a shell command to run."
            )
        self._guard.arm()
        stdout, stderr = self._streams()
        try:
            running = RunningCommand.start(
                command, cwd=self.cwd, env=self._environment.now(), stdout=stdout, stderr=stderr
            )
        except (OSError, ValueError) as err:  # ValueError: a NUL byte or a lone surrogate
            return ExecutionResult(
                exit_code=126,
                stderr=f"could not start the command: {_describe_start_error(err)}",
                duration_s=time.monotonic() - started,
            )
        group = running.pid
        self._process_groups.add(group)
        timed_out = False
        try:
            try:
                # Shielded: a timeout or cancellation must not cancel the future itself.
                async with asyncio.timeout(limit or None):
                    await asyncio.shield(running.exited)
            except TimeoutError:
                timed_out = True
                _kill_group(group)
                await asyncio.shield(running.exited)
            # Outside the time limit: a command that ended in time is not timed out for
            # a background child that keeps its output open (`server &`).
            await running.output_closed_within(DRAIN_AFTER_EXIT_S)
        except asyncio.CancelledError:
            _kill_group(group)
            await asyncio.shield(running.exited)
            raise
        finally:
            if not running.exited.done():
                # Cancelled again while it died, or the coroutine closed with its loop:
                # nothing will wait for it here, so nothing of it may run on.
                _kill_group(group)
            running.close()
            stdout.close()
            stderr.close()
            if not _group_alive(group):
                self._process_groups.discard(group)
        return self._result(stdout, stderr, running.returncode, timed_out, limit, started)

    def _result(
        self,
        stdout: StreamCapture,
        stderr: StreamCapture,
        returncode: int | None,
        timed_out: bool,
        limit: int,
        started: float,
    ) -> ExecutionResult:
        stderr_text = stderr.text()  # masked already, like stdout
        if timed_out:
            note = f"[killed after {limit}s: the command timed out]"
            stderr_text = f"{stderr_text}\n{note}" if stderr_text else note
        errors = {s.spool_error for s in (stdout, stderr) if s.spool_error}
        if errors:
            log.warning(
                "sandbox %s: the full output of a command could not be kept: %s",
                self.cwd,
                "; ".join(sorted(errors)),
            )
        return ExecutionResult(
            exit_code=TIMEOUT_EXIT_CODE if timed_out else _shell_exit_code(returncode),
            stdout=stdout.text(),
            stderr=stderr_text,
            truncated=stdout.dropped > 0 or stderr.dropped > 0,
            timed_out=timed_out,
            duration_s=time.monotonic() - started,
        )

    def _streams(self) -> tuple[StreamCapture, StreamCapture]:
        """The captures of a command's stdout and stderr, with where they spool, and
        who watches them live (the listener of the context the command runs in)."""
        name = uuid.uuid4().hex[:12]
        live = current_listener()

        def spool(stream: str) -> SpoolTarget | None:
            if not self._keep_full_output:
                return None
            return SpoolTarget(
                path=self.cwd / OUTPUT_FOLDER / f"{name}.{stream}",
                virtual=f"/{OUTPUT_FOLDER}/{name}.{stream}",
                cap=self._spool_stream_bytes,
                budget=self._spool_budget,
            )

        return (
            StreamCapture(self._max_output_bytes, spool("stdout"), self._output_filter, live),
            StreamCapture(self._max_output_bytes, spool("stderr"), self._output_filter, live),
        )

    def kill_all(self) -> int:
        """Kill every process this backend's commands started that is still alive.

        Used when an execution ends or is cancelled, so that background children
        of earlier commands do not outlive it. Returns the number of process
        groups killed (children that left their group are killed too).
        """
        killed = 0
        for group in list(self._process_groups):
            if _kill_group(group):
                killed += 1
            self._process_groups.discard(group)
        self._guard.close()
        return killed


def _check_pattern(name: str, value: str) -> None:
    """Refuse a search pattern with a NUL byte (no tool can take it) or a lone surrogate."""
    if "\0" in value:
        raise InvalidSandboxPath(f"the {name} contains a NUL byte, which cannot be searched for")
    _check_text(name, value)


def _check_text(name: str, value: str) -> None:
    """Refuse text that cannot be written as UTF-8 (a lone surrogate)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidSandboxPath(
            f"the {name} contains a character that is not valid Unicode (a lone surrogate)"
        ) from None


def _describe_start_error(err: Exception) -> str:
    if isinstance(err, ValueError) and "null" in str(err):
        return "the command contains a NUL byte"
    if isinstance(err, UnicodeEncodeError):
        return "the command contains a character that is not valid Unicode (a lone surrogate)"
    return str(err)


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


__all__ = [
    "DEFAULT_MAX_OUTPUT_BYTES",
    "DEFAULT_SPOOL_STREAM_BYTES",
    "DEFAULT_SPOOL_TOTAL_BYTES",
    "DEFAULT_TIMEOUT_S",
    "FilesystemBackend",
    "InvalidSandboxPath",
]
