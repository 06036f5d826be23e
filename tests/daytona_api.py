"""A local HTTP server that speaks the part of the Daytona API the official SDK calls here.

The Daytona cloud cannot run here, so tests point the real `daytona` SDK
(`DAYTONA_API_URL`) at this server. Responses are built from the SDK's own
models (`daytona_api_client_async.models.Sandbox`, the toolbox's
`ExecuteResponse`), so a drift in the SDK's expectations fails the tests.
Commands really run (`sh -c`) and files are really written, on this machine's
own filesystem: sandbox paths are host paths (tests give each sandbox a work
folder under a temporary directory), which keeps uploads, commands and reads
consistent without a container.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web
from daytona_api_client_async.models import Sandbox as SandboxDto
from daytona_toolbox_api_client_async.models import ExecuteResponse


@dataclass
class FakeSandbox:
    id: str
    env: dict[str, str]
    snapshot: str | None
    labels: dict[str, str]
    state: str = "started"


@dataclass
class FakeDaytona:
    """State of the fake cloud, inspectable by tests."""

    api_key: str
    sandboxes: dict[str, FakeSandbox] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    fail_next: dict[str, tuple[int, str]] = field(default_factory=dict)
    """Path suffix -> (status, message): the next matching request fails like the API does."""
    url: str = ""

    def dto(self, sandbox: FakeSandbox) -> dict[str, Any]:
        now = datetime.now(UTC).isoformat()
        model = SandboxDto(
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
            toolbox_proxy_url=f"{self.url}/toolbox",
            created_at=now,
            updated_at=now,
        )
        return model.to_dict()


def _error(status: int, message: str) -> web.Response:
    return web.json_response(
        {"statusCode": status, "message": message, "error": web.Response(status=status).reason},
        status=status,
    )


def build_app(cloud: FakeDaytona) -> web.Application:
    @web.middleware
    async def record(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path.startswith("/socket.io"):  # the SDK's event stream: not offered here
            return _error(404, "events are not served by this fake; the SDK polls instead")
        cloud.requests.append((request.method, request.path))
        if request.headers.get("Authorization") != f"Bearer {cloud.api_key}":
            return _error(401, "Unauthorized: invalid API key")
        for suffix, (status, message) in list(cloud.fail_next.items()):
            if request.path.endswith(suffix):
                del cloud.fail_next[suffix]
                return _error(status, message)
        response: web.StreamResponse = await handler(request)
        return response

    def sandbox_of(request: web.Request) -> FakeSandbox:
        sandbox = cloud.sandboxes.get(request.match_info["id"])
        if sandbox is None or sandbox.state == "destroyed":
            raise web.HTTPNotFound(
                text='{"statusCode": 404, "message": "Sandbox not found", "error": "Not Found"}',
                content_type="application/json",
            )
        return sandbox

    async def create(request: web.Request) -> web.Response:
        body = await request.json()
        sandbox_id = f"sbx-{uuid.uuid4().hex[:10]}"
        sandbox = FakeSandbox(
            id=sandbox_id,
            env=dict(body.get("env") or {}),
            snapshot=body.get("snapshot"),
            labels=dict(body.get("labels") or {}),
        )
        cloud.sandboxes[sandbox_id] = sandbox
        return web.json_response(cloud.dto(sandbox))

    async def get(request: web.Request) -> web.Response:
        return web.json_response(cloud.dto(sandbox_of(request)))

    async def proxy_url(request: web.Request) -> web.Response:
        sandbox_of(request)
        return web.json_response({"url": f"{cloud.url}/toolbox"})

    async def delete(request: web.Request) -> web.Response:
        sandbox = sandbox_of(request)
        sandbox.state = "destroyed"
        return web.json_response(cloud.dto(sandbox))

    def in_sandbox(sandbox: FakeSandbox, path: str) -> Path:
        if not path.startswith("/"):
            raise web.HTTPBadRequest(text=f"path {path!r} is not absolute")
        return Path(path)

    async def execute(request: web.Request) -> web.Response:
        sandbox = sandbox_of(request)
        body = await request.json()
        cwd = in_sandbox(sandbox, body.get("cwd") or "/")
        cwd.mkdir(parents=True, exist_ok=True)  # a real sandbox has its home folder
        process = await asyncio.create_subprocess_exec(
            "sh",
            "-c",
            body["command"],
            cwd=cwd,
            env={**os.environ, **sandbox.env, **(body.get("envs") or {})},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            output, _ = await asyncio.wait_for(process.communicate(), body.get("timeout") or None)
            exit_code = process.returncode
        except TimeoutError:
            os.killpg(process.pid, 9)
            output, _ = await process.communicate()
            exit_code = -1
        response = ExecuteResponse(exit_code=exit_code, result=output.decode(errors="replace"))
        return web.json_response(response.to_dict())

    async def bulk_upload(request: web.Request) -> web.Response:
        sandbox = sandbox_of(request)
        reader = await request.multipart()
        paths: dict[str, str] = {}
        while (part := await reader.next()) is not None:
            name = part.name or ""
            if name.endswith(".path"):
                paths[name[: -len(".path")]] = await part.text()  # type: ignore[union-attr]
            elif name.endswith(".file"):
                destination = paths.get(name[: -len(".file")]) or part.filename or ""
                target = in_sandbox(sandbox, destination)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(await part.read())  # type: ignore[union-attr]
        return web.json_response({})

    async def bulk_download(request: web.Request) -> web.StreamResponse:
        sandbox = sandbox_of(request)
        body = await request.json()
        boundary = uuid.uuid4().hex
        chunks: list[bytes] = []
        for path in body["paths"]:
            target = in_sandbox(sandbox, path)
            name, content_type, data = (
                ("file", "application/octet-stream", target.read_bytes())
                if target.is_file()
                else ("error", "text/plain", f"file not found: {path}".encode())
            )
            chunks.append(
                f"--{boundary}\r\n"
                f'Content-Disposition: form-data; name="{name}"; filename="{path}"\r\n'
                f"Content-Type: {content_type}\r\n\r\n".encode()
                + data
                + b"\r\n"
            )
        chunks.append(f"--{boundary}--\r\n".encode())
        return web.Response(
            body=b"".join(chunks),
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )

    async def set_permissions(request: web.Request) -> web.Response:
        sandbox = sandbox_of(request)
        target = in_sandbox(sandbox, request.query["path"])
        if "mode" in request.query:
            target.chmod(int(request.query["mode"], 8))
        return web.json_response({})

    app = web.Application(middlewares=[record])
    app.router.add_post("/sandbox", create)
    app.router.add_get("/sandbox/{id}", get)
    app.router.add_get("/sandbox/{id}/toolbox-proxy-url", proxy_url)
    app.router.add_delete("/sandbox/{id}", delete)
    app.router.add_post("/toolbox/{id}/process/execute", execute)
    app.router.add_post("/toolbox/{id}/files/bulk-upload", bulk_upload)
    app.router.add_post("/toolbox/{id}/files/bulk-download", bulk_download)
    app.router.add_post("/toolbox/{id}/files/permissions", set_permissions)
    return app


async def start_fake_daytona(api_key: str) -> tuple[FakeDaytona, web.AppRunner]:
    cloud = FakeDaytona(api_key=api_key)
    runner = web.AppRunner(build_app(cloud))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    cloud.url = f"http://127.0.0.1:{port}"
    return cloud, runner


DAYTONA_TEST_KEY = "dtn-test-key"
