"""Everything a Temporal worker needs to run the runner's activities, as one Temporal plugin.

`AgentRunnerPlugin(config)` brings the interop converter, the payload codecs
(`runner_codecs`) and the interceptors (tracing, the argument check). On a
client it sets them for the client and every worker built on it. Given
`activities`, it also adds the runner's activities, so the platform can run
them on a worker of its own with one line:

    Worker(client, task_queue="agent_execution_runner",
           plugins=[AgentRunnerPlugin(config, runner_activities(deps))])

The worker then uses the plugin's converter even when the client has another.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import temporalio.client
import temporalio.converter
import temporalio.worker
from temporalio.plugin import SimplePlugin

from agent_runner.activities.inputs import ArgumentCheck
from agent_runner.claimcheck import payload_codec
from agent_runner.config import Config
from agent_runner.converter import interop_data_converter
from agent_runner.observability import tracing_interceptors

PLUGIN_NAME = "agent-runner"


def runner_codecs(config: Config) -> temporalio.converter.PayloadCodec | None:
    """The payload codec chain of `config`: encryption when `TEMPORAL_PAYLOAD_KEY` is
    set, then the claim check when it is on (see `claimcheck.payload_codec`)."""
    return payload_codec(config)


def runner_data_converter(config: Config) -> temporalio.converter.DataConverter:
    return interop_data_converter(runner_codecs(config))


class AgentRunnerPlugin(SimplePlugin):
    def __init__(
        self, config: Config, activities: Sequence[Callable[..., Any]] | None = None
    ) -> None:
        self.data_converter_in_use = runner_data_converter(config)
        interceptors: list[temporalio.client.Interceptor | temporalio.worker.Interceptor] = [
            *tracing_interceptors(config.otlp_endpoint),  # type: ignore[list-item]
            ArgumentCheck(),
        ]
        super().__init__(
            PLUGIN_NAME,
            data_converter=self.data_converter_in_use,
            interceptors=interceptors,
            activities=activities,
        )

    def configure_worker(
        self, config: temporalio.worker.WorkerConfig
    ) -> temporalio.worker.WorkerConfig:
        config = super().configure_worker(config)
        client = config.get("client")
        if client is not None and client.data_converter is not self.data_converter_in_use:
            # A worker decodes with its client's converter: give it a client that has ours.
            client_config = client.config()
            client_config["data_converter"] = self.data_converter_in_use
            config["client"] = temporalio.client.Client(**client_config)
        return config
