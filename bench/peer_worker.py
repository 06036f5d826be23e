"""The peer's worker: temporalio-deepagents used as its README shows, in a process of its own.

`python -m bench.peer_worker ADDRESS QUEUE [--stream]` polls QUEUE with the
workflow `PeerAgent` and the plugin's activities until killed, and prints
`polling` once it does. The agent loop runs in the workflow; each model call and
each `execute` is an activity. The model is graphton's scripted model (the script
named by the workflow's argument) and the backend is graphton's FilesystemBackend,
so that both sides run the same model and the same tools.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.client import Client
from temporalio.contrib.workflow_streams import WorkflowStream
from temporalio.worker import Worker

with workflow.unsafe.imports_passed_through():
    from deepagents.backends.protocol import ExecuteResponse
    from temporalio.deepagents import (
        DeepAgentsPlugin,
        TemporalBackend,
        create_temporal_deep_agent,
    )

    import graphton

STREAM_TOPIC = "agent-stream"
HEARTBEAT_TIMEOUT = timedelta(seconds=5)
"""How soon a dead worker's activity is noticed: the same as ours in the resume case."""


class ConversationScriptedModel(graphton.ScriptedChatModel):
    """The scripted model, at the turn the conversation has reached.

    The plugin builds a fresh model for every model activity, so the turn is
    found from the conversation (one per AI message so far) instead of a cursor.
    """

    def _generate(self, messages: Any, *args: Any, **kwargs: Any) -> Any:
        self._catch_up(messages)
        return super()._generate(messages, *args, **kwargs)

    async def _astream(self, messages: Any, *args: Any, **kwargs: Any) -> Any:
        self._catch_up(messages)
        async for chunk in super()._astream(messages, *args, **kwargs):
            yield chunk

    def _catch_up(self, messages: Any) -> None:
        self.skip(sum(1 for m in messages if m.type == "ai") - self.turns_played)


class PeerSandbox(graphton.FilesystemBackend):
    """graphton's FilesystemBackend, its command results handed over as deepagents' own
    `ExecuteResponse`: the peer rebuilds only deepagents' types after an activity, and our
    `ExecutionResult` (a subclass) would reach the agent as a plain dict."""

    # The signature is deepagents' own: the time limit is the backend's, in seconds. The
    # return type narrows ours back to deepagents' on purpose (see the class's docstring).
    async def aexecute(  # type: ignore[override]
        self,
        command: str,
        *,
        timeout: int | None = None,  # noqa: ASYNC109
    ) -> ExecuteResponse:
        result = await super().aexecute(command, timeout=timeout)
        return ExecuteResponse(
            output=result.output, exit_code=result.exit_code, truncated=result.truncated
        )


def model_provider(name: str) -> ConversationScriptedModel:
    script = graphton.Script.from_yaml(name.removeprefix("scripted:"))
    return ConversationScriptedModel(script=script, chunk_delay_s=script.chunk_delay_s)


@workflow.defn(name="PeerAgent")
class PeerAgent:
    @workflow.init
    def __init__(self, script: str, root: str, stream: bool = False) -> None:
        self.stream = WorkflowStream()

    @workflow.run
    async def run(self, script: str, root: str, stream: bool = False) -> int:
        options: dict[str, Any] = {
            "start_to_close_timeout": timedelta(minutes=5),
            "heartbeat_timeout": HEARTBEAT_TIMEOUT,
        }
        backend = TemporalBackend(
            "sandbox",
            factory_argument=root,
            backend_type=PeerSandbox,
            activity_options=options,  # type: ignore[arg-type]
        )
        agent = create_temporal_deep_agent(
            model=f"scripted:{script}",
            system_prompt="bench",
            backend=backend,
            activity_options=options,
        )
        request = {"messages": [{"role": "user", "content": "go"}]}
        if stream:
            # The model streams (through the plugin's streaming activity, which publishes
            # to the topic) only when the graph is consumed as a stream of messages.
            chunks = 0
            async for _ in agent.astream(request, stream_mode="messages"):
                chunks += 1
            return chunks
        result = await agent.ainvoke(request)
        return len(result["messages"])


async def main(address: str, queue: str, stream: bool) -> None:
    plugin = DeepAgentsPlugin(
        model_provider=model_provider,
        backends={"sandbox": lambda root: PeerSandbox(root)},
        streaming_topic=STREAM_TOPIC if stream else None,
        passthrough_modules=["graphton", "bench"],
    )
    client = await Client.connect(address, plugins=[plugin])
    async with Worker(
        client, task_queue=queue, workflows=[PeerAgent], max_concurrent_activities=50
    ):
        print("polling", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], "--stream" in sys.argv[3:]))
