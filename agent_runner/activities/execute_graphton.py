"""`ExecuteGraphton(execution, thread_id) -> AgentExecutionStatus`: run one agent execution.

Reads as its steps: decode the inputs, resolve what to run, merge the
environment, open the sandbox, write the skills, build the model and the agent,
run it while the status streams to the backend, and end in exactly one final
phase: COMPLETED (returned), FAILED (pushed, then raised) or CANCELLED
(pushed, then the cancellation re-raised).
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

import temporalio.activity
from temporalio.common import RawValue
from temporalio.exceptions import ApplicationError

import graphton
from agent_runner import wire
from agent_runner.activities.build_agent import build_agent, build_chat_model, subagent_specs
from agent_runner.activities.deps import RunnerDeps
from agent_runner.activities.errors import caller_error, execution_details, with_details
from agent_runner.activities.heartbeat import Heartbeater, progress_details
from agent_runner.activities.inputs import decode_argument
from agent_runner.activities.mcp_servers import open_mcp_tools
from agent_runner.activities.provider_retry import describe_agent_failure, watch_provider_retries
from agent_runner.activities.resolve import ResolvedExecution, resolve_execution, skills_for
from agent_runner.activities.thread_lock import Holder, ThreadLease
from agent_runner.backend import BackendUnavailable
from agent_runner.clock import utc_now
from agent_runner.environment import ExecutionEnvironment, merge_environment
from agent_runner.live_output import LiveCommandOutput
from agent_runner.logs import current_execution
from agent_runner.masking import SecretMasking
from agent_runner.observability import tool_label
from agent_runner.redaction import Redactor
from agent_runner.sandboxes import OpenedSandbox
from agent_runner.skills import SkillWriter, generate_prompt_section
from agent_runner.status import StatusBuilder, StatusReporter
from agent_runner.status.kept_results import ResultKeeper
from graphton.testing import turns_played

log = logging.getLogger(__name__)

ax = wire.agentexecution
AgentExecution = ax.AgentExecution
AgentExecutionStatus = ax.AgentExecutionStatus

MAIN_AGENT = ""
"""Key of the main agent's skills section (subagents are keyed by name)."""
FINAL_PUSH_MARGIN_S = 5.0
"""The final status push stops retrying this long before the activity's own timeout."""
DEFAULT_FINAL_PUSH_WINDOW_S = 60.0


class ExecuteGraphton:
    def __init__(self, deps: RunnerDeps) -> None:
        self._deps = deps

    @temporalio.activity.defn(name="ExecuteGraphton")
    async def execute_graphton(
        self, execution: RawValue, thread_id: RawValue
    ) -> AgentExecutionStatus:
        decoded = decode_argument(execution, AgentExecution, "execution")
        thread = decode_argument(thread_id, str, "thread_id")
        if not decoded.metadata.id:
            raise caller_error("the execution has no metadata.id, so its status has nowhere to go")
        if not decoded.spec.message.strip():
            raise caller_error(f"execution {decoded.metadata.id!r} has an empty spec.message")
        return await _ExecutionRun(self._deps, decoded, thread).run()


class _ExecutionRun:
    """One attempt of one execution; the state its steps share."""

    def __init__(self, deps: RunnerDeps, execution: AgentExecution, thread_id: str) -> None:
        self.deps = deps
        self.execution = execution
        self.execution_id = execution.metadata.id
        self.thread_id = thread_id
        self.attempt = temporalio.activity.info().attempt
        """Temporal's attempt number: the fencing token every status push carries."""
        self.redact = Redactor()
        self.builder = StatusBuilder(
            redact=self._redact,
            hold_back=lambda text: self.redact.unfinished_tail(text),
            secret_in=lambda data: self.redact.found_in(data),
        )
        self.reporter = StatusReporter(
            self._push, self.builder.snapshot, what=f"execution {self.execution_id}"
        )
        self.sandbox: OpenedSandbox | None = None
        self.environment_warnings: list[str] = []
        self.final_push_deadline = _final_push_deadline()
        self.thread = ThreadLease(
            deps.thread_locks,
            thread_id,
            Holder(self.execution_id, self.attempt),
            on_wait=self._waiting_for,
            on_lost=self._thread_lost,
        )

    def _redact(self, text: str) -> str:
        return self.redact(text)

    async def _push(self, status: AgentExecutionStatus) -> None:
        metrics = self.deps.metrics
        started = time.monotonic()
        try:
            await self.deps.backend.update_execution_status(
                self.execution_id, status, deadline_s=5, attempt=self.attempt
            )
        except Exception:
            metrics.status_push_failures.inc()
            raise
        metrics.status_push_seconds.observe(time.monotonic() - started)
        if self.deps.status_stream is not None:
            await self.deps.status_stream.publish(self.execution_id, status)

    def _command_output(self, call_id: str, text: str) -> None:
        if self.builder.command_output(call_id, text):
            self.reporter.changed()

    def _progress(self) -> dict[str, Any]:
        return progress_details(self.execution_id, self.builder.status)

    async def run(self) -> AgentExecutionStatus:
        current_execution.set(self.execution_id)
        log.info("execution %s: started (thread %s)", self.execution_id, self.thread_id)
        metrics = self.deps.metrics
        metrics.executions_started.inc()
        started = time.monotonic()
        self._task = asyncio.current_task()
        self.reporter.start()
        try:
            async with Heartbeater(self._progress, on_beat=metrics.heartbeats.inc):
                return await self._run_steps()
        finally:
            await self.thread.release()
            await self.reporter.stop()  # already stopped unless the backend was unavailable
            if self.sandbox is not None:
                await self.sandbox.kill_running_commands()
            self.deps.secrets.unregister(self.execution_id)
            outcome = {
                ax.EXECUTION_COMPLETED: "completed",
                ax.EXECUTION_CANCELLED: "cancelled",
            }.get(self.builder.status.phase, "failed")
            metrics.executions_finished.labels(outcome=outcome).inc()
            metrics.execution_seconds.observe(time.monotonic() - started)

    async def _run_steps(self) -> AgentExecutionStatus:
        try:
            await self.thread.acquire()
            resolved = await resolve_execution(self.deps.backend, self.execution)
            environment = self._merge_environment(resolved)
            self.sandbox = await self.deps.sandboxes.open(
                environment.values, self.redact, resolved.session
            )
            if self.sandbox.mode == "filesystem" and self.sandbox.root_dir:
                self.builder.keep_whole_result = ResultKeeper(
                    Path(self.sandbox.root_dir), self.execution_id
                )
            sections = await self._write_skills(resolved, self.sandbox)
            model = build_chat_model(
                self.deps.config.llm,
                self.execution.spec.execution_config.model_name,
                resolved.agent,
            )
            watch_provider_retries(
                model, self.deps.config.llm, self.builder, self.reporter, self.execution_id
            )
            servers = resolved.agent.spec.mcp_servers
            sandbox_config = self.deps.config.sandbox
            async with open_mcp_tools(
                servers,
                environment.values,
                host_servers_allowed=sandbox_config.type == "filesystem"
                or sandbox_config.host_mcp_servers,
            ) as mcp_tools:
                masking = [SecretMasking(self._redact)]
                tools = [tool for tools in mcp_tools.values() for tool in tools]
                agent = build_agent(
                    model=model,
                    agent=resolved.agent,
                    skills_section=sections.pop(MAIN_AGENT, ""),
                    sandbox=self.sandbox,
                    checkpointer=self.deps.checkpointer,
                    subagents=subagent_specs(resolved.agent, sections, mcp_tools, masking),
                    tools=tools,
                    middleware=[*masking, LiveCommandOutput(self._command_output)],
                )
                self._start_status(resolved)
                await self._stream(agent, model, {tool.name for tool in tools})
        except asyncio.CancelledError:
            superseded = _superseded_because()
            if superseded is not None:
                # Temporal has given the execution up (or to a newer attempt): its status
                # belongs to whoever holds it now; this attempt must not end it.
                self.reporter.fence(f"attempt {self.attempt} is no longer current ({superseded})")
            await self._end_cancelled()
            raise
        except ApplicationError as err:
            await self._end_failed(err.message)
            raise with_details(err, self._details()) from err.__cause__
        except BackendUnavailable as err:
            # Retryable: the backend is down, so there is no status to push either.
            raise ApplicationError(self.redact(str(err)), type="BackendUnavailable") from None
        except Exception as err:
            failure = describe_agent_failure(err, self.deps.config.llm)
            await self._end_failed(failure.message)
            raise ApplicationError(
                self.redact(failure.message),
                self._details(),
                type=failure.type,
                non_retryable=True,
            ) from None
        self.builder.complete()
        await self.reporter.finish(self.final_push_deadline)
        log.info("execution %s: completed", self.execution_id)
        return self.builder.snapshot()

    # -- steps --------------------------------------------------------------------

    def _waiting_for(self, holder: Holder) -> None:
        """Another execution runs in this conversation: this one waits, and says so."""
        note = (
            f"waiting: execution {holder.execution_id} is running in this conversation "
            f"(thread {self.thread_id}); this one starts when it ends"
        )
        log.info("execution %s: %s", self.execution_id, note)
        self.builder.status.phase = ax.EXECUTION_PENDING
        self.builder.status.messages.add(type=ax.MESSAGE_SYSTEM, content=note, timestamp=utc_now())
        self.reporter.changed(urgent=True)

    def _thread_lost(self) -> None:
        self.reporter.fence(
            f"attempt {self.attempt} no longer holds the conversation thread {self.thread_id} "
            "(a newer attempt took it over, or its lease ran out): it is no longer current"
        )
        # Stop the agent too, so that it writes no more checkpoints into a thread that
        # someone else now runs in, without waiting for Temporal to say so.
        if self._task is not None:
            self._task.cancel()

    def _merge_environment(self, resolved: ResolvedExecution) -> ExecutionEnvironment:
        environment = merge_environment(
            resolved.agent, resolved.environments, self.execution.spec.runtime_env
        )
        self.deps.secrets.register(self.execution_id, environment.secret_values)
        self.redact = Redactor(environment.secret_values)
        self.environment_warnings = environment.warnings()
        for warning in self.environment_warnings:
            log.warning("execution %s: %s", self.execution_id, warning)
        return environment

    async def _write_skills(
        self, resolved: ResolvedExecution, sandbox: OpenedSandbox
    ) -> dict[str, str]:
        """Write every skill; the prompt section of the agent and of each subagent."""
        if not resolved.skills:
            return {}
        writer = SkillWriter(sandbox=sandbox.backend, root_dir=sandbox.root_dir, mode=sandbox.mode)
        paths = await writer.write_skills(resolved.skills)
        agent = resolved.agent
        sections = {
            MAIN_AGENT: generate_prompt_section(skills_for(resolved, agent.spec.skill_refs), paths)
        }
        for sub_agent in agent.spec.sub_agents:
            own = skills_for(resolved, sub_agent.skill_refs)
            sections[sub_agent.name] = generate_prompt_section(own, paths)
        return sections

    def _start_status(self, resolved: ResolvedExecution) -> None:
        self.builder.start(self.execution.spec.message)
        for warning in [*resolved.warnings, *self.environment_warnings]:
            self.builder.status.messages.add(
                type=ax.MESSAGE_SYSTEM,
                content=self.redact(warning),
                timestamp=self.builder.status.started_at,
            )
        self.reporter.changed(urgent=True)

    async def _stream(self, agent: Any, model: Any, known_tools: set[str]) -> None:
        config = {"configurable": {"thread_id": self.thread_id}}
        graph_input = await self._input_or_resume(agent, model, config)
        started_at: dict[str, float] = {}
        metrics = self.deps.metrics
        async for event in graphton.stream_events(agent, graph_input, config):  # type: ignore[arg-type]
            # The agent's first words go at once (a watcher's time to first token);
            # everything after rides the staleness budget.
            self.reporter.changed(urgent=self.builder.apply(event))
            if isinstance(event, graphton.ToolStarted):
                started_at[event.call_id] = time.monotonic()
            elif isinstance(event, graphton.ToolFinished):
                outcome = "failed" if event.failed else "completed"
                tool = tool_label(event.name, known_tools)
                metrics.tool_calls.labels(tool=tool, outcome=outcome).inc()
                if event.name == "execute" and event.call_id in started_at:
                    metrics.command_seconds.observe(time.monotonic() - started_at[event.call_id])

    async def _input_or_resume(self, agent: Any, model: Any, config: Any) -> Any:
        """The user's message, or None to resume from the thread's last checkpoint when an
        earlier attempt of this execution (a worker that died) already got going.

        The user's message carries the execution id, which is how a retry finds it; the
        earlier attempt's part of the conversation is replayed into the status, so that
        nothing it did is reported twice.
        """
        state = await agent.aget_state(config)
        messages = list((state.values or {}).get("messages", []))
        start = next((i for i, m in enumerate(messages) if m.id == self.execution_id), None)
        if start is None:
            return {
                "messages": [
                    {
                        "role": "user",
                        # The conversation is checkpointed: a secret never enters it.
                        "content": self.redact(self.execution.spec.message),
                        "id": self.execution_id,
                    }
                ]
            }
        done = messages[start + 1 :]
        log.info(
            "execution %s: resuming attempt %s from its checkpoint (%s messages done)",
            self.execution_id,
            temporalio.activity.info().attempt,
            len(done),
        )
        for event in graphton.events_from_messages(done):
            self.builder.apply(event)
        if isinstance(model, graphton.ScriptedChatModel):
            model.skip(await turns_played(agent, config, self.execution_id))
        self.reporter.changed(urgent=True)
        return None

    # -- endings -------------------------------------------------------------------

    def _details(self) -> dict[str, Any]:
        return execution_details(
            self.execution_id, ax.ExecutionPhase.Name(self.builder.status.phase)
        )

    async def _end_failed(self, message: str) -> None:
        log.warning("execution %s: failed: %s", self.execution_id, self.redact(message))
        self.builder.fail(message)
        await self.reporter.finish(self.final_push_deadline)

    async def _end_cancelled(self) -> None:
        log.info("execution %s: cancelled", self.execution_id)
        if self.sandbox is not None:
            await self.sandbox.kill_running_commands()
        self.builder.cancel()
        await self.reporter.finish(self.final_push_deadline)


def _superseded_because() -> str | None:
    """Why this cancelled attempt no longer owns the execution, or None when the
    cancellation is a real one (the workflow asked, or the worker shuts down)."""
    details = temporalio.activity.cancellation_details()
    if details is None or details.cancel_requested or details.worker_shutdown:
        return None
    for reason, present in (
        ("its heartbeat was rejected: the activity timed out", details.timed_out),
        ("Temporal no longer knows this attempt", details.not_found),
        ("the activity was paused", details.paused),
        ("the activity was reset", details.reset),
    ):
        if present:
            return reason
    return None


def _final_push_deadline() -> float:
    timeout = temporalio.activity.info().start_to_close_timeout
    window = (
        timeout.total_seconds() - FINAL_PUSH_MARGIN_S
        if timeout is not None
        else DEFAULT_FINAL_PUSH_WINDOW_S
    )
    return time.monotonic() + max(window, 1.0)
