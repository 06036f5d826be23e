"""`DaytonaBackend`: a Daytona cloud sandbox through the official `daytona` SDK (async client).

Implements what deepagents' `BaseSandbox` needs (`execute`, `upload_files`,
`download_files`, `id`); file tools run as commands inside the sandbox. The
SDK's client belongs to the event loop that made it: the async methods are the
real ones, the blocking twins hand their work to that loop from other threads.

Either attach to an existing sandbox (`sandbox_id`) or create one (from
`snapshot_id` when given); the sandbox is reached on first use or by `start()`.
Errors from the API become `SandboxError`s that say what to do; a command's own
failure (or a failure to run it) lands in its `ExecutionResult`.
"""

from __future__ import annotations

import asyncio
import logging
import shlex
import time
import uuid
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, TypeVar

from daytona import (
    AsyncDaytona,
    AsyncSandbox,
    CreateSandboxFromSnapshotParams,
    DaytonaAuthenticationError,
    DaytonaConfig,
    DaytonaError,
    DaytonaNotFoundError,
    DaytonaTimeoutError,
    FileDownloadRequest,
    FileUpload,
)
from deepagents.backends.protocol import FileDownloadResponse, FileUploadResponse
from deepagents.backends.sandbox import BaseSandbox

from graphton.errors import SandboxError
from graphton.sandbox.local import DEFAULT_MAX_OUTPUT_BYTES, DEFAULT_TIMEOUT_S
from graphton.sandbox.result import TIMEOUT_EXIT_CODE, ExecutionResult

DEFAULT_ROOT_DIR = "/home/daytona"
"""Where commands run and skills go: the sandbox user's home in Daytona's images."""
SANDBOX_ERROR_EXIT_CODE = 125
"""Exit code of a command the sandbox could not run at all (an API or network error)."""
START_TIMEOUT_S = 120.0
KILL_TIMEOUT_S = 15.0
COMMANDS_FOLDER = ".agent-runner/commands"
"""Under the root: one small file per command under way, holding its shell's pid."""

Result = TypeVar("Result")

log = logging.getLogger(__name__)

# Stops a process, kills its descendants (found while it cannot fork more), then it.
# Run by `sh`, whatever shell the sandbox gives commands.
_KILL_TREE = """kill_tree() {
  kill -STOP "$1" 2>/dev/null || return 0
  for child in $(cat /proc/"$1"/task/*/children 2>/dev/null); do kill_tree "$child"; done
  kill -KILL "$1" 2>/dev/null
}"""
_KILL_FROM_FILE = (
    '  if [ -f "$f" ]; then pid=$(cat "$f"); [ -n "$pid" ] && kill_tree "$pid"; fi\n  rm -f "$f"'
)


def _recording_pid(command: str, pid_file: str) -> str:
    """`command`, run as before by the sandbox's shell, after that shell wrote its pid to
    `pid_file` (removed when it exits); `command` on its own line, so that nothing in it
    can change the first."""
    folder, quoted_file = pid_file.rsplit("/", 1)[0], shlex.quote(pid_file)
    return (
        f"mkdir -p {shlex.quote(folder)} 2>/dev/null; echo $$ > {quoted_file} 2>/dev/null; "
        f"trap {shlex.quote(f'rm -f {quoted_file}')} EXIT\n"
        f"{command}"
    )


class DaytonaBackend(BaseSandbox):
    def __init__(
        self,
        *,
        api_key: str,
        api_url: str | None = None,
        target: str | None = None,
        sandbox_id: str | None = None,
        snapshot_id: str | None = None,
        env: Mapping[str, str] | None = None,
        labels: Mapping[str, str] | None = None,
        root_dir: str = DEFAULT_ROOT_DIR,
        timeout: int = DEFAULT_TIMEOUT_S,
        max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES,
        output_filter: Callable[[str], str] | None = None,
        client: AsyncDaytona | None = None,
    ) -> None:
        self._config = DaytonaConfig(api_key=api_key, api_url=api_url, target=target)
        self._client = client
        self._owns_client = client is None
        self._sandbox_id = sandbox_id
        self._snapshot_id = snapshot_id
        self._env = dict(env or {})
        self._labels = dict(labels or {})
        self.root_dir = root_dir.rstrip("/") or "/"
        self._timeout = timeout
        self._max_output_bytes = max_output_bytes
        self._output_filter = output_filter or (lambda text: text)
        self._sandbox: AsyncSandbox | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._running: set[str] = set()
        """The pid files of commands under way (each names the shell that runs one)."""
        self.created = False
        """Whether `start()` created the sandbox (rather than attaching to one)."""

    # -- lifecycle ---------------------------------------------------------------

    @property
    def id(self) -> str:
        if self._sandbox is not None:
            return str(self._sandbox.id)
        if self._sandbox_id is not None:
            return self._sandbox_id
        raise SandboxError("the Daytona sandbox has not been created yet: await start() first")

    async def start(self) -> DaytonaBackend:
        """Attach to the sandbox, or create it; idempotent."""
        if self._sandbox is not None:
            return self
        self._loop = asyncio.get_running_loop()
        if self._client is None:
            self._client = AsyncDaytona(self._config)
        try:
            if self._sandbox_id is not None:
                self._sandbox = await self._client.get(self._sandbox_id)
            else:
                params = CreateSandboxFromSnapshotParams(
                    snapshot=self._snapshot_id, env_vars=self._env, labels=self._labels
                )
                self._sandbox = await self._client.create(params, timeout=START_TIMEOUT_S)
                self.created = True
        except DaytonaNotFoundError as err:
            raise SandboxError(
                f"Daytona sandbox {self._sandbox_id!r} was not found (deleted or expired); "
                "create a new one"
            ) from err
        except DaytonaAuthenticationError as err:
            raise SandboxError(
                f"Daytona refused the API key ({err}); check DAYTONA_API_KEY"
            ) from err
        except DaytonaError as err:
            raise SandboxError(f"Daytona could not provide a sandbox: {err}") from err
        return self

    async def _ready(self) -> AsyncSandbox:
        if self._sandbox is None:
            await self.start()
        assert self._sandbox is not None
        return self._sandbox

    async def close(self) -> None:
        """Release the SDK client if this backend made it; the sandbox itself stays."""
        if self._owns_client and self._client is not None:
            await self._client.close()
            self._client = None

    async def delete_sandbox(self) -> bool:
        """Delete the sandbox; False when it was already gone."""
        try:
            sandbox = await self._ready()
            await sandbox.delete()
        except (DaytonaNotFoundError, SandboxError):
            return False
        except DaytonaError as err:
            raise SandboxError(f"deleting Daytona sandbox {self.id!r} failed: {err}") from err
        return True

    # -- commands ------------------------------------------------------------------

    async def aexecute(
        self,
        command: str,
        *,
        timeout: int | None = None,  # noqa: ASYNC109  # the protocol's name for it
    ) -> ExecutionResult:
        """Run `command` in the sandbox's root; the command's failure lands in the result.

        When the awaiting task is cancelled, the command and everything it started
        are killed in the sandbox before the cancellation goes on: a cancelled
        request alone would leave them running there.
        """
        limit = self._timeout if timeout is None else timeout
        started = time.monotonic()
        pid_file = f"{self.root_dir}/{COMMANDS_FOLDER}/{uuid.uuid4().hex[:12]}.pid"
        self._running.add(pid_file)
        try:
            sandbox = await self._ready()
            response = await sandbox.process.exec(
                _recording_pid(command, pid_file),
                cwd=self.root_dir,
                env=self._env or None,
                timeout=limit or None,
            )
        except asyncio.CancelledError:
            await self._kill_commands({pid_file})
            raise
        except DaytonaTimeoutError:
            return ExecutionResult(
                exit_code=TIMEOUT_EXIT_CODE,
                stderr=f"[killed after {limit}s: the command timed out]",
                timed_out=True,
                duration_s=time.monotonic() - started,
            )
        except (DaytonaError, SandboxError) as err:
            return ExecutionResult(
                exit_code=SANDBOX_ERROR_EXIT_CODE,
                stderr=f"the Daytona sandbox could not run the command: {err}",
                duration_s=time.monotonic() - started,
            )
        finally:
            self._running.discard(pid_file)
        output = response.result or ""
        encoded = output.encode()
        truncated = len(encoded) > self._max_output_bytes
        if truncated:
            dropped = len(encoded) - self._max_output_bytes
            output = encoded[: self._max_output_bytes].decode(errors="replace")
            output += f"\n[... {dropped} more bytes not kept]"
        exit_code = response.exit_code if response.exit_code is not None else -1
        return ExecutionResult(
            exit_code=TIMEOUT_EXIT_CODE if exit_code == -1 else int(exit_code),
            stdout=self._output_filter(output),
            truncated=truncated,
            timed_out=exit_code == -1,
            duration_s=time.monotonic() - started,
        )

    def execute(self, command: str, *, timeout: int | None = None) -> ExecutionResult:
        return self._blocking(self.aexecute(command, timeout=timeout))

    # -- files -----------------------------------------------------------------------

    async def aupload_files(self, files: list[tuple[str, bytes]]) -> list[FileUploadResponse]:
        """Every file in one request; when it fails, each file reports the error."""
        if not files:
            return []
        try:
            sandbox = await self._ready()
            await sandbox.fs.upload_files(
                [FileUpload(source=data, destination=path) for path, data in files]
            )
        except (DaytonaError, SandboxError) as err:
            return [
                FileUploadResponse(path=path, error=f"upload failed: {err}") for path, _ in files
            ]
        return [FileUploadResponse(path=path) for path, _ in files]

    def upload_files(self, files: list[tuple[str, bytes]]) -> list[FileUploadResponse]:
        return self._blocking(self.aupload_files(files))

    async def adownload_files(self, paths: list[str]) -> list[FileDownloadResponse]:
        """Every file in one request; a file that cannot be read reports why."""
        if not paths:
            return []
        try:
            sandbox = await self._ready()
            results = await sandbox.fs.download_files(
                [FileDownloadRequest(source=p) for p in paths]
            )
        except (DaytonaError, SandboxError) as err:
            return [FileDownloadResponse(path=p, error=f"download failed: {err}") for p in paths]
        responses = []
        for path, result in zip(paths, results, strict=True):
            if result.error:
                error = "file_not_found" if "not found" in result.error.lower() else result.error
                responses.append(FileDownloadResponse(path=path, error=error))
            else:
                content = result.result if isinstance(result.result, bytes) else b""
                responses.append(FileDownloadResponse(path=path, content=content))
        return responses

    def download_files(self, paths: list[str]) -> list[FileDownloadResponse]:
        return self._blocking(self.adownload_files(paths))

    async def make_executable(self, paths: list[str]) -> None:
        quoted = " ".join(shlex.quote(p) for p in paths)
        result = await self.aexecute(f"chmod +x {quoted}")
        if not result.ok:
            raise SandboxError(f"could not make files executable: {result.output.strip()}")

    async def akill_all(self) -> int:
        """Kill every command of this backend still running in the sandbox, with what it
        started; how many commands that was."""
        running = set(self._running)
        await self._kill_commands(running)
        return len(running)

    def kill_all(self) -> int:
        return self._blocking(self.akill_all())

    async def _kill_commands(self, pid_files: set[str]) -> None:
        """One request that kills the commands whose pids are in `pid_files`, each with
        its descendants; a failure is logged (the sandbox may be gone), never raised."""
        if not pid_files or self._sandbox is None:
            return
        self._running.difference_update(pid_files)
        files = " ".join(shlex.quote(f) for f in sorted(pid_files))
        script = f"{_KILL_TREE}\nfor f in {files}; do\n{_KILL_FROM_FILE}\ndone\ntrue"
        try:
            async with asyncio.timeout(KILL_TIMEOUT_S):
                await self._sandbox.process.exec(f"sh -c {shlex.quote(script)}", timeout=None)
        except (DaytonaError, TimeoutError) as err:
            log.warning("could not stop commands in Daytona sandbox %s: %s", self.id, err)

    # -- the blocking twins ------------------------------------------------------------

    def _blocking(self, coroutine: Coroutine[Any, Any, Result]) -> Result:
        """Run `coroutine` on the loop that owns the SDK client, from another thread."""
        if self._loop is None:
            return asyncio.run(coroutine)
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            coroutine.close()
            raise SandboxError(
                "a blocking DaytonaBackend method was called on its own event loop; "
                "use the async method (aexecute, aupload_files, ...) instead"
            )
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()
