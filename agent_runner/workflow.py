"""The reference orchestrator workflow: what the platform's Java/Go workflow does, in Python.

On queue `agent_execution_stigmer`, id `stigmer/agent-execution/invoke/{execution_id}`:
EnsureThread, then ExecuteGraphton on the runner's queue with the contract's
timeouts. When an activity fails, the failure is recorded through the backend
(EXECUTION_FAILED with the error) by `RecordExecutionFailure`, an activity of
this workflow's own worker.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError

with workflow.unsafe.imports_passed_through():
    from agent_runner import wire
    from agent_runner.backend import BackendClient
    from agent_runner.clock import utc_now
    from agent_runner.status.closing import close_open
    from agent_runner.status.phases import FINAL_PHASES

ORCHESTRATOR_TASK_QUEUE = "agent_execution_stigmer"
RUNNER_TASK_QUEUE = "agent_execution_runner"
WORKFLOW_NAME = "InvokeAgentExecution"


def workflow_id(execution_id: str) -> str:
    return f"stigmer/agent-execution/invoke/{execution_id}"


@dataclass(frozen=True)
class ReferenceOptions:
    """What the platform's orchestrator fixes; settable here for tests and local runs."""

    runner_task_queue: str = RUNNER_TASK_QUEUE
    execute_attempts: int = 1
    execute_start_to_close_s: float = 600
    execute_schedule_to_start_s: float = 60
    heartbeat_timeout_s: float = 30


@workflow.defn(name=WORKFLOW_NAME)
class InvokeAgentExecution:
    @workflow.run
    async def run(
        self,
        execution: wire.agentexecution.AgentExecution,
        options: ReferenceOptions | None = None,
    ) -> wire.agentexecution.AgentExecutionStatus:
        options = options or ReferenceOptions()
        try:
            thread_id = await workflow.execute_activity(
                "EnsureThread",
                args=[execution.spec.session_id, execution.spec.agent_id],
                task_queue=options.runner_task_queue,
                start_to_close_timeout=timedelta(minutes=1),
                schedule_to_start_timeout=timedelta(seconds=options.execute_schedule_to_start_s),
                retry_policy=RetryPolicy(maximum_attempts=3),
                result_type=str,
            )
            status: wire.agentexecution.AgentExecutionStatus = await workflow.execute_activity(
                "ExecuteGraphton",
                args=[execution, thread_id],
                task_queue=options.runner_task_queue,
                start_to_close_timeout=timedelta(seconds=options.execute_start_to_close_s),
                schedule_to_start_timeout=timedelta(seconds=options.execute_schedule_to_start_s),
                heartbeat_timeout=timedelta(seconds=options.heartbeat_timeout_s),
                retry_policy=RetryPolicy(maximum_attempts=options.execute_attempts),
                cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
                result_type=wire.agentexecution.AgentExecutionStatus,
            )
            return status
        except ActivityError as err:
            if isinstance(err.cause, CancelledError):
                raise
            message = _failure_message(err)
            await workflow.execute_activity(
                "RecordExecutionFailure",
                args=[execution.metadata.id, message],
                start_to_close_timeout=timedelta(minutes=2),
            )
            raise ApplicationError(
                f"agent execution failed: {message}", non_retryable=True
            ) from err


def _failure_message(err: ActivityError) -> str:
    cause = err.cause
    while isinstance(cause, ActivityError) and cause.cause is not None:
        cause = cause.cause
    return cause.message if isinstance(cause, ApplicationError) else str(cause or err)


class RecordExecutionFailure:
    """Activity of the orchestrator's worker: mark the execution FAILED in the backend,
    unless the runner already ended it (it pushes CANCELLED or FAILED itself)."""

    def __init__(self, backend: BackendClient) -> None:
        self._backend = backend

    @activity.defn(name="RecordExecutionFailure")
    async def record(self, execution_id: str, error: str) -> None:
        current = await self._backend.get_execution(execution_id)
        if current.status.phase in FINAL_PHASES:
            return
        # The runner's last push may show calls still running (it died, or missed its
        # heartbeats): the failure ends them, as the runner's own final status would.
        status = current.status
        now = utc_now()
        close_open(status, wire.agentexecution.EXECUTION_FAILED, now)
        status.phase, status.error, status.completed_at = (
            wire.agentexecution.EXECUTION_FAILED,
            error,
            now,
        )
        await self._backend.update_execution_status(execution_id, status)
