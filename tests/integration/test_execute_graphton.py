"""ExecuteGraphton end to end: real Temporal, real daemon, real worker, scripted model."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from google.protobuf import json_format
from langsmith._internal import _aiter
from temporalio import workflow
from temporalio.api.common.v1 import Payload
from temporalio.client import WorkflowFailureError
from temporalio.common import RawValue, RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.worker import Worker

from agent_runner import wire
from agent_runner.activities import execute_graphton
from agent_runner.local.daemon import LocalDaemon
from agent_runner.status.reporter import StatusReporter
from tests.helpers import async_wait_until, process_gone
from tests.integration.conftest import Stack

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(180)]

ax = wire.agentexecution
TODO_SCAN_SKILL_MD = "/.agent-runner/skills/todo-scan/SKILL.md"

FULL_RUN = [
    {
        "text": "Planning.",
        "tool_calls": [
            {
                "name": "write_todos",
                "args": {
                    "todos": [
                        {"content": "Write the greeting", "status": "in_progress"},
                        {"content": "Check it", "status": "pending"},
                    ]
                },
            }
        ],
    },
    {
        "text": "Writing the greeting.",
        "tool_calls": [
            {"name": "write_file", "args": {"file_path": "/hello.txt", "content": "hello"}},
            {"name": "execute", "args": {"command": "cat hello.txt && echo $WORKSPACE_OWNER"}},
        ],
    },
    {
        "expect": {"contains": ["hello", "local developer"]},
        "text": "Asking a helper to check.",
        "tool_calls": [
            {
                "name": "task",
                "args": {"description": "Count the files", "subagent_type": "general-purpose"},
            }
        ],
    },
    {"text": "Counting.", "tool_calls": [{"name": "execute", "args": {"command": "ls | wc -l"}}]},
    {"text": "There is one file besides the skills."},
    {
        "tool_calls": [
            {
                "name": "write_todos",
                "args": {
                    "todos": [
                        {"content": "Write the greeting", "status": "completed"},
                        {"content": "Check it", "status": "completed"},
                    ]
                },
            }
        ]
    },
    {"text": "All done: hello.txt is written."},
]


async def test_a_run_ends_completed_with_the_full_status_and_its_files(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    thread_hops: list[object] = []
    hop = _aiter._default_aio_to_thread

    async def counted_hop(*args: Any, **kwargs: Any) -> Any:
        thread_hops.append(args[1])
        return await hop(*args, **kwargs)

    monkeypatch.setattr(_aiter, "_default_aio_to_thread", counted_hop)
    execution = await stack.new_execution("Write a greeting", FULL_RUN)
    handle = await stack.start(execution)
    result = await handle.result()
    # The worker keeps LangSmith's per-hook bookkeeping on the loop (nothing is traced).
    assert thread_hops == []

    assert (stack.workspace / "hello.txt").read_text() == "hello"
    stored = (await stack.stored(execution.metadata.id)).status
    assert stored.phase == ax.EXECUTION_COMPLETED
    assert result.phase == ax.EXECUTION_COMPLETED
    assert [(m.type, m.content) for m in stored.messages] == [
        (ax.MESSAGE_HUMAN, "Write a greeting"),
        (ax.MESSAGE_AI, "Planning."),
        (ax.MESSAGE_AI, "Writing the greeting."),
        (ax.MESSAGE_AI, "Asking a helper to check."),
        (ax.MESSAGE_AI, ""),
        (ax.MESSAGE_AI, "All done: hello.txt is written."),
    ]
    calls = [(c.name, c.status) for c in stored.tool_calls]
    assert calls == [
        ("write_todos", ax.TOOL_CALL_COMPLETED),
        ("write_file", ax.TOOL_CALL_COMPLETED),
        ("execute", ax.TOOL_CALL_COMPLETED),
        ("task", ax.TOOL_CALL_COMPLETED),
        ("write_todos", ax.TOOL_CALL_COMPLETED),
    ]
    assert "local developer" in stored.tool_calls[2].result
    assert all(
        c.started_at.endswith("Z") and c.completed_at.endswith("Z") for c in stored.tool_calls
    )
    [sub] = stored.sub_agent_executions
    assert (sub.id, sub.name, sub.status) == ("call_3_1", "general-purpose", ax.SUB_AGENT_COMPLETED)
    assert sub.output == "There is one file besides the skills."
    assert sorted((t.content, t.status) for t in stored.todos.values()) == [
        ("Check it", ax.TODO_COMPLETED),
        ("Write the greeting", ax.TODO_COMPLETED),
    ]
    assert stored.started_at.endswith("Z") and stored.completed_at.endswith("Z")
    assert result.messages == stored.messages


async def test_the_agents_first_words_are_pushed_at_once_and_the_rest_together(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A budget no run here reaches: anything pushed before the end was pushed as urgent.
    monkeypatch.setattr(
        execute_graphton, "StatusReporter", functools.partial(StatusReporter, staleness_s=600)
    )
    answer = "The first words arrive at once; the rest of the answer follows them."
    execution = await stack.new_execution("Say something", [{"text": answer}])
    script = Path(execution.spec.execution_config.model_name)  # streamed at a provider's pace
    script.write_text(yaml.safe_dump({"chunk_delay_s": 0.05, "turns": [{"text": answer}]}))
    updates: list[ax.AgentExecutionStatus] = []

    async def keep_every_update() -> None:
        async for seen in stack.backend.subscribe_execution(execution.metadata.id):
            updates.append(seen.status)

    subscriber = asyncio.create_task(keep_every_update())
    await asyncio.sleep(0)
    result = await (await stack.start(execution)).result()
    await asyncio.wait_for(subscriber, 30)

    assert result.phase == ax.EXECUTION_COMPLETED
    answered = [
        next((m.content for m in u.messages if m.type == ax.MESSAGE_AI), "") for u in updates
    ]
    running = [
        text
        for u, text in zip(updates, answered, strict=True)
        if u.phase == ax.EXECUTION_IN_PROGRESS
    ]
    # Started (no words yet), then the first words alone, then the whole answer at the end.
    assert running[0] == "" and running[-1] and answer.startswith(running[-1])
    assert len(running[-1]) < len(answer)
    assert answered[-1] == answer and updates[-1].phase == ax.EXECUTION_COMPLETED


@workflow.defn(name="JavaStyleOrchestrator", sandboxed=False)
class JavaStyleOrchestrator:
    """Hands ExecuteGraphton the execution payload exactly as a Java workflow built it."""

    @workflow.run
    async def run(self, execution: RawValue, thread_id: str, queue: str) -> RawValue:
        return await workflow.execute_activity(
            "ExecuteGraphton",
            args=[execution, thread_id],
            task_queue=queue,
            start_to_close_timeout=timedelta(minutes=2),
            heartbeat_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(maximum_attempts=1),
            result_type=RawValue,
        )


async def test_a_payload_built_the_java_way_is_executed(stack: Stack) -> None:
    execution = await stack.new_execution("Say hi", [{"text": "Hi from the runner."}])
    document = json_format.MessageToDict(execution)
    document["fieldAddedByANewerPlatform"] = {"anything": True}
    payload = Payload(
        metadata={"encoding": b"json/protobuf"},  # Java may omit messageType
        data=json.dumps(document, indent=2).encode(),
    )
    async with Worker(
        stack.temporal, task_queue=f"java-{stack.runner_queue}", workflows=[JavaStyleOrchestrator]
    ):
        raw = await stack.temporal.execute_workflow(
            JavaStyleOrchestrator.run,
            args=[RawValue(payload), "thread-java", stack.runner_queue],
            id=f"java-{execution.metadata.id}",
            task_queue=f"java-{stack.runner_queue}",
        )
    assert raw.payload.metadata["messageType"] == (
        b"ai.stigmer.agentic.agentexecution.v1.AgentExecutionStatus"
    )
    returned = json_format.Parse(raw.payload.data, ax.AgentExecutionStatus())
    assert returned.phase == ax.EXECUTION_COMPLETED
    assert returned.messages[-1].content == "Hi from the runner."


async def test_a_failing_command_fails_its_tool_call_but_not_the_run(stack: Stack) -> None:
    turns = [
        {"tool_calls": [{"name": "execute", "args": {"command": "echo broken >&2; exit 4"}}]},
        {"expect": {"contains": "exit code 4"}, "text": "That failed; stopping here."},
    ]
    execution = await stack.new_execution("Try something", turns)
    await (await stack.start(execution)).result()
    stored = (await stack.stored(execution.metadata.id)).status
    assert stored.phase == ax.EXECUTION_COMPLETED
    [call] = stored.tool_calls
    assert call.status == ax.TOOL_CALL_FAILED
    assert call.error == "command exited with code 4"
    assert "broken" in call.result


async def test_a_model_error_fails_the_execution_and_the_workflow(stack: Stack) -> None:
    turns = [
        {"text": "Starting.", "tool_calls": [{"name": "execute", "args": {"command": "true"}}]},
        {"error": "the provider is overloaded"},
    ]
    execution = await stack.new_execution("Do it", turns)
    handle = await stack.start(execution)
    with pytest.raises(WorkflowFailureError) as caught:
        await handle.result()
    assert "the provider is overloaded" in str(caught.value.cause)
    stored = (await stack.stored(execution.metadata.id)).status
    assert stored.phase == ax.EXECUTION_FAILED
    assert "the provider is overloaded" in stored.error
    assert stored.tool_calls[0].status == ax.TOOL_CALL_COMPLETED


async def test_a_missing_session_is_a_non_retryable_failure_naming_it(stack: Stack) -> None:
    execution = await stack.new_execution("Hello", [{"text": "never played"}])
    execution.spec.session_id = "ses-does-not-exist"
    handle = await stack.start(execution)
    with pytest.raises(WorkflowFailureError) as caught:
        await handle.result()
    activity_error = caught.value.cause.__cause__
    assert isinstance(activity_error, ActivityError)
    application_error = activity_error.cause
    assert isinstance(application_error, ApplicationError)
    assert application_error.non_retryable
    assert "ses-does-not-exist" in application_error.message
    history = [e async for e in handle.fetch_history_events()]
    scheduled = [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history
        if e.HasField("activity_task_scheduled_event_attributes")
    ]
    assert scheduled == ["EnsureThread", "RecordExecutionFailure"]
    started = [e for e in history if e.HasField("activity_task_started_event_attributes")]
    assert all(e.activity_task_started_event_attributes.attempt == 1 for e in started)
    assert (await stack.stored(execution.metadata.id)).status.phase == ax.EXECUTION_FAILED


async def test_cancelling_the_workflow_cancels_the_run_and_kills_its_command(
    stack: Stack,
) -> None:
    turns = [
        {
            "text": "Waiting a long time.",
            "tool_calls": [
                {"name": "execute", "args": {"command": "echo $$ > long.pid; sleep 600"}}
            ],
        },
        {"text": "never reached"},
    ]
    execution = await stack.new_execution("Wait", turns)
    handle = await stack.start(execution)
    pid_file = stack.workspace / "long.pid"
    await async_wait_until(pid_file.exists, within=60, what="the command to start")
    pid = int(pid_file.read_text())
    await handle.cancel()
    await async_wait_until(
        lambda: _phase(stack, execution.metadata.id, ax.EXECUTION_CANCELLED),
        within=20,
        what="the daemon to show CANCELLED",
    )
    await async_wait_until(lambda: process_gone(pid), within=10, what="the command to die")
    with pytest.raises(WorkflowFailureError):
        await handle.result()


async def _phase(stack: Stack, execution_id: str, phase: int) -> bool:
    return (await stack.stored(execution_id)).status.phase == phase


async def test_the_run_outlives_a_daemon_outage_and_the_final_status_lands(stack: Stack) -> None:
    turns = [
        {"tool_calls": [{"name": "execute", "args": {"command": "touch started; sleep 3"}}]},
        {"text": "Finished while the daemon was away."},
    ]
    execution = await stack.new_execution("Survive", turns)
    handle = await stack.start(execution)
    await async_wait_until((stack.workspace / "started").exists, within=60, what="the command")
    await stack.daemon.stop()
    await asyncio.sleep(10)
    stack.daemon = LocalDaemon(stack.daemon_settings, stack.catalog)
    await stack.daemon.start()
    result = await handle.result()
    assert result.phase == ax.EXECUTION_COMPLETED
    await async_wait_until(
        lambda: _phase(stack, execution.metadata.id, ax.EXECUTION_COMPLETED),
        within=30,
        what="the final status to reach the restarted daemon",
    )
    stored = (await stack.stored(execution.metadata.id)).status
    assert stored.messages[-1].content == "Finished while the daemon was away."


async def test_secrets_never_reach_the_status_or_the_logs(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "sk-live-7f3a9c2e51"
    turns = [
        {"tool_calls": [{"name": "execute", "args": {"command": "echo token=$API_TOKEN"}}]},
        {
            "expect": {"contains": "token=***", "not_contains": secret},
            "text": f"The token is {secret}.",
            "tool_calls": [{"name": "ls", "args": {"path": "/"}}],
        },
        {"error": f"provider rejected key {secret}"},
    ]
    execution = await stack.new_execution(
        f"Print the token {secret}", turns, runtime_env={"API_TOKEN": (secret, True)}
    )
    handle = await stack.start(execution)
    with pytest.raises(WorkflowFailureError) as caught:
        await handle.result()
    stored = await stack.stored(execution.metadata.id)
    status_json = json_format.MessageToJson(stored.status)
    assert secret not in status_json
    assert "token=***" in stored.status.tool_calls[0].result
    assert "The token is ***." in status_json
    assert "provider rejected key ***" in stored.status.error
    assert secret not in str(caught.value.cause)
    assert secret not in caplog.text
    history = [e async for e in handle.fetch_history_events()]
    completed = [
        e.activity_task_failed_event_attributes.failure.message
        for e in history
        if e.HasField("activity_task_failed_event_attributes")
    ]
    assert completed and all(secret not in message for message in completed)


async def test_a_huge_tool_output_keeps_the_payload_small(stack: Stack) -> None:
    turns = [
        {
            "tool_calls": [
                {"name": "execute", "args": {"command": "head -c 50000000 /dev/zero | tr '\\0' x"}}
            ]
        },
        {"text": "That was a lot of x."},
    ]
    execution = await stack.new_execution("Print a lot", turns)
    result = await (await stack.start(execution)).result()
    assert result.phase == ax.EXECUTION_COMPLETED
    assert result.ByteSize() < 1_000_000
    # deepagents keeps a result that large in a file and tells the model where.
    assert "/large_tool_results/" in result.tool_calls[0].result
    stored = (await stack.stored(execution.metadata.id)).status
    assert stored.ByteSize() < 1_000_000


async def test_two_executions_in_one_session_share_the_thread_and_the_conversation(
    stack: Stack,
) -> None:
    session_id = await stack.new_session()
    first = await stack.new_execution(
        "My name is Ada.", [{"text": "Nice to meet you, Ada."}], session_id=session_id
    )
    await (await stack.start(first)).result()
    second = await stack.new_execution(
        "What is my name?",
        [
            {
                "expect": {"history_contains": ["My name is Ada.", "Nice to meet you, Ada."]},
                "text": "Your name is Ada.",
            }
        ],
        session_id=session_id,
    )
    await (await stack.start(second)).result()
    session = await stack.backend.get_session(session_id)
    assert session.spec.thread_id == f"thread-{session_id}"
    saver_state = stack.config.data_dir / "checkpoints.sqlite3"
    assert saver_state.exists()
    stored = (await stack.stored(second.metadata.id)).status
    # The status holds this execution's messages only, though the model saw both.
    assert [m.content for m in stored.messages] == ["What is my name?", "Your name is Ada."]


async def test_an_agent_reads_its_skill_and_runs_the_skills_script(stack: Stack) -> None:
    turns = [
        {"tool_calls": [{"name": "read_file", "args": {"file_path": TODO_SCAN_SKILL_MD}}]},
        {
            "expect": {"contains": "python3 scripts/scan.py"},
            "tool_calls": [
                {
                    "name": "execute",
                    "args": {
                        "command": "python3 .agent-runner/skills/todo-scan/scripts/scan.py "
                        ".agent-runner/skills"
                    },
                }
            ],
        },
        {"expect": {"contains": "markers"}, "text": "Scanned."},
    ]
    execution = await stack.new_execution("Scan for markers", turns)
    await (await stack.start(execution)).result()
    stored = (await stack.stored(execution.metadata.id)).status
    assert stored.phase == ax.EXECUTION_COMPLETED
    assert [c.status for c in stored.tool_calls] == [ax.TOOL_CALL_COMPLETED] * 2
    skills = stack.workspace / ".agent-runner" / "skills"
    assert (skills / "repo-stats" / "scripts" / "stats.py").exists()


async def test_a_skill_whose_files_cannot_be_fetched_still_gets_its_skill_md(stack: Stack) -> None:
    key = stack.catalog.skills["todo-scan"].status.artifact_storage_key
    del stack.catalog.artifacts[key]  # the daemon now answers NOT_FOUND for it
    execution = await stack.new_execution(
        "Hi",
        [
            {"tool_calls": [{"name": "read_file", "args": {"file_path": TODO_SCAN_SKILL_MD}}]},
            {"expect": {"contains": "todo-scan"}, "text": "Read it."},
        ],
    )
    await (await stack.start(execution)).result()
    stored = (await stack.stored(execution.metadata.id)).status
    assert stored.phase == ax.EXECUTION_COMPLETED
    [warning] = [m for m in stored.messages if m.type == ax.MESSAGE_SYSTEM]
    assert "todo-scan" in warning.content and "only its SKILL.md" in warning.content
    skills = stack.workspace / ".agent-runner" / "skills"
    assert (skills / "todo-scan" / "SKILL.md").exists()
    assert not (skills / "todo-scan" / "scripts").exists()


def add_agent_with_subagents(stack: Stack) -> None:
    """A team lead with two subagents, each with its own instructions and skills."""
    agent = wire.agent.Agent()
    agent.metadata.id = agent.metadata.slug = "lead"
    agent.spec.instructions = "You lead a small team."
    researcher = agent.spec.sub_agents.add(
        name="researcher", description="Finds facts.", instructions="You research."
    )
    researcher.skill_refs.add(slug="repo-stats")
    agent.spec.sub_agents.add(name="writer", description="Writes text.", instructions="You write.")
    agent.status.default_instance_id = "lead-default"
    instance = wire.agentinstance.AgentInstance()
    instance.metadata.id = "lead-default"
    instance.spec.agent_id = "lead"
    stack.catalog.agents["lead"] = agent
    stack.catalog.instances["lead-default"] = instance


async def test_an_agent_delegates_to_two_subagents_and_each_is_reported_once(
    stack: Stack,
) -> None:
    add_agent_with_subagents(stack)
    turns = [
        {
            "text": "Splitting the work.",
            "tool_calls": [
                {
                    "name": "task",
                    "args": {"subagent_type": "researcher", "description": "Count files"},
                }
            ],
        },
        # the researcher's turns: its own skill is in its prompt, and its call stays its own
        {"tool_calls": [{"name": "execute", "args": {"command": "ls .agent-runner/skills"}}]},
        {"expect": {"contains": "repo-stats"}, "text": "There is one skill folder."},
        {
            "tool_calls": [
                {"name": "task", "args": {"subagent_type": "writer", "description": "Summarize"}}
            ]
        },
        {"text": "Summary: one skill folder."},
        {"text": "Both subagents answered."},
    ]
    execution = await stack.new_execution(
        "Work as a team", turns, session_id=await stack.new_session("lead-default")
    )
    await (await stack.start(execution)).result()
    stored = (await stack.stored(execution.metadata.id)).status
    assert stored.phase == ax.EXECUTION_COMPLETED
    assert [(s.name, s.input, s.output, s.status) for s in stored.sub_agent_executions] == [
        ("researcher", "Count files", "There is one skill folder.", ax.SUB_AGENT_COMPLETED),
        ("writer", "Summarize", "Summary: one skill folder.", ax.SUB_AGENT_COMPLETED),
    ]
    assert all(s.started_at and s.completed_at for s in stored.sub_agent_executions)
    assert [c.name for c in stored.tool_calls] == ["task", "task"]
