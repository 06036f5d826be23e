"""The backend's fencing rules (`merge_status`, `check_attempt`) and the reporter's answer
to a refusal."""

from __future__ import annotations

import time

import pytest

from agent_runner import wire
from agent_runner.backend import BackendUnavailable, StatusRefused
from agent_runner.local.store import StatusRefused as Refused
from agent_runner.local.store import check_attempt, merge_status
from agent_runner.status import StatusReporter
from tests.helpers import async_wait_until

pytestmark = pytest.mark.anyio

ax = wire.agentexecution


def status(phase: int, *tools: str) -> ax.AgentExecutionStatus:
    return ax.AgentExecutionStatus(
        phase=phase,  # type: ignore[arg-type]
        tool_calls=[ax.ToolCall(id=t, name="execute") for t in tools],
    )


def test_nothing_changes_a_final_status_but_its_own_redelivery() -> None:
    done = status(ax.EXECUTION_COMPLETED, "a")
    merge_status(done, status(ax.EXECUTION_COMPLETED, "a"))
    for change in (status(ax.EXECUTION_CANCELLED), status(0, "b"), status(ax.EXECUTION_FAILED)):
        with pytest.raises(Refused, match="already ended \\(EXECUTION_COMPLETED\\)"):
            merge_status(done, change, execution_id="x")
    assert done == status(ax.EXECUTION_COMPLETED, "a")


def test_an_older_attempt_is_refused_and_a_writer_without_attempt_is_not_fenced() -> None:
    with pytest.raises(Refused, match="attempt 1 was replaced by attempt 2"):
        check_attempt("x", 1, 2)
    check_attempt("x", None, 2)
    check_attempt("x", 3, 2)
    check_attempt("x", 1, None)


async def test_a_refusal_ends_the_pushes_for_good_and_is_no_outage() -> None:
    calls: list[str] = []
    current = status(ax.EXECUTION_IN_PROGRESS)

    async def push(_: ax.AgentExecutionStatus) -> None:
        calls.append("push")
        if len(calls) == 1:
            raise BackendUnavailable("down", "UNAVAILABLE")  # an outage: retried
        raise StatusRefused("already ended", "FAILED_PRECONDITION")

    reporter = StatusReporter(push, lambda: current, staleness_s=0.01)
    reporter.start()
    reporter.changed(urgent=True)
    await async_wait_until(lambda: reporter.refused is not None, within=10, what="the refusal")
    reporter.changed(urgent=True)
    assert not await reporter.finish(time.monotonic() + 5)  # no final push either
    assert calls == ["push", "push"]
    assert reporter.failures == 1 and "already ended" in reporter.refused
