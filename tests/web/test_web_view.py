"""The web view in a real browser (Debian's Chromium) over `agent-runner up`, as a developer
uses it: start a run, watch it live, open a whole output, cancel, continue a session."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent_runner import wire
from agent_runner.local.store import Store
from agent_runner.local.temporal_server import free_port, port_is_taken
from tests.helpers import process_gone, wait_until
from tests.web.conftest import Up, save_screenshot, start_up, stop_up, up_env, web_url

pytestmark = pytest.mark.timeout(300)

ax = wire.agentexecution
LIVE_S = 150_000
"""Milliseconds the page may take to show what a run does (a loaded machine is slow)."""


@pytest.fixture
def page(up: Up, browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1500, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(up.url)
    page.wait_for_selector("#app:not([hidden])")
    yield page
    context.close()
    assert errors == [], f"the page raised: {errors}"


def start_from_page(
    page: Any, message: str, *, agent: str = "demo", model: str = "", session: str = ""
) -> str:
    page.click("#new-run-button")
    page.select_option("#run-agent", agent)
    page.fill("#run-message", message)
    page.fill("#run-session", session)
    page.fill("#run-model", model)
    page.click("#new-run button[type=submit]")
    page.wait_for_function("() => location.hash.startsWith('#/executions/')")
    return str(page.evaluate("decodeURIComponent(location.hash.split('/')[2])"))


def wait_for_phase(page: Any, phase: str) -> None:
    page.wait_for_function(
        f"() => document.querySelector('#x-phase').textContent === {phase!r}", timeout=LIVE_S
    )


def stored(up: Up, execution_id: str) -> ax.AgentExecution:
    store = Store(up.home / "data" / "daemon.sqlite3")
    try:
        execution = store.get_execution(execution_id)
    finally:
        store.close()
    assert execution is not None
    return execution


def test_a_tool_calls_whole_output_opens_page_by_page(up: Up, page: Any) -> None:
    lines = 300_000  # about 2 MB: past the sandbox's 1 MiB, so it keeps the whole output
    model = up.script(
        "long-output",
        [
            {"tool_calls": [{"name": "execute", "args": {"command": f"seq 1 {lines}"}}]},
            {"text": "Printed."},
        ],
    )
    start_from_page(page, "Count, please.", model=model)
    wait_for_phase(page, "completed")
    call = page.locator("details.call").first
    call.locator(":scope > summary").click()
    call.locator("button.whole-output").first.click()
    text = page.locator("#output-text")
    page.wait_for_function("() => document.querySelector('#output-text').textContent.length > 0")
    assert text.text_content().startswith("1\n2\n3\n")
    size = sum(len(f"{n}\n") for n in range(1, lines + 1))
    assert page.locator("#output-position").text_content().endswith(f"of {size:,}")
    page.click("#output-next")
    page.wait_for_function(
        "() => !document.querySelector('#output-position').textContent.startsWith('bytes 0')"
    )
    page.click("#output-last")
    page.wait_for_function(
        f"() => document.querySelector('#output-text').textContent.trimEnd().endsWith('\\n{lines}')"
    )
    assert page.locator("#output-next").is_disabled()
    page.fill("#output-seek", str(size // 2))  # the slider jumps anywhere
    page.wait_for_function(
        """(size) => {
            const first = document.querySelector('#output-position').textContent
                .replace(/,/g, '').match(/bytes (\\d+)/);
            return first && Number(first[1]) > size / 3 && Number(first[1]) < 2 * size / 3;
        }""",
        arg=size,
    )
    save_screenshot(page, "whole-output")
    page.click("#output-close")


def test_cancel_in_the_page_ends_the_run_cancelled_and_its_command_dies(up: Up, page: Any) -> None:
    command = "echo $$ > shell.pid; sleep 600 & echo $! > sleep.pid; wait"
    model = up.script(
        "sleeper", [{"tool_calls": [{"name": "execute", "args": {"command": command}}]}]
    )
    execution_id = start_from_page(page, "Wait a long time.", model=model)
    workspace = up.home / "workspace"
    wait_until(
        lambda: (
            (workspace / "sleep.pid").exists()
            and bool((workspace / "sleep.pid").read_text().strip())
        ),
        timeout=150,
        what="the command to start",
    )
    pids = [int((workspace / name).read_text()) for name in ("shell.pid", "sleep.pid")]
    assert not any(process_gone(pid) for pid in pids)
    page.wait_for_selector("#x-cancel:not([hidden])")
    page.click("#x-cancel")
    wait_for_phase(page, "cancelled")
    wait_until(lambda: all(process_gone(pid) for pid in pids), timeout=60, what="no process left")
    assert page.locator("#x-cancel").is_hidden()
    assert stored(up, execution_id).status.phase == ax.EXECUTION_CANCELLED
    (workspace / "sleep.pid").unlink()


def test_html_from_the_model_is_shown_as_text_and_never_runs(up: Up, page: Any) -> None:
    hostile = (
        '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
        '<b id="injected">bold</b>'
    )
    model = up.script(
        "hostile",
        [
            {
                "text": hostile,
                "tool_calls": [
                    {
                        "name": "execute",
                        "args": {"command": "echo '<img src=y onerror=\"window.__pwned=3\">'"},
                    }
                ],
            },
            {"text": "done"},
        ],
    )
    start_from_page(page, "<i id='mine'>hello</i>", model=model)
    wait_for_phase(page, "completed")
    texts = page.locator("#x-messages .message .text").all_text_contents()
    assert hostile in texts and "<i id='mine'>hello</i>" in texts
    page.locator("details.call > summary").first.click()
    output = page.locator("pre.result").first.text_content()
    assert '<img src=y onerror="window.__pwned=3">' in output
    conversation = page.locator("#x-messages")
    for tag in ("script", "img", "b", "i"):
        assert conversation.locator(tag).count() == 0, f"a <{tag}> element was made"
    assert page.evaluate("window.__pwned") is None
    assert page.evaluate("document.scripts.length") == 1  # app.js only
    # And were an inline script ever put into the page, the CSP would not let it run.
    ran = page.evaluate(
        """() => {
            const script = document.createElement('script');
            script.textContent = 'window.__inline = 1';
            document.body.append(script);
            return window.__inline === 1;
        }"""
    )
    assert ran is False


def test_a_failed_run_shows_its_error(up: Up, page: Any) -> None:
    model = up.script("exploding", [{"error": "the model exploded <b>loudly</b>"}])
    start_from_page(page, "Fail, please.", model=model)
    wait_for_phase(page, "failed")
    error = page.locator("#x-error")
    assert error.is_visible() and "the model exploded <b>loudly</b>" in error.text_content()
    assert page.locator("#x-cancel").is_hidden()


def test_continue_a_session_and_filter_the_list(up: Up, page: Any) -> None:
    first = start_from_page(
        page, "First turn.", model=up.script("first", [{"text": "First answer."}])
    )
    wait_for_phase(page, "completed")
    session = page.locator("#x-session").text_content()
    page.fill("#continue-message", "Second turn.")
    page.fill("#continue-model", up.script("second", [{"text": "Second answer."}]))
    page.click("#continue button[type=submit]")
    page.wait_for_function(f"() => !location.hash.endsWith({first!r})")
    wait_for_phase(page, "completed")
    second = str(page.evaluate("decodeURIComponent(location.hash.split('/')[2])"))
    assert page.locator("#x-session").text_content() == session
    assert stored(up, second).spec.session_id == session
    # Filters: this session holds exactly these two runs.
    page.fill("#filter-session", session)
    visible = page.locator("#executions tbody tr:not([hidden])")
    page.wait_for_function(
        "() => document.querySelectorAll('#executions tbody tr:not([hidden])').length === 2"
    )
    assert sorted(visible.evaluate_all("rows => rows.map(r => r.dataset.id)")) == sorted(
        [first, second]
    )
    page.select_option("#filter-phase", "failed")
    page.wait_for_function(
        "() => document.querySelectorAll('#executions tbody tr:not([hidden])').length === 0"
    )
    page.select_option("#filter-phase", "")
    page.select_option("#filter-agent", "data-analyst")
    assert visible.count() == 0
    page.select_option("#filter-agent", "demo")
    page.wait_for_function(
        "() => document.querySelectorAll('#executions tbody tr:not([hidden])').length === 2"
    )


def test_the_ai_text_streams_into_the_page_as_it_arrives(up: Up, page: Any) -> None:
    words = " ".join(f"word{n}" for n in range(150))  # about 130 chunks, 0.1 s apart
    model = up.script("streamer", [{"text": words}], chunk_delay_s=0.1)
    start_from_page(page, "Talk slowly.", model=model)
    # Seen part-way: the run still going, some of the text there, not all of it yet.
    page.wait_for_function(
        """() => {
            const texts = [...document.querySelectorAll('#x-messages .message.ai .text')];
            const text = texts.length ? texts[texts.length - 1].textContent : '';
            return document.querySelector('#x-phase').textContent === 'running'
                && text.startsWith('word0 ') && !text.endsWith('word149');
        }""",
        timeout=LIVE_S,
    )
    wait_for_phase(page, "completed")
    assert page.locator("#x-messages .message.ai .text").last.text_content() == words


def test_a_run_started_in_the_page_is_followed_live_to_completed(up: Up, page: Any) -> None:
    execution_id = start_from_page(page, "Survey this workspace, please.")
    # The list shows it at once, while it runs.
    page.wait_for_selector(f"#executions tr[data-id='{execution_id}']")
    wait_for_phase(page, "completed")
    calls = page.locator("#x-messages > .message > .calls > details.call")
    names = calls.locator(":scope > summary > .name").all_text_contents()
    assert "execute" in names and "task" in names and "write_todos" in names
    command = calls.filter(has=page.locator(":scope > summary > .name", has_text="execute"))
    assert command.first.locator(":scope > summary > .exit").text_content() == "exit 0"
    # The subagent sits under the `task` call that started it, with its own calls.
    task = calls.filter(has=page.locator(":scope > summary > .name", has_text="task")).first
    task.locator(":scope > summary").click()
    subagent = task.locator(".subagent")
    assert "general-purpose" in subagent.locator(".sub-head").text_content()
    assert subagent.locator("details.call .name").all_text_contents() == ["execute"]
    todos = page.locator("#x-todos li")
    assert todos.count() >= 1 and all(
        "completed" in c for c in todos.evaluate_all("items => items.map(i => i.className)")
    )
    assert page.locator("#x-timeline .step").count() >= len(names)
    environment = page.locator("#x-environment").text_content()
    assert "WORKSPACE_OWNER" in environment and "REPORT_TITLE" in environment
    assert "repo-stats" in page.locator("#x-skills").text_content()
    link = page.locator("#x-temporal")
    assert link.is_visible() and "stigmer%2Fagent-execution%2Finvoke" in link.get_attribute("href")
    save_screenshot(page, "execution")
    assert stored(up, execution_id).status.phase == ax.EXECUTION_COMPLETED


def test_a_page_without_the_token_asks_for_it(up: Up, browser: Any) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(up.url.split("#", 1)[0])
    page.wait_for_selector("#sign-in:not([hidden])")
    page.fill("#sign-in-token", "wrong")
    page.click("#sign-in-form button")
    page.wait_for_selector("#sign-in-problem:not([hidden])")
    assert page.locator("#app").is_hidden()
    page.fill("#sign-in-token", "dummy-local-key")
    page.click("#sign-in-form button")
    page.wait_for_selector("#app:not([hidden])")
    context.close()


# -- the flag and the port -----------------------------------------------------------


def test_a_taken_web_port_is_reported_and_no_web_serves_none(tmp_path: Path) -> None:
    env = up_env(tmp_path)
    port = free_port()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        process, banner = start_up(tmp_path, env, "--web-port", str(port))
        try:
            assert f"web view   off: the web view cannot listen on 127.0.0.1:{port}" in banner
            assert "AGENT_RUNNER_WEB_PORT" in banner
            daemon_port = int(env["STIGMER_BACKEND_ENDPOINT"].rsplit(":", 1)[1])
            assert port_is_taken(daemon_port) and process.poll() is None  # the rest is up
        finally:
            stop_up(process)
    env = up_env(tmp_path)
    process, banner = start_up(tmp_path, env, "--no-web")
    try:
        assert "web view" not in banner
        assert not port_is_taken(int(env["AGENT_RUNNER_WEB_PORT"]))
    finally:
        stop_up(process)
    with pytest.raises(AssertionError):
        web_url(banner)
