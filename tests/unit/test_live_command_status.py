"""The status shows a running command's latest output, then its result."""

from __future__ import annotations

import graphton
from agent_runner import wire
from agent_runner.status.builder import TOOL_RESULT_LIMIT, StatusBuilder

ax = wire.agentexecution


def started_builder() -> StatusBuilder:
    builder = StatusBuilder(redact=lambda text: text.replace("hunter2", "***"))
    builder.start("go")
    builder.apply(graphton.ToolStarted(call_id="c1", name="execute", args={"command": "make"}))
    return builder


def test_output_of_a_running_call_is_its_result_until_the_real_one() -> None:
    builder = started_builder()
    assert builder.command_output("c1", "compiling a\n")
    assert builder.command_output("c1", "compiling b, password hunter2\n")
    [call] = builder.snapshot().tool_calls
    assert call.status == ax.TOOL_CALL_RUNNING
    assert call.result == "compiling a\ncompiling b, password ***\n"
    builder.apply(graphton.ToolFinished(call_id="c1", name="execute", result="built", exit_code=0))
    assert not builder.command_output("c1", "late\n")  # a finished call keeps its result
    [call] = builder.snapshot().tool_calls
    assert (call.status, call.result) == (ax.TOOL_CALL_COMPLETED, "built")


def test_a_long_running_output_keeps_its_latest_part_and_says_how_much_came_before() -> None:
    builder = started_builder()
    for n in range(5000):
        builder.command_output("c1", f"line {n}\n")
    [call] = builder.snapshot().tool_calls
    total = sum(len(f"line {n}\n") for n in range(5000))
    assert call.result.endswith("line 4999\n")
    note, kept = call.result.split("\n", 1)
    assert note == f"[... {total - TOOL_RESULT_LIMIT} earlier characters not kept in the status]"
    assert len(kept) == TOOL_RESULT_LIMIT


def test_output_for_an_unknown_call_changes_nothing() -> None:
    builder = started_builder()
    assert not builder.command_output("not-a-call", "text")
    [call] = builder.snapshot().tool_calls
    assert call.result == ""


def finished(builder: StatusBuilder, result: str) -> ax.ToolCall:
    builder.apply(graphton.ToolFinished(call_id="c1", name="execute", result=result))
    [call] = builder.snapshot().tool_calls
    return call


def test_a_result_the_status_cuts_is_kept_whole_and_the_note_names_where() -> None:
    builder = started_builder()
    kept: dict[str, str] = {}

    def keep(call_id: str, text: str) -> str:
        kept[call_id] = text
        return f"/.agent-runner/outputs/result-{call_id}.stdout"

    builder.keep_whole_result = keep
    result = "".join(f"row {n} hunter2\n" for n in range(10_000))
    call = finished(builder, result)
    assert kept["c1"] == result.replace("hunter2", "***")  # whole, and masked
    assert len(call.result) < TOOL_RESULT_LIMIT + 200
    assert call.result.endswith("[the whole result is in /.agent-runner/outputs/result-c1.stdout]")


def test_a_short_result_or_one_naming_the_sandboxs_own_copy_is_not_kept_again() -> None:
    for result in (
        "short",
        "[output too long: the first 1048576 of 9000000 bytes follow; the whole output is in "
        "/.agent-runner/outputs/abc.stdout]\n" + "x" * 100_000,
    ):
        builder = started_builder()
        calls: list[str] = []
        builder.keep_whole_result = lambda call_id, text, calls=calls: calls.append(call_id)
        finished(builder, result)
        assert calls == []
