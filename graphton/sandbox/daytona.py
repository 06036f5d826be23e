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
import time
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

Result = TypeVar("Result")


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
        limit = self._timeout if timeout is None else timeout
        started = time.monotonic()
        try:
            sandbox = await self._ready()
            response = await sandbox.process.exec(
                command, cwd=self.root_dir, env=self._env or None, timeout=limit or None
            )
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
        quoted = " ".join("'" + p.replace("'", "'\\''") + "'" for p in paths)
        result = await self.aexecute(f"chmod +x {quoted}")
        if not result.ok:
            raise SandboxError(f"could not make files executable: {result.output.strip()}")

    def kill_all(self) -> int:
        """Commands end with their request in Daytona; nothing is left to kill here."""
        return 0

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
