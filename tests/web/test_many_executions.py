"""Hundreds of executions in the list, in a real browser: all shown, filtered, updated live."""

from __future__ import annotations

import time

import pytest

from agent_runner import wire
from agent_runner.backend import BackendClient
from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS, TOKEN, ServedView

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(300)]

ax = wire.agentexecution
EXECUTIONS = 500


async def test_hundreds_of_executions_are_listed_filtered_and_updated_live(
    served_view: ServedView,
) -> None:
    from playwright.async_api import async_playwright

    async with BackendClient(served_view.view.config.backend) as backend:
        session = await backend.create_session(
            wire.session.Session(spec=wire.session.SessionSpec(agent_instance_id="demo"))
        )
        created = [
            await backend.create_execution(
                ax.AgentExecution(
                    spec=ax.AgentExecutionSpec(
                        session_id=session.metadata.id if n % 2 else "",
                        agent_id="demo",
                        message=f"run {n}",
                    )
                )
            )
            for n in range(EXECUTIONS)
        ]
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = await browser.new_page()
            began = time.monotonic()
            await page.goto(f"{served_view.base}/#token={TOKEN}")
            await page.wait_for_function(
                f"() => document.querySelectorAll('#executions tbody tr').length === {EXECUTIONS}"
            )
            shown = time.monotonic() - began
            assert await page.locator("#list-count").text_content() == (
                f"{EXECUTIONS} of {EXECUTIONS} executions"
            )
            await page.fill("#filter-session", session.metadata.id)
            await page.wait_for_function(
                "() => document.querySelector('#list-count').textContent"
                f".startsWith('{EXECUTIONS // 2} of')"
            )
            # A change reaches the open list without a reload.
            target = created[1]
            status = ax.AgentExecutionStatus(
                phase=ax.EXECUTION_FAILED, started_at="2026-11-23T10:00:00.000Z", error="boom"
            )
            await backend.update_execution_status(target.metadata.id, status)
            await page.select_option("#filter-phase", "failed")
            await page.wait_for_function(
                "() => document.querySelector('#list-count').textContent.startsWith('1 of')"
            )
            row = page.locator(f"#executions tr[data-id='{target.metadata.id}']")
            assert await row.is_visible()
            await browser.close()
    print(f"\n{EXECUTIONS} executions listed in the browser in {shown:.2f}s")
