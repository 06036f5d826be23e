"""The web view's server over real HTTP beside a real daemon: who it answers, what it sends."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import make_mocked_request

from agent_runner import wire
from agent_runner.backend import BackendClient
from agent_runner.local.web.guard import CONTENT_SECURITY_POLICY, Guard
from agent_runner.local.web.outputs import OutputError, read_page
from tests.web.conftest import TOKEN, ServedView

pytestmark = pytest.mark.anyio

ax = wire.agentexecution
STATIC = Path(__file__).resolve().parents[2] / "agent_runner" / "local" / "web" / "static"


async def call(
    served: ServedView,
    method: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    json: Any = None,
) -> tuple[int, dict[str, str], str]:
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, served.base + path, headers=headers or {}, json=json) as answer,
    ):
        return answer.status, dict(answer.headers), await answer.text()


def signed(served: ServedView, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}", **extra}


async def csrf_token(served: ServedView) -> str:
    status, _, body = await call(served, "GET", "/api/session", headers=signed(served))
    assert status == 200, body
    return str(json.loads(body)["csrf_token"])


async def action_headers(served: ServedView) -> dict[str, str]:
    return signed(served, Origin=served.base, **{"X-CSRF-Token": await csrf_token(served)})


async def test_every_answer_carries_the_strict_content_security_policy(
    served_view: ServedView,
) -> None:
    for path, headers in (
        ("/", {}),
        ("/static/app.js", {}),
        ("/api/executions", {}),  # refused, and still with the headers
        ("/api/executions", signed(served_view)),
    ):
        _, answer, _ = await call(served_view, "GET", path, headers=headers)
        assert answer["Content-Security-Policy"] == CONTENT_SECURITY_POLICY, path
        assert answer["X-Content-Type-Options"] == "nosniff"
        assert answer["X-Frame-Options"] == "DENY"
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY
    assert "unsafe-eval" not in CONTENT_SECURITY_POLICY


async def test_the_api_without_the_daemon_token_is_refused(served_view: ServedView) -> None:
    for method, path in (("GET", "/api/executions"), ("GET", "/api/session")):
        status, _, body = await call(served_view, method, path)
        assert status == 401 and "Bearer" in body
    wrong = {"Authorization": "Bearer not-the-token"}
    status, _, _ = await call(served_view, "GET", "/api/executions", headers=wrong)
    assert status == 401
    headers = await action_headers(served_view)
    del headers["Authorization"]
    status, _, _ = await call(
        served_view, "POST", "/api/runs", headers=headers, json={"message": "hi"}
    )
    assert status == 401


async def test_a_foreign_host_is_refused_even_with_the_token(served_view: ServedView) -> None:
    """A page whose DNS name was rebound to 127.0.0.1 sends its own name as Host."""
    host = {"Host": f"attacker.example:{served_view.view.port}"}
    for path, headers in (("/", host), ("/api/executions", signed(served_view, **host))):
        status, _, body = await call(served_view, "GET", path, headers=headers)
        assert status == 403 and "Host" in body
    headers = {**await action_headers(served_view), **host}
    status, _, _ = await call(served_view, "POST", "/api/runs", headers=headers, json={})
    assert status == 403


async def test_an_action_from_a_foreign_origin_is_refused(served_view: ServedView) -> None:
    headers = await action_headers(served_view)
    for origin in ("http://attacker.example", f"http://192.168.1.5:{served_view.view.port}"):
        status, _, body = await call(
            served_view, "POST", "/api/runs", headers={**headers, "Origin": origin}, json={}
        )
        assert status == 403 and "not accepted" in body


async def test_an_action_needs_origin_csrf_token_and_same_site(served_view: ServedView) -> None:
    good = await action_headers(served_view)
    without_origin = {k: v for k, v in good.items() if k != "Origin"}
    without_csrf = {k: v for k, v in good.items() if k != "X-CSRF-Token"}
    for headers, expected in (
        (without_origin, "Origin"),
        (without_csrf, "X-CSRF-Token"),
        ({**good, "X-CSRF-Token": "guess"}, "X-CSRF-Token"),
        ({**good, "Sec-Fetch-Site": "cross-site"}, "own page"),
    ):
        status, _, body = await call(served_view, "POST", "/api/runs", headers=headers, json={})
        assert status == 403 and expected in body, (headers, body)
    # With everything right the guard lets it through, and the request itself is judged.
    status, _, body = await call(served_view, "POST", "/api/runs", headers=good, json={})
    assert status == 400 and "message" in body


async def test_a_client_that_is_not_on_this_machine_is_refused() -> None:
    guard = Guard(TOKEN, "csrf")
    guard.port = 8234

    class Transport:
        def __init__(self, peer: str) -> None:
            self.peer = peer

        def get_extra_info(self, name: str, default: object = None) -> object:
            return (self.peer, 50000) if name == "peername" else default

    for peer, refused in (("10.0.0.7", True), ("127.0.0.1", False), ("::1", False)):
        request = make_mocked_request(
            "GET",
            "/api/executions",
            headers={"Host": "127.0.0.1:8234", "Authorization": f"Bearer {TOKEN}"},
            transport=Transport(peer),
        )
        problem = guard.problem(request)
        assert (problem is not None and problem[0] == 403) is refused, (peer, problem)


async def test_the_page_has_no_inline_script_and_its_code_never_writes_html() -> None:
    html = (STATIC / "index.html").read_text()
    assert re.findall(r"<script\b[^>]*>", html) == [
        '<script src="/static/app.js" defer>'
    ]  # one script, from a file: nothing inline for the CSP to allow
    assert not re.search(r"<[^>]*\son[a-z]+\s*=", html), "an inline event handler"
    assert "style=" not in html
    code = (STATIC / "app.js").read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in code, sink
    assert "new Function" not in code


async def new_execution(served: ServedView, **runtime_secrets: str) -> ax.AgentExecution:
    """An execution created through the daemon's gRPC API, as `run` and the page create them."""
    async with BackendClient(served.view.config.backend) as backend:
        spec = ax.AgentExecutionSpec(agent_id="demo", message="<b>hi</b>")
        for name, value in runtime_secrets.items():
            spec.runtime_env[name].value = value
            spec.runtime_env[name].is_secret = True
        return await backend.create_execution(ax.AgentExecution(spec=spec))


async def test_execution_data_and_outputs_follow_the_daemon(served_view: ServedView) -> None:
    """The list and one execution come from the daemon's store; an output the execution
    never mentioned cannot be read through it."""
    execution = await new_execution(served_view)
    status, _, body = await call(served_view, "GET", "/api/executions", headers=signed(served_view))
    assert status == 200 and execution.metadata.id in body and "<b>hi</b>" in body
    path = f"/api/executions/{execution.metadata.id}/outputs/abcdef123456.stdout"
    status, _, body = await call(served_view, "GET", path, headers=signed(served_view))
    assert status == 404 and "kept no output" in body
    status, _, _ = await call(
        served_view, "GET", "/api/executions/aex-nope", headers=signed(served_view)
    )
    assert status == 404


# -- kept outputs, page by page -------------------------------------------------------


def kept(root: Path, name: str, data: bytes) -> Path:
    folder = root / ".agent-runner" / "outputs"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)
    return folder / name


def test_pages_cover_the_whole_output_and_never_cut_a_secret(tmp_path: Path) -> None:
    secret = "s3cr3t-value-4711"
    data = ("é" * 1000 + secret + "line\n" * 2000).encode() * 20
    kept(tmp_path, "abc.stdout", data)
    from agent_runner.redaction import Redactor

    mask = Redactor([secret])
    texts, offset = [], 0
    while True:
        page = read_page(
            tmp_path, "abc.stdout", offset, secrets=[secret], mask=mask, page_bytes=997
        )
        texts.append(page.text)
        assert page.offset == offset
        if page.next_offset >= page.size:
            break
        offset = page.next_offset
    whole = "".join(texts)
    assert secret not in whole and "s3cr3t" not in whole
    assert whole == mask(data.decode())  # every byte once, nothing lost, no broken character


def test_a_page_from_the_middle_of_a_secret_starts_before_it(tmp_path: Path) -> None:
    secret = "TOPSECRET"
    kept(tmp_path, "abc.stdout", b"x" * 100 + secret.encode() + b"y" * 100)
    page = read_page(
        tmp_path, "abc.stdout", 104, secrets=[secret], mask=lambda t: t.replace(secret, "***")
    )
    assert page.offset == 100 and page.text.startswith("***")


def test_a_planted_link_or_a_strange_name_is_not_read(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("private")
    root = tmp_path / "root"
    folder = root / ".agent-runner" / "outputs"
    folder.mkdir(parents=True)
    os.symlink(outside, folder / "link.stdout")
    with pytest.raises(OutputError):
        read_page(root, "link.stdout", 0)
    for name in ("../outside.txt", "x.txt", ".stdout"):
        with pytest.raises(OutputError, match="not the name"):
            read_page(root, name, 0)
    with pytest.raises(OutputError, match="no longer"):
        read_page(root, "gone.stdout", 0)


async def test_secrets_of_the_execution_are_masked_in_its_environment_and_whole_output(
    served_view: ServedView,
) -> None:
    secret = "tok-4711-very-secret"
    execution = await new_execution(served_view, API_TOKEN=secret)
    kept(served_view.workspace, "0123456789ab.stdout", f"start {secret} end\n".encode() * 50_000)
    note = "the whole output is in /.agent-runner/outputs/0123456789ab.stdout]"
    status = ax.AgentExecutionStatus(phase=ax.EXECUTION_IN_PROGRESS)
    status.tool_calls.add(id="c1", name="execute", result=f"[output too long: {note}\nstart")
    async with BackendClient(served_view.view.config.backend) as backend:
        await backend.update_execution_status(execution.metadata.id, status)
    headers = signed(served_view)
    base = f"/api/executions/{execution.metadata.id}"
    status_code, _, body = await call(served_view, "GET", base, headers=headers)
    assert status_code == 200, body
    detail = json.loads(body)
    assert {"name": "API_TOKEN", "value": "***", "secret": True, "source": "this run"} in detail[
        "environment"
    ]
    assert detail["tool_calls"][0]["kept"] == ["0123456789ab.stdout"]
    offset, pages = 0, []
    while True:
        status_code, _, body = await call(
            served_view,
            "GET",
            f"{base}/outputs/0123456789ab.stdout?offset={offset}",
            headers=headers,
        )
        assert status_code == 200, body
        page = json.loads(body)
        pages.append(page["text"])
        if page["next_offset"] >= page["size"]:
            break
        offset = page["next_offset"]
    assert len(pages) > 1 and secret not in body
    assert "".join(pages) == "start *** end\n" * 50_000


async def test_the_sign_in_url_carries_only_the_well_known_local_token(
    served_view: ServedView,
) -> None:
    assert served_view.view.sign_in_url == f"{served_view.base}/"  # TOKEN is not the default
    assert TOKEN not in served_view.view.sign_in_url


def test_the_web_port_setting_is_validated() -> None:
    from agent_runner.config import Config
    from agent_runner.errors import ConfigError

    local = {"MODE": "local"}
    assert Config.load_from_env(local).web_port == 8234
    assert Config.load_from_env({**local, "AGENT_RUNNER_WEB_PORT": "0"}).web_port == 0
    with pytest.raises(ConfigError, match="AGENT_RUNNER_WEB_PORT"):
        Config.load_from_env({**local, "AGENT_RUNNER_WEB_PORT": "http"})


async def test_a_change_the_view_cannot_show_never_fails_the_daemons_call(
    served_view: ServedView, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    execution = await new_execution(served_view)
    served_view.view.feed.summaries()  # the list is being followed

    def broken(*args: object, **kwargs: object) -> dict[str, object]:
        raise ValueError("cannot summarize")

    monkeypatch.setattr(served_view.view.feed, "summary", broken)
    status = ax.AgentExecutionStatus(phase=ax.EXECUTION_IN_PROGRESS)
    async with BackendClient(served_view.view.config.backend) as backend:
        stored = await backend.update_execution_status(execution.metadata.id, status)
    assert stored.status.phase == ax.EXECUTION_IN_PROGRESS
    assert f"could not follow execution {execution.metadata.id}" in caplog.text
