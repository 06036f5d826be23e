"""StatusBuilder: events in, the contract's status out."""

from __future__ import annotations

import itertools

import graphton
from agent_runner import wire
from agent_runner.redaction import Redactor
from agent_runner.status.builder import (
    STATUS_BUDGET_BYTES,
    TOOL_RESULT_LIMIT,
    StatusBuilder,
    fit_to_budget,
)

ax = wire.agentexecution


def builder(secrets: tuple[str, ...] = ()) -> StatusBuilder:
    ticks = itertools.count()
    return StatusBuilder(
        redact=Redactor(secrets), clock=lambda: f"2026-11-21T10:00:{next(ticks):02d}.000Z"
    )


def test_text_deltas_build_one_ai_message_per_turn() -> None:
    status = builder()
    status.start("hi")
    for piece in ("Hel", "lo"):
        status.apply(graphton.AITextDelta(text=piece))
    status.apply(graphton.AIMessageCompleted(text="Hello"))
    status.apply(graphton.AITextDelta(text="Second"))
    status.apply(graphton.AIMessageCompleted(text="Second turn"))
    assert [(m.type, m.content) for m in status.status.messages] == [
        (ax.MESSAGE_HUMAN, "hi"),
        (ax.MESSAGE_AI, "Hello"),
        (ax.MESSAGE_AI, "Second turn"),
    ]
    assert status.status.phase == ax.EXECUTION_IN_PROGRESS


def test_only_the_agents_first_words_are_urgent() -> None:
    status = builder()
    status.start("hi")
    call = {"id": "c", "name": "execute", "args": {"command": "ls"}}
    urgent = [
        status.apply(graphton.AIMessageCompleted(text="", tool_calls=(call,))),
        status.apply(graphton.ToolStarted(call_id="c", name="execute", args={"command": "ls"})),
        status.apply(graphton.AITextDelta(text="Do", subagent="helper")),
        status.apply(graphton.AITextDelta(text="")),
        status.apply(graphton.AITextDelta(text="Fi")),
        status.apply(graphton.AITextDelta(text="rst")),
        status.apply(graphton.AIMessageCompleted(text="First")),
        status.apply(graphton.AITextDelta(text="Second")),
    ]
    assert urgent == [False, False, False, False, True, False, False, False]


def test_words_held_back_as_a_possible_secret_are_not_yet_the_first_words() -> None:
    redact = Redactor(("sk-live-7f3a9c2e51",))
    status = StatusBuilder(redact=redact, hold_back=redact.unfinished_tail)
    status.start("hi")
    assert status.apply(graphton.AITextDelta(text="sk-live")) is False  # all held back
    assert status.apply(graphton.AITextDelta(text="-7f3a9c2e51 is it")) is True
    assert status.status.messages[-1].content == "*** is it"


def test_a_model_that_does_not_stream_shows_its_first_words_with_its_turn() -> None:
    status = builder()
    status.start("hi")
    assert status.apply(graphton.AIMessageCompleted(text="All at once")) is True
    assert status.apply(graphton.AIMessageCompleted(text="Again")) is False


def test_each_tool_call_once_by_id_even_with_equal_name_and_args() -> None:
    status = builder()
    for call_id in ("a", "b"):
        status.apply(graphton.ToolStarted(call_id=call_id, name="execute", args={"command": "ls"}))
    status.apply(graphton.ToolFinished(call_id="a", name="execute", result="ok", exit_code=0))
    status.apply(
        graphton.ToolFinished(
            call_id="b",
            name="execute",
            result="no",
            exit_code=2,
            error="command exited with code 2",
        )
    )
    calls = status.status.tool_calls
    assert [(c.id, c.status, c.error) for c in calls] == [
        ("a", ax.TOOL_CALL_COMPLETED, ""),
        ("b", ax.TOOL_CALL_FAILED, "command exited with code 2"),
    ]
    assert calls[0].args["command"] == "ls"
    assert calls[0].started_at < calls[0].completed_at


def test_subagent_work_stays_out_of_the_parent_lists() -> None:
    status = builder()
    status.apply(graphton.ToolStarted(call_id="t1", name="task", args={"description": "d"}))
    status.apply(
        graphton.SubagentStarted(call_id="t1", subagent_type="researcher", description="d")
    )
    status.apply(graphton.AITextDelta(text="inner", subagent="t1"))
    status.apply(graphton.ToolStarted(call_id="x", name="ls", subagent="t1"))
    status.apply(graphton.ToolFinished(call_id="x", name="ls", result="[]", subagent="t1"))
    status.apply(graphton.ToolFinished(call_id="t1", name="task", result="found it"))
    status.apply(
        graphton.SubagentFinished(call_id="t1", subagent_type="researcher", output="found it")
    )
    assert [c.id for c in status.status.tool_calls] == ["t1"]
    assert list(status.status.messages) == []
    [sub] = status.status.sub_agent_executions
    assert (sub.id, sub.name, sub.input, sub.output, sub.status) == (
        "t1",
        "researcher",
        "d",
        "found it",
        ax.SUB_AGENT_COMPLETED,
    )
    assert sub.metadata["tool_calls"] == 1


def test_todos_get_stable_ids_and_times() -> None:
    status = builder()
    status.apply(
        graphton.TodosUpdated(
            todos=(graphton.Todo("plan", "in_progress"), graphton.Todo("write", "pending"))
        )
    )
    first = {t.content: (key, t.created_at, t.updated_at) for key, t in status.status.todos.items()}
    status.apply(
        graphton.TodosUpdated(
            todos=(graphton.Todo("write", "in_progress"), graphton.Todo("plan", "completed"))
        )
    )
    second = {t.content: (key, t) for key, t in status.status.todos.items()}
    assert second["plan"][0] == first["plan"][0]
    assert second["plan"][1].status == ax.TODO_COMPLETED
    assert second["plan"][1].created_at == first["plan"][1]
    assert second["plan"][1].updated_at != first["plan"][2]


def test_secrets_are_masked_everywhere_text_goes() -> None:
    status = builder(secrets=("s3cr3t",))
    status.start("use s3cr3t")
    status.apply(graphton.AITextDelta(text="the key is s3cr3t"))
    status.apply(graphton.AIMessageCompleted(text="the key is s3cr3t"))
    status.apply(graphton.ToolStarted(call_id="c", name="execute", args={"command": "echo s3cr3t"}))
    status.apply(
        graphton.ToolFinished(call_id="c", name="execute", result="s3cr3t", error="s3cr3t")
    )
    status.fail("boom s3cr3t")
    assert "s3cr3t" not in str(status.status)
    assert status.status.error == "boom ***"


def test_long_results_are_cut_and_marked() -> None:
    status = builder()
    status.apply(graphton.ToolStarted(call_id="c", name="execute"))
    status.apply(graphton.ToolFinished(call_id="c", name="execute", result="x" * 100_000))
    result = status.status.tool_calls[0].result
    assert result.startswith("x" * TOOL_RESULT_LIMIT)
    assert "more characters not kept in the status" in result
    assert len(result) < TOOL_RESULT_LIMIT + 100


def test_thousands_of_calls_still_fit_the_budget() -> None:
    status = builder()
    for n in range(3000):
        status.apply(graphton.ToolStarted(call_id=f"c{n}", name="execute", args={"x": "y" * 500}))
        status.apply(graphton.ToolFinished(call_id=f"c{n}", name="execute", result="r" * 5000))
    assert status.status.ByteSize() > STATUS_BUDGET_BYTES
    snapshot = status.snapshot()
    assert snapshot.ByteSize() <= STATUS_BUDGET_BYTES
    assert snapshot.tool_calls[-1].id == "c2999"  # the newest calls are the ones kept


def test_fit_to_budget_leaves_small_statuses_alone() -> None:
    status = ax.AgentExecutionStatus(tool_calls=[ax.ToolCall(id="a", result="short")])
    fit_to_budget(status)
    assert status.tool_calls[0].result == "short"


def test_cancel_and_fail_close_running_calls_and_set_the_phase() -> None:
    status = builder()
    status.apply(graphton.ToolStarted(call_id="c", name="execute"))
    status.cancel()
    assert status.status.phase == ax.EXECUTION_CANCELLED
    assert status.status.tool_calls[0].status == ax.TOOL_CALL_FAILED
    assert status.status.tool_calls[0].error == (
        "the execution ended (CANCELLED) before this finished"
    )
    assert status.status.completed_at


def test_every_final_phase_closes_open_calls_and_subagents_naming_the_phase() -> None:
    for end, phase in (("complete", "COMPLETED"), ("cancel", "CANCELLED")):
        status = builder()
        task_args = {"subagent_type": "scanner", "description": "scan"}
        status.apply(graphton.ToolStarted(call_id="t", name="task", args=task_args))
        status.apply(graphton.SubagentStarted(call_id="t", subagent_type="", description=""))
        getattr(status, end)()
        [call], [sub] = status.status.tool_calls, status.status.sub_agent_executions
        assert (call.status, sub.status) == (ax.TOOL_CALL_FAILED, ax.SUB_AGENT_FAILED)
        assert phase in call.error and phase in sub.error
        assert (sub.name, sub.input) == ("scanner", "scan")


def test_a_resumed_subagent_is_named_from_its_task_call_and_ended_by_its_result() -> None:
    status = builder()
    # the replayed past: the `task` call; then the resumed stream: the subagent's start
    # without a name (its call is not in the stream), and the call's result
    task_args = {"subagent_type": "scanner", "description": "scan the code"}
    status.apply(graphton.ToolStarted(call_id="t", name="task", args=task_args))
    status.apply(graphton.SubagentStarted(call_id="t", subagent_type="", description=""))
    status.apply(graphton.ToolFinished(call_id="t", name="task", result="3 markers"))
    [sub] = status.status.sub_agent_executions
    assert (sub.name, sub.input, sub.output) == ("scanner", "scan the code", "3 markers")
    assert sub.status == ax.SUB_AGENT_COMPLETED and sub.completed_at
