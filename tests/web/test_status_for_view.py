"""What the status keeps for the web view (exit codes, a subagent's own calls), and how the
view reads a status: kept outputs, the timeline, masking."""

from __future__ import annotations

import itertools

import graphton
from agent_runner import wire
from agent_runner.local.web import present
from agent_runner.redaction import Redactor
from agent_runner.status.builder import StatusBuilder, fit_to_budget

ax = wire.agentexecution


def builder(secrets: tuple[str, ...] = ()) -> StatusBuilder:
    ticks = itertools.count()
    return StatusBuilder(
        redact=Redactor(secrets), clock=lambda: f"2026-11-21T10:00:{next(ticks):02d}.000Z"
    )


def execution_of(status: ax.AgentExecutionStatus) -> ax.AgentExecution:
    execution = ax.AgentExecution(spec=ax.AgentExecutionSpec(agent_id="demo", message="hi"))
    execution.metadata.id = "aex-1"
    execution.status.CopyFrom(status)
    return execution


def test_a_commands_exit_code_is_kept_even_when_its_result_is_cut() -> None:
    status = builder()
    status.apply(graphton.ToolStarted(call_id="a", name="execute", args={"command": "false"}))
    status.apply(
        graphton.ToolFinished(
            call_id="a",
            name="execute",
            result="x" * 100_000,  # the "[Command failed with exit code 3]" line is cut off
            exit_code=3,
            error="command exited with code 3",
        )
    )
    [call] = present.detail(execution_of(status.snapshot()), "m", str)["tool_calls"]
    assert call["exit_code"] == 3 and call["cut"] is True


def test_a_subagents_own_calls_are_kept_under_it_not_in_the_parents_list() -> None:
    status = builder(secrets=("hunter2",))
    status.apply(graphton.ToolStarted(call_id="t1", name="task", args={"description": "d"}))
    status.apply(
        graphton.SubagentStarted(call_id="t1", subagent_type="researcher", description="d")
    )
    status.apply(
        graphton.ToolStarted(
            call_id="x", name="execute", args={"command": "echo hunter2"}, subagent="t1"
        )
    )
    status.apply(
        graphton.ToolFinished(
            call_id="x",
            name="execute",
            result="hunter2\n" + "y" * 10_000,
            exit_code=0,
            subagent="t1",
        )
    )
    status.apply(graphton.ToolFinished(call_id="t1", name="task", result="found it"))
    status.apply(
        graphton.SubagentFinished(call_id="t1", subagent_type="researcher", output="found it")
    )
    detail = present.detail(execution_of(status.snapshot()), "m", str)
    assert [c["id"] for c in detail["tool_calls"]] == ["t1"]
    [sub] = detail["subagents"]
    assert sub["tool_call_count"] == 1
    [call] = sub["calls"]
    assert call["name"] == "execute" and call["status"] == "completed" and call["exit_code"] == 0
    assert call["args"] == {"command": "echo ***"}
    assert call["result"].startswith("***\n") and len(call["result"]) < 3000  # short
    assert call["started"] < call["completed"]


def test_a_status_over_budget_sheds_the_subagents_calls() -> None:
    status = ax.AgentExecutionStatus()
    sub = status.sub_agent_executions.add(id="t1", name="r")
    calls = sub.metadata.fields["calls"].list_value
    for n in range(40):
        calls.values.add().struct_value.update({"id": str(n), "result": "z" * 2000})
    status.tool_calls.add(id="a", name="read_file", result="r" * 50_000)
    fit_to_budget(status, budget=60_000)
    assert status.ByteSize() <= 60_000
    assert "calls" not in status.sub_agent_executions[0].metadata.fields


def test_kept_outputs_and_timeline_are_read_from_the_status() -> None:
    status = ax.AgentExecutionStatus(
        started_at="2026-11-21T10:00:00.000Z", completed_at="2026-11-21T10:00:09.000Z"
    )
    status.messages.add(
        type=ax.MESSAGE_AI, content="Running.", timestamp="2026-11-21T10:00:01.000Z"
    )
    status.tool_calls.add(
        id="a",
        name="execute",
        status=ax.TOOL_CALL_COMPLETED,
        started_at="2026-11-21T10:00:02.000Z",
        completed_at="2026-11-21T10:00:08.000Z",
        result="[output too long: the first 5 of 9 bytes follow; the whole output is in "
        "/.agent-runner/outputs/0123456789ab.stdout]\nhello\n[Command succeeded with exit code 0]",
    )
    detail = present.detail(execution_of(status), "m", str)
    [call] = detail["tool_calls"]
    assert call["kept"] == ["0123456789ab.stdout"] and call["exit_code"] == 0
    assert [(s["kind"], s["start"][-7:], s["end"][-7:]) for s in detail["timeline"]] == [
        ("ai", "01.000Z", "02.000Z"),  # a turn lasts until the next thing starts
        ("tool", "02.000Z", "08.000Z"),
    ]


def test_every_string_the_view_sends_passes_the_mask() -> None:
    status = ax.AgentExecutionStatus(error="failed with hunter2")
    status.messages.add(type=ax.MESSAGE_AI, content="the key is hunter2")
    status.tool_calls.add(id="a", name="hunter2", result="hunter2")
    status.tool_calls[0].args.update({"hunter2": ["hunter2"]})
    status.todos["t"].content = "hunter2"
    detail = present.detail(execution_of(status), "m", Redactor(["hunter2"]))
    assert "hunter2" not in str(detail)


def test_a_final_phase_closes_a_subagents_own_running_call() -> None:
    status = builder()
    status.start("hi")
    status.apply(graphton.ToolStarted(call_id="t1", name="task", args={"description": "d"}))
    status.apply(
        graphton.SubagentStarted(call_id="t1", subagent_type="researcher", description="d")
    )
    status.apply(
        graphton.ToolStarted(
            call_id="x", name="execute", args={"command": "sleep 600"}, subagent="t1"
        )
    )
    status.cancel()
    [sub] = present.detail(execution_of(status.snapshot()), "m", str)["subagents"]
    [call] = sub["calls"]
    assert call["status"] == "failed" and "CANCELLED" in call["error"] and call["completed"]
