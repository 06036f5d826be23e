"""`DaytonaBackend`: a Daytona cloud sandbox through the official `daytona` SDK (async client).

Implements what deepagents' `BaseSandbox` needs (`execute`, `upload_files`,
`download_files`, `id`); file tools run as commands inside the sandbox. The
SDK's client belongs to the event loop that made it: the async methods are the
real ones, the blocking twins hand their work to that loop from other threads
(or, in a plain synchronous program, to a loop of the backend's own).

Either attach to an existing sandbox (`sandbox_id`) or create one (from
`snapshot_id` when given); the sandbox is reached on first use or by `start()`.
A sandbox Daytona stopped or archived (it does after `auto_stop_minutes`
without requests, whatever runs in it) is started again, a recoverable error
recovered, and a call that finds it stopped is retried once after starting it.
Rate limits, 5xx answers and lost connections are retried with backoff; then,
like every other API error, they become a `SandboxError` that says what to do.
Only Daytona's "not found" makes `SandboxGone`. A command's own failure (or a
failure to run it) lands in its `ExecutionResult`.

Commands run in a session of their own, asynchronously, polled until they end,
so that no HTTP request stays open for a command's whole run; see
`daytona_script` for what runs in the sandbox. The execution's environment
reaches each command with the command only: a sandbox is created without it,
because Daytona stores what it is given and shows it to anyone who reads the
sandbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import shlex
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any, Concatenate, ParamSpec, TypeVar

from daytona import (
    AsyncDaytona,
    AsyncSandbox,
    CreateSandboxFromSnapshotParams,
    DaytonaAuthenticationError,
    DaytonaConfig,
    DaytonaConflictError,
    DaytonaError,
    DaytonaNotFoundError,
    DaytonaTimeoutError,
    FileDownloadRequest,
    FileUpload,
    ListSandboxesQuery,
    SessionExecuteRequest,
)
from deepagents.backends.protocol import FileDownloadResponse, FileUploadResponse
from deepagents.backends.sandbox import BaseSandbox

from graphton.errors import SandboxError
from graphton.sandbox.daytona_errors import (
    RetryPolicy,
    SandboxGone,
    SandboxUnavailable,
    download_error,
    is_not_started,
    is_transient,
    never_reached,
    retrying,
    upload_error,
)
from graphton.sandbox.daytona_loops import LoopHome
from graphton.sandbox.daytona_script import (
    ENV_NAME,
    FAILED_TO_RUN_EXIT_CODE,
    CommandFiles,
    CommandOutput,
    command_script,
    kill_script,
    read_output,
)
from graphton.sandbox.local import DEFAULT_MAX_OUTPUT_BYTES, DEFAULT_TIMEOUT_S, OUTPUT_FOLDER
from graphton.sandbox.result import TIMEOUT_EXIT_CODE, ExecutionResult

SANDBOX_ERROR_EXIT_CODE = 125
"""Exit code of a command the sandbox could not run at all (an API or network error)."""
START_TIMEOUT_S = 120.0
"""How long creating, starting or recovering a sandbox may take (an archived one is restored)."""
KILL_TIMEOUT_S = 15.0
POLL_MAX_S = 1.0
"""Longest pause between two looks at a running command."""
COMMANDS_FOLDER = ".agent-runner/commands"
"""Under the root: one small file per command under way, holding its shell's pid."""
DEFAULT_AUTO_STOP_MINUTES = 15
DEFAULT_AUTO_ARCHIVE_MINUTES = 7 * 24 * 60
CREATION_LABEL = "agent-runner/creation"
"""A label unique to one creation, by which a retry finds what an earlier attempt made."""

Result = TypeVar("Result")
Params = ParamSpec("Params")

log = logging.getLogger(__name__)


def _on_own_loop(
    method: Callable[Concatenate[DaytonaBackend, Params], Coroutine[Any, Any, Result]],
) -> Callable[Concatenate[DaytonaBackend, Params], Coroutine[Any, Any, Result]]:
    """Run an async method on the loop that owns the backend's SDK client, whichever loop
    awaits it (the SDK's HTTP sessions belong to one loop)."""

    @functools.wraps(method)
    async def on_own_loop(
        self: DaytonaBackend, /, *args: Params.args, **kwargs: Params.kwargs
    ) -> Result:
        return await self._home.run(lambda: method(self, *args, **kwargs))

    return on_own_loop


def _state(sandbox: AsyncSandbox) -> str:
    state = getattr(sandbox, "state", None)
    return str(getattr(state, "value", state) or "")


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
        root_dir: str | None = None,
        timeout: int = DEFAULT_TIMEOUT_S,
        max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES,
        output_filter: Callable[[str], str] | None = None,
        auto_stop_minutes: int = DEFAULT_AUTO_STOP_MINUTES,
        auto_archive_minutes: int = DEFAULT_AUTO_ARCHIVE_MINUTES,
        retry: RetryPolicy | None = None,
        start_timeout_s: float = START_TIMEOUT_S,
        client: AsyncDaytona | None = None,
    ) -> None:
        """`root_dir` is where commands run and skills go; None: the sandbox's own working
        folder, as Daytona reports it (a snapshot's WORKDIR, else the user's home)."""
        self._config = DaytonaConfig(api_key=api_key, api_url=api_url, target=target)
        self._client = client
        self._owns_client = client is None
        self._sandbox_id = sandbox_id
        self._snapshot_id = snapshot_id
        refused = sorted(name for name in (env or {}) if not ENV_NAME.match(name))
        if refused:
            log.warning(
                "environment variables %s are left out of Daytona commands: a name must be "
                "letters, digits and underscores, not starting with a digit",
                ", ".join(repr(name) for name in refused),
            )
        self._env = {k: v for k, v in (env or {}).items() if ENV_NAME.match(k)}
        self._labels = dict(labels or {})
        self._root_configured = root_dir is not None
        self._root = (root_dir.rstrip("/") or "/") if root_dir is not None else None
        self._timeout = timeout
        self._max_output_bytes = max_output_bytes
        self._output_filter = output_filter or (lambda text: text)
        self._auto_stop_minutes = auto_stop_minutes
        self._auto_archive_minutes = auto_archive_minutes
        self._retry = retry or RetryPolicy()
        self._start_timeout_s = start_timeout_s
        self._sandbox: AsyncSandbox | None = None
        self._home = LoopHome(self._forget_client)
        self._endings: set[asyncio.Future[None]] = set()
        """Deletions of finished commands' sessions still under way."""
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

    @property
    def root_dir(self) -> str:
        """Where commands run and skills go inside the sandbox."""
        if self._root is None:
            raise SandboxError(
                "the Daytona sandbox's working folder is known once it is reached: "
                "await start() first"
            )
        return self._root

    @_on_own_loop
    async def start(self) -> DaytonaBackend:
        """Attach to the sandbox (starting it when Daytona stopped it), or create it; idempotent."""
        if self._sandbox is not None:
            return self
        self._home.claim()
        if self._client is None:
            self._client = AsyncDaytona(self._config)
        try:
            if self._sandbox_id is not None:
                client, sandbox_id = self._client, self._sandbox_id
                sandbox = await self._retrying(
                    f"looking up sandbox {sandbox_id}", lambda: client.get(sandbox_id)
                )
            else:
                sandbox = await self._create()
            await self._ensure_started(sandbox)
            await self._settle_root(sandbox)
            self._sandbox = sandbox
        except DaytonaNotFoundError as err:
            raise SandboxGone(
                f"Daytona sandbox {self._sandbox_id!r} was not found (deleted or expired); "
                "create a new one"
            ) from err
        except DaytonaAuthenticationError as err:
            raise SandboxError(
                f"Daytona refused the API key ({err}); check DAYTONA_API_KEY"
            ) from err
        except DaytonaError as err:
            if is_transient(err):
                raise SandboxUnavailable(
                    f"Daytona kept failing ({err}) after {self._retry.attempts} attempts; "
                    "the sandbox is kept as it is: try again later"
                ) from err
            raise SandboxError(f"Daytona could not provide a sandbox: {err}") from err
        return self

    async def _create(self) -> AsyncSandbox:
        """Create the sandbox, retrying passing failures. Each creation carries a label of
        its own, so that a retry first adopts a sandbox an attempt made before its answer
        was lost, rather than leave it behind unknown."""
        assert self._client is not None
        client = self._client
        token = {CREATION_LABEL: uuid.uuid4().hex}
        params = CreateSandboxFromSnapshotParams(
            snapshot=self._snapshot_id,
            labels={**self._labels, **token},
            auto_stop_interval=self._auto_stop_minutes,
            auto_archive_interval=self._auto_archive_minutes,
        )
        attempts = 0

        async def create_once() -> AsyncSandbox:
            nonlocal attempts
            attempts += 1
            if attempts > 1:
                async for earlier in client.list(ListSandboxesQuery(labels=token)):
                    log.warning(
                        "Daytona sandbox %s was created by an attempt whose "
                        "answer was lost: using it",
                        earlier.id,
                    )
                    return earlier
            return await client.create(params, timeout=self._start_timeout_s)

        try:
            sandbox = await self._retrying("creating a sandbox", create_once)
        except DaytonaTimeoutError as err:
            if err.sandbox_id is None:
                raise
            # Created, still starting (a snapshot being pulled): keep it and wait on.
            log.warning("Daytona sandbox %s is slow to start; waiting on it", err.sandbox_id)
            self._sandbox_id = err.sandbox_id
            self.created = True
            sandbox_id = err.sandbox_id
            return await self._retrying(
                f"looking up sandbox {sandbox_id}", lambda: client.get(sandbox_id)
            )
        self.created = True
        self._sandbox_id = str(sandbox.id)
        return sandbox

    async def _ensure_started(self, sandbox: AsyncSandbox) -> None:
        """Bring the sandbox to `started`, from whatever state Daytona left it in."""
        state, wait = _state(sandbox), self._start_timeout_s
        if state == "started":
            return
        if state in ("destroyed", "destroying"):
            raise DaytonaNotFoundError(f"Daytona sandbox {sandbox.id} is {state}")
        if state in ("error", "build_failed"):
            reason = getattr(sandbox, "error_reason", None) or "no reason given"
            if not getattr(sandbox, "recoverable", False):
                raise SandboxError(
                    f"Daytona sandbox {sandbox.id} failed ({reason}) and cannot be recovered; "
                    "delete it so that the session gets a new one"
                )
            log.warning("Daytona sandbox %s failed (%s): recovering it", sandbox.id, reason)
            await self._retrying("recovering the sandbox", lambda: sandbox.recover(wait))
            return
        if state == "stopping":
            await sandbox.wait_for_sandbox_stop(timeout=self._start_timeout_s)
            state = _state(sandbox)
        if state in ("stopped", "archived", "archiving"):
            log.info("Daytona sandbox %s is %s: starting it", sandbox.id, state)
            await self._retrying("starting the sandbox", lambda: sandbox.start(wait))
            return
        await sandbox.wait_for_sandbox_start(timeout=self._start_timeout_s)

    async def _settle_root(self, sandbox: AsyncSandbox) -> None:
        """Learn the sandbox's working folder, or make the configured one exist (the
        daemon runs nothing in a folder that is missing)."""
        if not self._root_configured:
            folder = await self._retrying("reading the working folder", sandbox.get_work_dir)
            self._root = folder.rstrip("/") or "/"
            return
        root = self.root_dir
        response = await self._retrying(
            "creating the working folder",
            lambda: sandbox.process.exec(f"mkdir -p {shlex.quote(root)}", cwd="/", timeout=60),
        )
        if response.exit_code != 0:
            raise SandboxError(
                f"the working folder {root} cannot be made in Daytona sandbox {sandbox.id} "
                f"({(response.result or '').strip() or f'exit code {response.exit_code}'}); "
                "set DAYTONA_WORK_DIR to a folder the sandbox's user can write, or leave it "
                "unset to use the sandbox's own"
            )

    async def _ready(self) -> AsyncSandbox:
        if self._sandbox is None:
            await self.start()
        assert self._sandbox is not None
        return self._sandbox

    @_on_own_loop
    async def close(self) -> None:
        """Release the SDK client if this backend made it; the sandbox itself stays."""
        if self._endings:
            await asyncio.wait(set(self._endings), timeout=KILL_TIMEOUT_S)
        if self._owns_client and self._client is not None:
            await self._client.close()
            self._client = None

    def close_blocking(self) -> None:
        """`close()` for a synchronous caller, which also ends the backend's own loop."""
        if self._home.loop is not None and self._home.loop.is_running():
            self._home.block(self.close)
        self._home.shut()

    @_on_own_loop
    async def delete_sandbox(self) -> bool:
        """Delete the sandbox; False when Daytona says it is already gone.

        Any other failure (Daytona unreachable, 5xx after retries) raises: a sandbox
        reported deleted must really be gone, since Daytona keeps it otherwise.
        """
        if self._client is None:
            self._client = AsyncDaytona(self._config)
        self._home.claim()
        client, sandbox_id = self._client, self.id
        try:
            found = self._sandbox
            if found is None:
                found = await self._retrying(
                    f"looking up sandbox {sandbox_id}", lambda: client.get(sandbox_id)
                )
            await self._retrying(f"deleting sandbox {sandbox_id}", lambda: found.delete())
        except DaytonaNotFoundError:
            return False
        except DaytonaError as err:
            raise SandboxUnavailable(
                f"deleting Daytona sandbox {sandbox_id!r} failed ({err}); it still exists: "
                "try again"
            ) from err
        return True

    # -- calls, with retries -------------------------------------------------------

    async def _retrying(
        self,
        what: str,
        call: Callable[[], Awaitable[Result]],
        *,
        retry_on: Callable[[BaseException], bool] = is_transient,
    ) -> Result:
        return await retrying(self._retry, what, call, retry_on=retry_on)

    async def _toolbox(
        self,
        what: str,
        call: Callable[[AsyncSandbox], Awaitable[Result]],
        *,
        safe: bool = True,
    ) -> Result:
        """A call into the running sandbox: retried when transient (only a rate limit or
        an unavailable proxy, which never ran it, when not `safe` to repeat), and once
        more after starting the sandbox when Daytona had stopped it."""
        sandbox = await self._ready()
        retry_on = is_transient if safe else never_reached
        try:
            return await self._retrying(what, lambda: call(sandbox), retry_on=retry_on)
        except DaytonaError as err:
            if not is_not_started(err):
                raise
        log.info("Daytona sandbox %s was stopped: starting it again for %s", sandbox.id, what)
        await self._retrying("refreshing the sandbox", sandbox.refresh_data)
        await self._ensure_started(sandbox)
        return await self._retrying(what, lambda: call(sandbox), retry_on=retry_on)

    def _forget_client(self) -> None:
        """The loop that made the SDK client is gone, and the client with it."""
        if not self._owns_client and self._client is not None:
            raise SandboxError(
                "the event loop that made this DaytonaBackend's shared SDK client is gone; "
                "make the backend again on the loop that uses it"
            )
        self._client, self._sandbox = None, None

    # -- commands ------------------------------------------------------------------

    @_on_own_loop
    async def aexecute(
        self,
        command: str,
        *,
        timeout: int | None = None,  # noqa: ASYNC109  # the protocol's name for it
    ) -> ExecutionResult:
        """Run `command` in the sandbox's root; the command's failure lands in the result.

        `timeout` in seconds (None: the backend's default; 0: none). On timeout the
        command is killed with what it started, and the result is 124 with the output
        so far. When the awaiting task is cancelled, the command and everything it
        started are killed in the sandbox before the cancellation goes on.
        """
        if not command.strip():
            return ExecutionResult(exit_code=1, stderr="the command is empty: nothing to run")
        limit = self._timeout if timeout is None else timeout
        started = time.monotonic()
        name = uuid.uuid4().hex[:12]
        try:
            await self._ready()
            root = self.root_dir
            files = CommandFiles(
                pid=f"{root}/{COMMANDS_FOLDER}/{name}.pid",
                stdout=f"{root}/{OUTPUT_FOLDER}/{name}.stdout",
                stderr=f"{root}/{OUTPUT_FOLDER}/{name}.stderr",
                marker=f"AGENT-RUNNER-END-{name}",
            )
            self._running.add(files.pid)
            try:
                return await self._run_in_session(command, f"agent-runner-{name}", files, limit)
            finally:
                self._running.discard(files.pid)
        except (DaytonaError, SandboxError) as err:
            return ExecutionResult(
                exit_code=SANDBOX_ERROR_EXIT_CODE,
                stderr=self._output_filter(f"the Daytona sandbox could not run the command: {err}"),
                duration_s=time.monotonic() - started,
            )

    async def _run_in_session(
        self, command: str, session_id: str, files: CommandFiles, limit: int
    ) -> ExecutionResult:
        started = time.monotonic()
        script = command_script(
            command, root=self.root_dir, env=self._env, files=files, limit=self._max_output_bytes
        )

        async def open_session(sandbox: AsyncSandbox) -> None:
            # A conflict: an earlier try of this call made it, and its answer was lost.
            with contextlib.suppress(DaytonaConflictError):
                await sandbox.process.create_session(session_id)

        await self._toolbox("opening a session", open_session)
        try:
            request = SessionExecuteRequest(command=script, run_async=True)
            response = await self._toolbox(
                "starting the command",
                lambda s: s.process.execute_session_command(session_id, request),
                safe=False,
            )
            try:
                output, timed_out = await self._wait_for(
                    session_id, str(response.cmd_id), files, limit
                )
            except asyncio.CancelledError:
                await self._kill_commands({files.pid})
                raise
        finally:
            # The daemon ends what is left of the session; nobody waits for that.
            ending = asyncio.ensure_future(self._end_session(session_id))
            self._endings.add(ending)
            ending.add_done_callback(self._endings.discard)
        return self._result(output, timed_out, files, limit, time.monotonic() - started)

    async def _wait_for(
        self, session_id: str, command_id: str, files: CommandFiles, limit: int
    ) -> tuple[CommandOutput, bool]:
        """Read the command's log until its script reports the end; past `limit` seconds,
        kill the command and wait for the script's report. What it printed, and whether
        it timed out."""
        deadline = time.monotonic() + limit if limit else None
        given_up_at: float | None = None
        pause = 0.02
        while True:
            logs = await self._toolbox(
                "reading the command's output",
                lambda s: s.process.get_session_command_logs(session_id, command_id),
            )
            output = read_output(logs.stdout or "", logs.stderr or "", files.marker)
            if output.complete:
                return output, given_up_at is not None
            now = time.monotonic()
            if deadline is not None and given_up_at is None and now >= deadline:
                await self._kill_commands({files.pid})
                given_up_at = now
            if given_up_at is not None and now - given_up_at > KILL_TIMEOUT_S:
                return output, True
            wait = pause if deadline is None or given_up_at else min(pause, deadline - now)
            await asyncio.sleep(max(wait, 0.01))
            pause = min(pause * 1.5, POLL_MAX_S)

    def _result(
        self,
        output: CommandOutput,
        timed_out: bool,
        files: CommandFiles,
        limit: int,
        duration_s: float,
    ) -> ExecutionResult:
        """What the command printed (as it printed it), its exit code, and notes: where
        the whole of a long output is kept, that it timed out or never reported."""
        notes = [
            f"[{size - self._max_output_bytes} more bytes of {stream} not shown: "
            f"the whole {stream} is kept in {path}]"
            for stream, size, path in (
                ("stdout", output.stdout_size, files.stdout),
                ("stderr", output.stderr_size, files.stderr),
            )
            if size is not None and size > self._max_output_bytes
        ]
        exit_code = output.exit_code
        if timed_out:
            notes.append(f"[killed after {limit}s: the command timed out]")
            exit_code = TIMEOUT_EXIT_CODE
        elif exit_code is None:
            notes.append("[the command's shell ended before it reported its output]")
            exit_code = FAILED_TO_RUN_EXIT_CODE
        stderr = output.stderr
        for note in notes:
            stderr = (
                f"{stderr}{'' if stderr.endswith(chr(10)) else chr(10)}{note}" if stderr else note
            )
        return ExecutionResult(
            exit_code=exit_code,
            stdout=self._output_filter(output.stdout),
            stderr=self._output_filter(stderr),
            timed_out=timed_out,
            duration_s=duration_s,
        )

    async def _end_session(self, session_id: str) -> None:
        """Delete the command's session (the daemon ends its processes); never raises."""
        sandbox = self._sandbox
        if sandbox is None:
            return
        try:
            async with asyncio.timeout(KILL_TIMEOUT_S):
                await sandbox.process.delete_session(session_id)
        except (DaytonaError, TimeoutError) as err:
            log.warning(
                "could not end session %s in Daytona sandbox %s: %s", session_id, self.id, err
            )

    def execute(self, command: str, *, timeout: int | None = None) -> ExecutionResult:
        return self._home.block(lambda: self.aexecute(command, timeout=timeout))

    # -- files -----------------------------------------------------------------------

    @_on_own_loop
    async def aupload_files(self, files: list[tuple[str, bytes]]) -> list[FileUploadResponse]:
        """Every file in one request; when the daemon refuses some, each file alone, so
        that each reports its own outcome. Relative paths are refused before any request."""
        results: dict[int, FileUploadResponse] = {}
        wanted: list[tuple[int, str, bytes]] = []
        for index, (path, data) in enumerate(files):
            if _invalid_path(path):
                results[index] = FileUploadResponse(path=path, error="invalid_path")
            else:
                wanted.append((index, path, data))
        if wanted:
            try:
                await self._upload([(path, data) for _, path, data in wanted])
                results.update({i: FileUploadResponse(path=path) for i, path, _ in wanted})
            except (DaytonaError, SandboxError) as err:
                if getattr(err, "status_code", None) != 400 or len(wanted) == 1:
                    error = upload_error(err)
                    results.update(
                        {i: FileUploadResponse(path=p, error=error) for i, p, _ in wanted}
                    )
                else:
                    for index, path, data in wanted:
                        results[index] = await self._upload_one(path, data)
        return [results[index] for index in range(len(files))]

    async def _upload(self, files: list[tuple[str, bytes]]) -> None:
        uploads = [FileUpload(source=data, destination=path) for path, data in files]
        await self._toolbox("uploading files", lambda s: s.fs.upload_files(uploads))

    async def _upload_one(self, path: str, data: bytes) -> FileUploadResponse:
        try:
            await self._upload([(path, data)])
        except (DaytonaError, SandboxError) as err:
            return FileUploadResponse(path=path, error=upload_error(err))
        return FileUploadResponse(path=path)

    def upload_files(self, files: list[tuple[str, bytes]]) -> list[FileUploadResponse]:
        return self._home.block(lambda: self.aupload_files(files))

    @_on_own_loop
    async def adownload_files(self, paths: list[str]) -> list[FileDownloadResponse]:
        """Every file in one request; a file that cannot be read reports deepagents' code
        for why. Relative paths are refused before any request."""
        wanted = [p for p in dict.fromkeys(paths) if not _invalid_path(p)]
        found: dict[str, FileDownloadResponse] = {}
        if wanted:
            requests = [FileDownloadRequest(source=p) for p in wanted]
            try:
                results = await self._toolbox(
                    "downloading files", lambda s: s.fs.download_files(requests)
                )
            except (DaytonaError, SandboxError) as err:
                return [
                    FileDownloadResponse(path=p, error=f"download failed: {err}")
                    if p in wanted
                    else FileDownloadResponse(path=p, error="invalid_path")
                    for p in paths
                ]
            for path, result in zip(wanted, results, strict=True):
                if result.error:
                    found[path] = FileDownloadResponse(path=path, error=download_error(result))
                else:
                    content = result.result if isinstance(result.result, bytes) else b""
                    found[path] = FileDownloadResponse(path=path, content=content)
        return [found.get(p) or FileDownloadResponse(path=p, error="invalid_path") for p in paths]

    def download_files(self, paths: list[str]) -> list[FileDownloadResponse]:
        return self._home.block(lambda: self.adownload_files(paths))

    async def make_executable(self, paths: list[str]) -> None:
        quoted = " ".join(shlex.quote(p) for p in paths)
        result = await self.aexecute(f"chmod +x {quoted}")
        if not result.ok:
            raise SandboxError(f"could not make files executable: {result.output.strip()}")

    @_on_own_loop
    async def akill_all(self) -> int:
        """Kill every command of this backend still running in the sandbox, with what it
        started; how many commands that was."""
        running = set(self._running)
        await self._kill_commands(running)
        return len(running)

    def kill_all(self) -> int:
        return self._home.block(self.akill_all)

    async def _kill_commands(self, pid_files: set[str]) -> None:
        """One request that kills the commands whose pids are in `pid_files`, each with
        its descendants; a failure is logged (the sandbox may be gone), never raised."""
        if not pid_files or self._sandbox is None:
            return
        self._running.difference_update(pid_files)
        script = kill_script(sorted(pid_files))
        sandbox = self._sandbox
        try:
            async with asyncio.timeout(KILL_TIMEOUT_S):
                await sandbox.process.exec(script, cwd="/", timeout=None)
        except (DaytonaError, TimeoutError) as err:
            log.warning("could not stop commands in Daytona sandbox %s: %s", self.id, err)


def _invalid_path(path: str) -> bool:
    """Sandbox paths are absolute; a relative one would land wherever the daemon runs."""
    return not path.startswith("/")
