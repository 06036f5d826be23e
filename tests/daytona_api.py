"""A local HTTP server speaking the Daytona API (control plane and toolbox) as the service does.

The Daytona cloud cannot run here, so tests point the real `daytona` SDK
(`DAYTONA_API_URL`) at this server. Responses are built from the SDK's own
models, so a drift in the SDK's expectations fails the tests. Commands really
run and files are really written on this machine: sandbox paths are host paths,
and each sandbox's working folder is a folder under the test's temporary
directory.

It is as unkind as the real service (API v0.190, its daemon and runner) on the
points the runner depends on:

- states: a sandbox is created `creating`, then `started`; it auto-stops after
  `auto_stop_interval` minutes without toolbox requests (running processes do
  not count; stopping kills them) and is archived `auto_archive_interval`
  minutes after it stopped. `minute_s` shortens a minute for tests.
  `POST /sandbox/{id}/start` starts it again (an archived one is `restoring`
  first), `/recover` brings back a recoverable error.
- toolbox calls to a sandbox that is not started answer 400 "... Is the Sandbox
  started?", to an archived or deleted one 404.
- `/process/execute` runs the command with zsh reading it on stdin, in its own
  process group, with stdout and stderr combined; it does not create a missing
  working folder (exit code -1 and Go's message), answers -1 for a command
  killed by a signal, 408 when the timeout passes, 400 for an empty command or
  an environment name the daemon refuses.
- sessions: a zsh per session reads each command from a file it sources, so
  `exit` ends the session's shell and `cd` stays; async commands return at
  once, keep a stdin that never closes, and have stdout and stderr logs kept
  apart (a last line without a newline gets one, as the daemon's line reader
  does).
- uploads and downloads answer with the daemon's shapes and error codes.
- `fail()` and `reset()` inject faults on any route (create, get, delete,
  toolbox): an error status with the service's envelope, or a reset connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp import web
from daytona_api_client_async.models import Sandbox as SandboxDto
from daytona_api_client_async.models import SandboxListItem
from daytona_toolbox_api_client_async.models import (
    Command,
    ExecuteResponse,
    Session,
    SessionCommandLogsResponse,
    SessionExecuteResponse,
)

DAYTONA_TEST_KEY = "dtn-test-key"
ZSH = shutil.which("zsh") or "zsh"
"""The shell the daemon picks first (zsh is in Daytona's images); `make system-deps` installs it."""
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
NOT_STARTED = "failed to resolve container IP: no IP address found. Is the Sandbox started?"


@dataclass
class Fault:
    pattern: re.Pattern[str]
    method: str | None
    status: int | None
    """None: the connection is reset instead of answered."""
    message: str
    remaining: int
    after: bool = False
    """Reset the connection after the request was carried out, instead of before."""


@dataclass
class FakeCommand:
    id: str
    command: str
    folder: Path
    stdin_holder: int | None = None
    """A write end kept open on an async command's stdin pipe, as the daemon keeps one."""

    @property
    def exit_code(self) -> int | None:
        try:
            return int((self.folder / "exit_code").read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def stream(self, name: str) -> str:
        try:
            text = (self.folder / name).read_bytes().decode(errors="replace")
        except FileNotFoundError:
            return ""
        # The daemon reads each stream line by line and writes every line back with "\n".
        if self.exit_code is not None and text and not text.endswith("\n"):
            text += "\n"
        return text


@dataclass
class FakeSession:
    id: str
    shell: asyncio.subprocess.Process
    folder: Path
    commands: dict[str, FakeCommand] = field(default_factory=dict)


@dataclass
class FakeSandbox:
    id: str
    env: dict[str, str]
    snapshot: str | None
    labels: dict[str, str]
    work_dir: Path
    auto_stop_interval: int = 15
    auto_archive_interval: int = 10080
    state: str = "creating"
    pending_gets: int = 1
    """GETs that still show the transitional state before it becomes `started`."""
    last_activity: float = field(default_factory=time.monotonic)
    stopped_at: float = 0.0
    error_reason: str | None = None
    recoverable: bool = False
    process_groups: set[int] = field(default_factory=set)
    sessions: dict[str, FakeSession] = field(default_factory=dict)


@dataclass
class FakeDaytona:
    """State of the fake cloud, inspectable and steerable by tests."""

    api_key: str
    root: Path
    """Each sandbox's working folder is `root/<id>`."""
    minute_s: float = 60.0
    """How long one minute of auto-stop and auto-archive lasts here."""
    create_polls: int = 1
    """GETs a new sandbox stays `creating` for (many: a snapshot that never finishes pulling)."""
    sandboxes: dict[str, FakeSandbox] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    url: str = ""
    shells: list[asyncio.subprocess.Process] = field(default_factory=list)
    """Every session's shell, reaped when the server stops (a stop only kills them)."""

    # -- steering from tests ---------------------------------------------------------

    def fail(
        self,
        route: str,
        status: int = 503,
        message: str = "Service Unavailable",
        *,
        times: int = 1,
        method: str | None = None,
    ) -> None:
        """The next `times` requests whose path matches `route` (a regex) answer `status`."""
        self.faults.append(Fault(re.compile(route), method, status, message, times))

    def reset(
        self, route: str, *, times: int = 1, method: str | None = None, after: bool = False
    ) -> None:
        """The next `times` requests whose path matches `route` lose their connection,
        before they are carried out, or `after` (the client cannot tell which)."""
        self.faults.append(Fault(re.compile(route), method, None, "", times, after))

    def stop(self, sandbox_id: str) -> None:
        """Stop the sandbox as auto-stop does: its processes die with it."""
        sandbox = self.sandboxes[sandbox_id]
        _kill_everything(sandbox)
        sandbox.state = "stopped"
        sandbox.stopped_at = time.monotonic()

    def archive(self, sandbox_id: str) -> None:
        self.stop(sandbox_id)
        self.sandboxes[sandbox_id].state = "archived"

    def break_down(self, sandbox_id: str, reason: str, *, recoverable: bool) -> None:
        self.stop(sandbox_id)
        sandbox = self.sandboxes[sandbox_id]
        sandbox.state, sandbox.error_reason, sandbox.recoverable = "error", reason, recoverable

    def live(self) -> list[FakeSandbox]:
        return [s for s in self.sandboxes.values() if s.state != "destroyed"]

    # -- what the service does -----------------------------------------------------------

    def age(self, sandbox: FakeSandbox) -> None:
        """Apply auto-stop and auto-archive for the time that passed."""
        now = time.monotonic()
        idle = now - sandbox.last_activity
        if (
            sandbox.state == "started"
            and sandbox.auto_stop_interval > 0
            and idle > sandbox.auto_stop_interval * self.minute_s
        ):
            self.stop(sandbox.id)
        if (
            sandbox.state == "stopped"
            and now - sandbox.stopped_at > sandbox.auto_archive_interval * self.minute_s
        ):
            sandbox.state = "archived"

    def dto(self, sandbox: FakeSandbox, model: type[Any] = SandboxDto) -> dict[str, Any]:
        now = datetime.now(UTC).isoformat()
        result: dict[str, Any] = model(
            id=sandbox.id,
            organization_id="org-test",
            name=sandbox.id,
            snapshot=sandbox.snapshot,
            user="daytona",
            env=sandbox.env,
            labels=sandbox.labels,
            public=False,
            network_block_all=False,
            kvm=False,
            target="us",
            cpu=1,
            gpu=0,
            memory=1,
            disk=3,
            state=sandbox.state,
            error_reason=sandbox.error_reason,
            recoverable=sandbox.recoverable,
            auto_stop_interval=sandbox.auto_stop_interval,
            auto_archive_interval=sandbox.auto_archive_interval,
            toolbox_proxy_url=f"{self.url}/toolbox",
            created_at=now,
            updated_at=now,
        ).to_dict()
        return result


def _api_error(status: int, message: str) -> web.Response:
    """The API's (NestJS) error envelope."""
    reason = web.Response(status=status).reason
    return web.json_response(
        {"statusCode": status, "message": message, "error": reason}, status=status
    )


def _toolbox_error(request: web.Request, status: int, message: str, code: str) -> web.Response:
    """The daemon's and runner's error envelope."""
    body = {
        "statusCode": status,
        "message": message,
        "code": code,
        "timestamp": datetime.now(UTC).isoformat(),
        "path": request.path,
        "method": request.method,
    }
    return web.json_response(body, status=status)


def _kill_group(group: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, signal.SIGKILL)


def _kill_everything(sandbox: FakeSandbox) -> None:
    for group in list(sandbox.process_groups):
        _kill_group(group)
    sandbox.process_groups.clear()
    for session in list(sandbox.sessions.values()):
        _end_session(session)
    sandbox.sessions.clear()


def _end_session(session: FakeSession) -> None:
    _kill_group(session.shell.pid)
    for command in session.commands.values():
        if command.stdin_holder is not None:
            os.close(command.stdin_holder)
            command.stdin_holder = None
    shutil.rmtree(session.folder, ignore_errors=True)


def build_app(cloud: FakeDaytona) -> web.Application:
    @web.middleware
    async def gate(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path.startswith("/socket.io"):  # the SDK's event stream: not offered here
            return _api_error(404, "events are not served here; the SDK polls instead")
        cloud.requests.append((request.method, request.path))
        if request.headers.get("Authorization") != f"Bearer {cloud.api_key}":
            return _api_error(401, "Unauthorized: invalid API key")
        for fault in cloud.faults:
            if fault.remaining > 0 and fault.pattern.search(request.path):
                if fault.method is not None and fault.method != request.method:
                    continue
                fault.remaining -= 1
                if fault.status is None:
                    if fault.after:
                        await handler(request)
                    assert request.transport is not None
                    request.transport.abort()
                    return web.Response(status=500)  # never sent: the connection is gone
                if request.path.startswith("/toolbox/"):
                    code = re.sub(r"\W+", "_", web.Response(status=fault.status).reason).upper()
                    return _toolbox_error(request, fault.status, fault.message, code)
                return _api_error(fault.status, fault.message)
        try:
            response: web.StreamResponse = await handler(request)
        except _Answer as answer:
            return answer.response
        return response

    def sandbox_of(request: web.Request) -> FakeSandbox:
        sandbox = cloud.sandboxes.get(request.match_info["id"])
        if sandbox is None or sandbox.state == "destroyed":
            raise web.HTTPNotFound(
                text=json.dumps(
                    {
                        "statusCode": 404,
                        "message": f"Sandbox with ID or name {request.match_info['id']} not found",
                        "error": "Not Found",
                    }
                ),
                content_type="application/json",
            )
        cloud.age(sandbox)
        return sandbox

    def running(request: web.Request) -> FakeSandbox:
        """The sandbox a toolbox call reaches, as the runner's proxy finds it."""
        sandbox = cloud.sandboxes.get(request.match_info["id"])
        if sandbox is not None:
            cloud.age(sandbox)
        if sandbox is None or sandbox.state in ("destroyed", "archived"):
            raise _raise(
                _toolbox_error(
                    request,
                    404,
                    "not found: sandbox container not found: No such container",
                    "NOT_FOUND",
                )
            )
        if sandbox.state != "started":
            raise _raise(_toolbox_error(request, 400, NOT_STARTED, "BAD_REQUEST"))
        sandbox.last_activity = time.monotonic()
        return sandbox

    # -- the control plane ---------------------------------------------------------------

    async def create(request: web.Request) -> web.Response:
        body = await request.json()
        sandbox_id = f"sbx-{uuid.uuid4().hex[:10]}"
        work_dir = cloud.root / sandbox_id
        work_dir.mkdir(parents=True)
        sandbox = FakeSandbox(
            id=sandbox_id,
            env=dict(body.get("env") or {}),
            snapshot=body.get("snapshot"),
            labels=dict(body.get("labels") or {}),
            work_dir=work_dir,
            pending_gets=cloud.create_polls,
        )
        if body.get("autoStopInterval") is not None:
            sandbox.auto_stop_interval = int(body["autoStopInterval"])
        if body.get("autoArchiveInterval") is not None:
            sandbox.auto_archive_interval = int(body["autoArchiveInterval"])
        cloud.sandboxes[sandbox_id] = sandbox
        return web.json_response(cloud.dto(sandbox))

    async def get(request: web.Request) -> web.Response:
        sandbox = sandbox_of(request)
        if sandbox.state in ("creating", "restoring", "starting"):
            sandbox.pending_gets -= 1
            if sandbox.pending_gets < 0:
                sandbox.state = "started"
                sandbox.last_activity = time.monotonic()
        return web.json_response(cloud.dto(sandbox))

    async def list_sandboxes(request: web.Request) -> web.Response:
        wanted = json.loads(request.query.get("labels") or "{}")
        items = []
        for sandbox in cloud.live():
            cloud.age(sandbox)
            if all(sandbox.labels.get(k) == v for k, v in wanted.items()):
                items.append(cloud.dto(sandbox, SandboxListItem))
        return web.json_response({"items": items, "nextCursor": None})

    async def start(request: web.Request) -> web.Response:
        sandbox = sandbox_of(request)
        if sandbox.state in ("stopped", "archived", "archiving"):
            restoring = sandbox.state != "stopped"
            sandbox.state = "restoring" if restoring else "started"
            sandbox.pending_gets = 1
            sandbox.last_activity = time.monotonic()
        elif sandbox.state == "error":
            return _api_error(400, "Sandbox is in an errored state")
        elif sandbox.state != "started":
            return _api_error(409, "Sandbox state change in progress")
        return web.json_response(cloud.dto(sandbox))

    async def recover(request: web.Request) -> web.Response:
        sandbox = sandbox_of(request)
        if sandbox.state != "error" or not sandbox.recoverable:
            return _api_error(400, "Sandbox is not in a recoverable error state")
        sandbox.state, sandbox.error_reason, sandbox.recoverable = "started", None, False
        sandbox.last_activity = time.monotonic()
        return web.json_response(cloud.dto(sandbox))

    async def proxy_url(request: web.Request) -> web.Response:
        sandbox_of(request)
        return web.json_response({"url": f"{cloud.url}/toolbox"})

    async def delete(request: web.Request) -> web.Response:
        sandbox = sandbox_of(request)
        _kill_everything(sandbox)
        sandbox.state = "destroyed"
        return web.json_response(cloud.dto(sandbox))

    # -- the toolbox: commands ------------------------------------------------------------

    async def work_dir(request: web.Request) -> web.Response:
        return web.json_response({"dir": str(running(request).work_dir)})

    async def execute(request: web.Request) -> web.Response:
        sandbox = running(request)
        body = await request.json()
        command = body.get("command") or ""
        if not command.strip():
            return _toolbox_error(
                request, 400, "command cannot be empty or whitespace-only", "BAD_REQUEST"
            )
        envs = body.get("envs") or {}
        for name in envs:
            if not ENV_NAME.match(name):
                return _toolbox_error(
                    request, 400, f"invalid environment variable name: '{name}'", "BAD_REQUEST"
                )
        cwd = body.get("cwd") or str(sandbox.work_dir)
        if not Path(cwd).is_dir():
            # Go's exec fails to start the shell, and the daemon says so with -1.
            response = ExecuteResponse(
                exit_code=-1, result=f"chdir {cwd}: no such file or directory"
            )
            return web.json_response(response.to_dict())
        process = await asyncio.create_subprocess_exec(
            ZSH,
            cwd=cwd,
            env={**os.environ, **sandbox.env, **envs},
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        sandbox.process_groups.add(process.pid)
        try:
            timeout = body.get("timeout") or None
            output, _ = await asyncio.wait_for(process.communicate(command.encode()), timeout)
        except TimeoutError:
            _kill_group(process.pid)
            await process.wait()
            return _toolbox_error(request, 408, "command execution timeout", "REQUEST_TIMEOUT")
        finally:
            sandbox.process_groups.discard(process.pid)
        exit_code = process.returncode if (process.returncode or 0) >= 0 else -1
        response = ExecuteResponse(exit_code=exit_code, result=output.decode(errors="replace"))
        return web.json_response(response.to_dict())

    # -- the toolbox: sessions ---------------------------------------------------------------

    def session_of(request: web.Request, sandbox: FakeSandbox) -> FakeSession:
        session = sandbox.sessions.get(request.match_info["session"])
        if session is None:
            raise _raise(_toolbox_error(request, 404, "not found: session not found", "NOT_FOUND"))
        return session

    async def create_session(request: web.Request) -> web.Response:
        sandbox = running(request)
        session_id = (await request.json())["sessionId"]
        if session_id in sandbox.sessions:
            return _toolbox_error(request, 409, "conflict: session already exists", "CONFLICT")
        folder = cloud.root / ".daemon" / sandbox.id / "sessions" / session_id
        folder.mkdir(parents=True)
        shell = await asyncio.create_subprocess_exec(
            ZSH,
            cwd=sandbox.work_dir,
            env={**os.environ, **sandbox.env},
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            start_new_session=True,
        )
        cloud.shells.append(shell)
        sandbox.sessions[session_id] = FakeSession(id=session_id, shell=shell, folder=folder)
        return web.Response(status=201)

    async def session_exec(request: web.Request) -> web.Response:
        sandbox = running(request)
        session = session_of(request, sandbox)
        body = await request.json()
        command_text = body.get("command") or ""
        if not command_text.strip():
            return _toolbox_error(request, 400, "command cannot be empty", "BAD_REQUEST")
        run_async = bool(body.get("runAsync") or body.get("async"))
        command = FakeCommand(
            id=str(uuid.uuid4()), command=command_text, folder=session.folder / str(uuid.uuid4())
        )
        command.folder.mkdir()
        script = command.folder / "cmd.sh"
        script.write_text(command_text)
        script.chmod(0o600)
        stdin = command.folder / "input.pipe"
        os.mkfifo(stdin)
        if run_async:  # a stdin that stays open and never says anything
            command.stdin_holder = os.open(stdin, os.O_RDWR | os.O_NONBLOCK)
        else:
            stdin = Path(os.devnull)
        q = {name: shlex.quote(str(command.folder / name)) for name in ("stdout", "stderr")}
        done, tmp = (shlex.quote(str(command.folder / n)) for n in ("exit_code", "exit_code.tmp"))
        line = (
            f"{{ . {shlex.quote(str(script))}; }} < {shlex.quote(str(stdin))} "
            f"> {q['stdout']} 2> {q['stderr']}; echo $? > {tmp}; mv -f {tmp} {done}\n"
        )
        session.commands[command.id] = command
        assert session.shell.stdin is not None
        session.shell.stdin.write(line.encode())
        await session.shell.stdin.drain()
        if run_async:
            accepted = SessionExecuteResponse(cmd_id=command.id)
            return web.json_response(accepted.to_dict(), status=202)
        # The daemon, too, polls for the exit-code file.
        while command.exit_code is None and session.shell.returncode is None:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        stdout, stderr = command.stream("stdout"), command.stream("stderr")
        finished = SessionExecuteResponse(
            cmd_id=command.id,
            exit_code=command.exit_code,
            output=stdout + stderr,
            stdout=stdout,
            stderr=stderr,
        )
        return web.json_response(finished.to_dict())

    async def get_session(request: web.Request) -> web.Response:
        session = session_of(request, running(request))
        commands = [
            Command(id=c.id, command=c.command, exit_code=c.exit_code)
            for c in session.commands.values()
        ]
        return web.json_response(Session(session_id=session.id, commands=commands).to_dict())

    def command_of(request: web.Request) -> FakeCommand:
        session = session_of(request, running(request))
        command = session.commands.get(request.match_info["command"])
        if command is None:
            raise _raise(_toolbox_error(request, 404, "not found: command not found", "NOT_FOUND"))
        if command.exit_code is not None and command.stdin_holder is not None:
            os.close(command.stdin_holder)
            command.stdin_holder = None
        return command

    async def get_command(request: web.Request) -> web.Response:
        c = command_of(request)
        return web.json_response(
            Command(id=c.id, command=c.command, exit_code=c.exit_code).to_dict()
        )

    async def command_logs(request: web.Request) -> web.Response:
        command = command_of(request)
        stdout, stderr = command.stream("stdout"), command.stream("stderr")
        logs = SessionCommandLogsResponse(output=stdout + stderr, stdout=stdout, stderr=stderr)
        return web.json_response(logs.to_dict())

    async def delete_session(request: web.Request) -> web.Response:
        sandbox = running(request)
        session = session_of(request, sandbox)
        _end_session(session)
        del sandbox.sessions[session.id]
        await session.shell.wait()
        return web.Response(status=204)

    # -- the toolbox: files -------------------------------------------------------------------

    def host_path(sandbox: FakeSandbox, path: str) -> Path:
        # Relative paths are the daemon's own: relative to its working folder.
        return Path(path) if path.startswith("/") else sandbox.work_dir / path

    async def bulk_upload(request: web.Request) -> web.Response:
        sandbox = running(request)
        reader = await request.multipart()
        destinations: dict[str, str] = {}
        errors: list[str] = []
        files: list[dict[str, Any]] = []
        while (part := await reader.next()) is not None:
            name = part.name or ""
            index = name.removeprefix("files[").split("]")[0]
            if name.endswith(".path"):
                destinations[index] = (await part.text()).strip()  # type: ignore[union-attr]
                continue
            if not name.endswith(".file"):
                continue
            data = await part.read()  # type: ignore[union-attr]
            destination = destinations.get(index)
            if destination is None:
                errors.append(f"file[{index}]: missing .path metadata")
                continue
            target = host_path(sandbox, destination)
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
            except FileExistsError:  # Go's MkdirAll over a file
                errors.append(f"{destination}: mkdir {target.parent}: not a directory")
                continue
            except OSError as err:
                errors.append(f"{destination}: mkdir {target.parent}: {_go_error(err)}")
                continue
            try:
                target.write_bytes(data)
            except OSError as err:
                errors.append(f"{destination}: create: open {destination}: {_go_error(err)}")
                continue
            files.append({"path": destination, "bytes": len(data)})
        if errors:
            return web.json_response({"errors": errors, "files": files}, status=400)
        return web.json_response({"files": files})

    async def bulk_download(request: web.Request) -> web.StreamResponse:
        sandbox = running(request)
        body = await request.json()
        paths = body.get("paths") or []
        if not paths:
            return web.json_response(
                {"error": 'request body must be {"paths": [ ... ]} and non-empty'}, status=400
            )
        boundary = "DAYTONA-FILE-BOUNDARY"
        chunks: list[bytes] = []
        for path in paths:
            disposition = f"filename=\"{path}\"; filename*=utf-8''{quote(path, safe='')}"
            failure = _download_failure(host_path(sandbox, path), path) if path else None
            if path == "":
                failure = (400, "INVALID_FILE_PATH", "invalid file path: path is empty")
            if failure is None:
                data = host_path(sandbox, path).read_bytes()
                head = (
                    f'Content-Disposition: form-data; name="file"; {disposition}\r\n'
                    f"Content-Type: application/octet-stream\r\nContent-Length: {len(data)}\r\n"
                )
            else:
                status, code, message = failure
                payload = {
                    "statusCode": status,
                    "message": message,
                    "code": code,
                    "timestamp": datetime.now(UTC).isoformat(),
                    "path": path,
                    "method": "POST",
                }
                data = json.dumps(payload).encode()
                head = (
                    f'Content-Disposition: form-data; name="error"; {disposition}\r\n'
                    "Content-Type: application/json; charset=utf-8\r\n"
                )
            chunks.append(f"--{boundary}\r\n{head}\r\n".encode() + data + b"\r\n")
        chunks.append(f"--{boundary}--\r\n".encode())
        return web.Response(
            body=b"".join(chunks),
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )

    async def set_permissions(request: web.Request) -> web.Response:
        sandbox = running(request)
        target = host_path(sandbox, request.query["path"])
        if "mode" in request.query:
            target.chmod(int(request.query["mode"], 8))
        return web.json_response({})

    app = web.Application(middlewares=[gate], client_max_size=1024**3)
    app.router.add_post("/sandbox", create)
    app.router.add_get("/sandbox", list_sandboxes)
    app.router.add_get("/sandbox/{id}", get)
    app.router.add_post("/sandbox/{id}/start", start)
    app.router.add_post("/sandbox/{id}/recover", recover)
    app.router.add_get("/sandbox/{id}/toolbox-proxy-url", proxy_url)
    app.router.add_delete("/sandbox/{id}", delete)
    toolbox = "/toolbox/{id}"
    app.router.add_get(f"{toolbox}/work-dir", work_dir)
    app.router.add_get(f"{toolbox}/user-home-dir", work_dir)
    app.router.add_post(f"{toolbox}/process/execute", execute)
    app.router.add_post(f"{toolbox}/process/session", create_session)
    app.router.add_post(f"{toolbox}/process/session/{{session}}/exec", session_exec)
    app.router.add_get(f"{toolbox}/process/session/{{session}}", get_session)
    app.router.add_delete(f"{toolbox}/process/session/{{session}}", delete_session)
    app.router.add_get(f"{toolbox}/process/session/{{session}}/command/{{command}}", get_command)
    app.router.add_get(
        f"{toolbox}/process/session/{{session}}/command/{{command}}/logs", command_logs
    )
    app.router.add_post(f"{toolbox}/files/bulk-upload", bulk_upload)
    app.router.add_post(f"{toolbox}/files/bulk-download", bulk_download)
    app.router.add_post(f"{toolbox}/files/permissions", set_permissions)
    return app


class _Answer(Exception):
    """Raised by a helper to answer the request with `response` at once."""

    def __init__(self, response: web.Response) -> None:
        super().__init__(response.status)
        self.response = response


def _raise(response: web.Response) -> _Answer:
    return _Answer(response)


def _go_error(err: OSError) -> str:
    """An OS error worded as Go's `os` package words it."""
    return (err.strerror or str(err)).lower()


def _download_failure(target: Path, path: str) -> tuple[int, str, str] | None:
    """The daemon's per-file error for a download, or None when the file can be read."""
    try:
        with target.open("rb"):
            pass
    except FileNotFoundError:
        return 404, "FILE_NOT_FOUND", f"file not found: {path}"
    except PermissionError:
        return 403, "FILE_ACCESS_DENIED", f"permission denied: {path}"
    except IsADirectoryError:
        pass
    except OSError as err:
        return 500, "FILE_READ_FAILED", f"failed to open file: {_go_error(err)}"
    if target.is_dir():
        return 400, "INVALID_FILE_PATH", f"invalid file path: path points to a directory: {path}"
    return None


async def start_fake_daytona(
    api_key: str, root: Path, *, minute_s: float = 60.0
) -> tuple[FakeDaytona, web.AppRunner]:
    cloud = FakeDaytona(api_key=api_key, root=root, minute_s=minute_s)
    root.mkdir(parents=True, exist_ok=True)
    runner = web.AppRunner(build_app(cloud))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    cloud.url = f"http://127.0.0.1:{port}"
    return cloud, runner


async def stop_fake_daytona(cloud: FakeDaytona, runner: web.AppRunner) -> None:
    for sandbox in cloud.sandboxes.values():
        _kill_everything(sandbox)
    for shell in cloud.shells:
        await shell.wait()
    await runner.cleanup()
