"""The interop converter accepts payloads the way the Java SDK builds them."""

from __future__ import annotations

import json

import pytest
from temporalio.api.common.v1 import Payload

from agent_runner import wire
from agent_runner.converter import PayloadDecodeError, interop_data_converter

AgentExecution = wire.agentexecution.AgentExecution
AgentExecutionStatus = wire.agentexecution.AgentExecutionStatus


def java_payload(document: dict[str, object], message_type: str | None) -> Payload:
    """Java's ProtobufJsonPayloadConverter: JsonFormat.printer() output, pretty-printed."""
    metadata = {"encoding": b"json/protobuf"}
    if message_type is not None:
        metadata["messageType"] = message_type.encode()
    return Payload(metadata=metadata, data=json.dumps(document, indent=2).encode())


EXECUTION_JSON = {
    "apiVersion": "agentic.stigmer.ai/v1",
    "kind": "AgentExecution",
    "metadata": {"id": "aex-1", "ownerScope": "organization"},
    "spec": {
        "sessionId": "ses-1",
        "agentId": "agt-1",
        "message": "hello",
        "executionConfig": {"modelName": "claude-sonnet-4-5"},
        "runtimeEnv": {"TOKEN": {"value": "s3cret", "isSecret": True}},
    },
    "status": {"phase": "EXECUTION_PENDING"},
}


async def decode_args(*payloads: Payload, hints: list[type]) -> list[object]:
    return await interop_data_converter().decode(list(payloads), type_hints=hints)


@pytest.mark.anyio
@pytest.mark.parametrize(
    "message_type", ["ai.stigmer.agentic.agentexecution.v1.AgentExecution", None]
)
async def test_decodes_java_pretty_json_by_declared_type(message_type: str | None) -> None:
    thread = Payload(metadata={"encoding": b"json/plain"}, data=b'"thread-7"')
    execution, thread_id = await decode_args(
        java_payload(EXECUTION_JSON, message_type), thread, hints=[AgentExecution, str]
    )
    assert isinstance(execution, AgentExecution)
    assert execution.spec.session_id == "ses-1"
    assert execution.spec.runtime_env["TOKEN"].is_secret is True
    assert execution.status.phase == wire.agentexecution.EXECUTION_PENDING
    assert execution.metadata.owner_scope == wire.apiresource.organization
    assert thread_id == "thread-7"


@pytest.mark.anyio
async def test_ignores_unknown_fields_at_every_depth() -> None:
    newer = json.loads(json.dumps(EXECUTION_JSON))
    newer["fieldFromTheFuture"] = {"x": 1}
    newer["spec"]["anotherNewField"] = "ignored"
    [execution] = await decode_args(
        java_payload(newer, "ai.stigmer.agentic.agentexecution.v1.AgentExecution"),
        hints=[AgentExecution],
    )
    assert isinstance(execution, AgentExecution)
    assert execution.spec.message == "hello"


@pytest.mark.anyio
async def test_accepts_enums_by_name_and_integers_as_strings() -> None:
    agent_json = {
        "metadata": {"id": "agt-1", "ownerScope": "platform"},
        "spec": {
            "mcpServers": [{"name": "web", "http": {"url": "http://x", "timeoutSeconds": "30"}}],
            "skillRefs": [{"kind": "skill", "slug": "git"}],
        },
        "status": {"audit": {"specAudit": {"createdAt": "2026-01-01T01:08:43.794Z"}}},
    }
    [agent] = await decode_args(
        java_payload(agent_json, "ai.stigmer.agentic.agent.v1.Agent"),
        hints=[wire.agent.Agent],
    )
    assert isinstance(agent, wire.agent.Agent)
    assert agent.spec.mcp_servers[0].http.timeout_seconds == 30
    assert agent.spec.skill_refs[0].kind == wire.apiresourcekind.skill
    assert agent.status.audit.spec_audit.created_at.seconds > 0


@pytest.mark.anyio
async def test_decodes_by_message_type_when_no_type_is_declared() -> None:
    [execution] = await decode_args(
        java_payload(EXECUTION_JSON, "ai.stigmer.agentic.agentexecution.v1.AgentExecution"),
        hints=[object],
    )
    assert isinstance(execution, AgentExecution)


@pytest.mark.anyio
async def test_without_message_type_or_declared_type_the_error_says_so() -> None:
    with pytest.raises(PayloadDecodeError, match="no messageType"):
        await interop_data_converter().decode([java_payload(EXECUTION_JSON, None)])


@pytest.mark.anyio
async def test_unknown_message_type_is_named() -> None:
    with pytest.raises(PayloadDecodeError, match=r"com\.example\.Nope"):
        await interop_data_converter().decode([java_payload(EXECUTION_JSON, "com.example.Nope")])


@pytest.mark.anyio
async def test_malformed_json_names_the_expected_message() -> None:
    broken = Payload(metadata={"encoding": b"json/protobuf"}, data=b'{"spec": {"sessionId": 5')
    with pytest.raises(PayloadDecodeError, match="AgentExecution"):
        await decode_args(broken, hints=[AgentExecution])


@pytest.mark.anyio
async def test_encodes_with_message_type_and_compact_camel_case_json() -> None:
    status = AgentExecutionStatus(
        phase=wire.agentexecution.EXECUTION_COMPLETED, started_at="2026-11-21T10:00:00Z"
    )
    [payload] = await interop_data_converter().encode([status])
    assert payload.metadata["encoding"] == b"json/protobuf"
    assert (
        payload.metadata["messageType"]
        == b"ai.stigmer.agentic.agentexecution.v1.AgentExecutionStatus"
    )
    assert json.loads(payload.data) == {
        "phase": "EXECUTION_COMPLETED",
        "startedAt": "2026-11-21T10:00:00Z",
    }
    [decoded] = await decode_args(payload, hints=[AgentExecutionStatus])
    assert decoded == status


@pytest.mark.anyio
async def test_strings_travel_as_json_plain() -> None:
    [payload] = await interop_data_converter().encode(["thread-1"])
    assert payload.metadata["encoding"] == b"json/plain"
    assert payload.data == b'"thread-1"'


def typescript_plain(document: object) -> Payload:
    """The TypeScript SDK's default converter for an object: `json/plain`, compact, no
    messageType (a client without a protobuf converter sends a message this way)."""
    return Payload(
        metadata={"encoding": b"json/plain"},
        data=json.dumps(document, separators=(",", ":")).encode(),
    )


@pytest.mark.anyio
async def test_proto3_json_sent_as_json_plain_decodes_by_declared_type() -> None:
    execution, thread_id = await decode_args(
        typescript_plain(EXECUTION_JSON), typescript_plain("thread-ts"), hints=[AgentExecution, str]
    )
    assert isinstance(execution, AgentExecution)
    assert execution.spec.runtime_env["TOKEN"].is_secret is True
    assert execution.status.phase == wire.agentexecution.EXECUTION_PENDING
    assert thread_id == "thread-ts"


@pytest.mark.anyio
async def test_json_plain_that_is_not_the_declared_message_names_it() -> None:
    with pytest.raises(PayloadDecodeError, match="AgentExecution"):
        await decode_args(typescript_plain({"spec": {"message": 5}}), hints=[AgentExecution])


@pytest.mark.anyio
async def test_json_plain_without_a_message_type_still_decodes_plain_values() -> None:
    [document] = await decode_args(typescript_plain({"a": [1, 2]}), hints=[dict])
    assert document == {"a": [1, 2]}


@pytest.mark.anyio
async def test_a_message_type_contradicting_the_declared_type_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    wrong = "ai.stigmer.agentic.agentexecution.v1.AgentExecutionStatus"
    with caplog.at_level("WARNING", logger="agent_runner.converter"):
        [execution] = await decode_args(java_payload(EXECUTION_JSON, wrong), hints=[AgentExecution])
    assert isinstance(execution, AgentExecution)
    [record] = caplog.records
    assert wrong in record.getMessage()
    assert "declares ai.stigmer.agentic.agentexecution.v1.AgentExecution:" in record.getMessage()
