"""The local daemon, through the runner's own clients, over real gRPC on loopback."""

from __future__ import annotations

import asyncio
import hashlib
import io
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from agent_runner import wire
from agent_runner.backend import BackendAuthError, BackendClient, ResourceNotFound
from agent_runner.local.daemon import DaemonSettings, LocalDaemon
from agent_runner.local.manifests import Catalog, ManifestError, load_catalog
from tests.backend.conftest import TOKEN, ClientFactory
from tests.conftest import REPO_ROOT
from tests.helpers import async_wait_until

pytestmark = pytest.mark.anyio

ax = wire.agentexecution
Reference = wire.apiresource.ApiResourceReference


async def new_execution(client: BackendClient, agent_id: str = "demo") -> ax.AgentExecution:
    session = await client.create_session(
        wire.session.Session(spec=wire.session.SessionSpec(agent_instance_id="demo"))
    )
    execution = ax.AgentExecution(
        spec=ax.AgentExecutionSpec(session_id=session.metadata.id, message="hello")
    )
    return await client.create_execution(execution)


def status(**fields: object) -> ax.AgentExecutionStatus:
    return ax.AgentExecutionStatus(**fields)  # type: ignore[arg-type]


# -- resources of the example set -----------------------------------------------


async def test_agents_and_instances_of_the_example_set(client: BackendClient) -> None:
    agent = await client.get_agent("demo")
    assert agent.spec.instructions.startswith("You are a careful workspace analyst")
    assert [ref.slug for ref in agent.spec.skill_refs] == ["repo-stats", "todo-scan"]
    assert agent.spec.env_spec.data["REPORT_TITLE"].value == "Workspace report"
    assert agent.status.default_instance_id == "demo"
    by_reference = await client.get_agent_by_reference(Reference(slug="data-analyst"))
    assert by_reference.metadata.id == "data-analyst"
    assert by_reference.status.default_instance_id == "data-analyst-default"
    instance = await client.get_agent_instance("demo")
    assert instance.spec.agent_id == "demo"
    assert [ref.slug for ref in instance.spec.environment_refs] == ["local-dev"]
    default = await client.get_agent_instance("data-analyst-default")
    assert default.spec.agent_id == "data-analyst"


async def test_environments_by_id_and_reference(client: BackendClient) -> None:
    environment = await client.get_environment("local-dev")
    assert environment.spec.data["WORKSPACE_OWNER"].value == "local developer"
    same = await client.get_environment_by_reference(Reference(slug="local-dev"))
    assert same == environment


async def test_skills_come_from_the_skills_folder_with_their_artifact(
    client: BackendClient,
) -> None:
    skill = await client.get_skill("repo-stats")
    expected_md = (REPO_ROOT / "skills" / "repo-stats" / "SKILL.md").read_text()
    assert skill.spec.skill_md == expected_md
    assert skill.status.state == wire.skill.SKILL_STATE_READY
    assert await client.get_skill_by_reference(Reference(slug="repo-stats")) == skill
    artifact = await client.get_skill_artifact(skill.status.artifact_storage_key)
    assert hashlib.sha256(artifact).hexdigest() == skill.status.version_hash
    with zipfile.ZipFile(io.BytesIO(artifact)) as archive:
        names = archive.namelist()
        script_mode = archive.getinfo("scripts/stats.py").external_attr >> 16
    assert names == ["SKILL.md", "scripts/stats.py"]
    assert script_mode & stat.S_IXUSR


def test_skill_artifacts_are_byte_for_byte_reproducible() -> None:
    first = load_catalog(None, REPO_ROOT / "skills")
    second = load_catalog(None, REPO_ROOT / "skills")
    assert first.artifacts == second.artifacts


# -- sessions and executions ------------------------------------------------------


async def test_sessions_are_created_read_and_updated(client: BackendClient) -> None:
    created = await client.create_session(
        wire.session.Session(spec=wire.session.SessionSpec(agent_instance_id="demo"))
    )
    assert created.metadata.id.startswith("ses-")
    created.spec.thread_id = "thread-1"
    created.spec.sandbox_id = "sandbox-9"
    await client.update_session(created)
    stored = await client.get_session(created.metadata.id)
    assert (stored.spec.thread_id, stored.spec.sandbox_id) == ("thread-1", "sandbox-9")


async def test_executions_are_created_pending_and_read_back(client: BackendClient) -> None:
    execution = await new_execution(client)
    assert execution.metadata.id.startswith("aex-")
    assert execution.status.phase == ax.EXECUTION_PENDING
    assert execution.spec.agent_id == "demo"
    assert await client.get_execution(execution.metadata.id) == execution


async def test_execution_without_session_gets_one_on_the_agents_default_instance(
    client: BackendClient,
) -> None:
    execution = await client.create_execution(
        ax.AgentExecution(spec=ax.AgentExecutionSpec(agent_id="data-analyst", message="hi"))
    )
    session = await client.get_session(execution.spec.session_id)
    assert session.spec.agent_instance_id == "data-analyst-default"


async def test_update_status_merges_like_the_platform(client: BackendClient) -> None:
    execution_id = (await new_execution(client)).metadata.id
    human = ax.AgentMessage(type=ax.MESSAGE_HUMAN, content="hello")
    call = ax.ToolCall(id="c1", name="execute", status=ax.TOOL_CALL_RUNNING)
    await client.update_execution_status(
        execution_id,
        status(
            phase=ax.EXECUTION_IN_PROGRESS,
            messages=[human],
            tool_calls=[call],
            started_at="2026-11-21T10:00:00Z",
            todos={"t1": ax.TodoItem(id="t1", content="plan", status=ax.TODO_PENDING)},
        ),
    )
    # Empty lists, an UNSPECIFIED phase and empty strings change nothing.
    merged = await client.update_execution_status(execution_id, status(error=""))
    assert merged.status.phase == ax.EXECUTION_IN_PROGRESS
    assert list(merged.status.messages) == [human]
    assert list(merged.status.tool_calls) == [call]
    assert merged.status.started_at == "2026-11-21T10:00:00Z"
    assert set(merged.status.todos) == {"t1"}
    # Non-empty lists replace the stored ones as a whole.
    done = ax.ToolCall(id="c1", name="execute", status=ax.TOOL_CALL_COMPLETED)
    merged = await client.update_execution_status(
        execution_id, status(tool_calls=[done], completed_at="2026-11-21T10:01:00Z")
    )
    assert list(merged.status.tool_calls) == [done]
    assert list(merged.status.messages) == [human]
    assert merged.status.completed_at == "2026-11-21T10:01:00Z"
    assert (await client.get_execution(execution_id)).status == merged.status


async def test_subscribe_sees_every_update_in_order_and_ends_at_a_final_phase(
    client: BackendClient, daemon: LocalDaemon, make_client: ClientFactory
) -> None:
    execution_id = (await new_execution(client)).metadata.id
    second_client = make_client(daemon.port)

    seen: list[list[tuple[int, str]]] = [[], []]

    async def watch(watcher: BackendClient, into: list[tuple[int, str]]) -> list[tuple[int, str]]:
        async for e in watcher.subscribe_execution(execution_id):
            into.append((e.status.phase, e.status.error))
        return into

    watchers = [
        asyncio.create_task(watch(client, seen[0])),
        asyncio.create_task(watch(second_client, seen[1])),
    ]
    # a stream's first message (the current status) comes after it has registered
    await async_wait_until(lambda: all(seen), within=10, what="both subscriptions")
    for step in range(3):
        await client.update_execution_status(
            execution_id, status(phase=ax.EXECUTION_IN_PROGRESS, error=f"step {step}")
        )
    await client.update_execution_status(execution_id, status(phase=ax.EXECUTION_COMPLETED))
    first, second = await asyncio.wait_for(asyncio.gather(*watchers), 10)
    assert first == second
    assert first == [
        (ax.EXECUTION_PENDING, ""),
        (ax.EXECUTION_IN_PROGRESS, "step 0"),
        (ax.EXECUTION_IN_PROGRESS, "step 1"),
        (ax.EXECUTION_IN_PROGRESS, "step 2"),
        (ax.EXECUTION_COMPLETED, "step 2"),
    ]


async def test_subscribing_to_a_finished_execution_sends_it_once_and_ends(
    client: BackendClient,
) -> None:
    execution_id = (await new_execution(client)).metadata.id
    await client.update_execution_status(execution_id, status(phase=ax.EXECUTION_FAILED))
    seen = [e.status.phase async for e in client.subscribe_execution(execution_id)]
    assert seen == [ax.EXECUTION_FAILED]


# -- errors ---------------------------------------------------------------------------


@pytest.mark.parametrize("token", ["", "wrong-token"])
async def test_calls_without_the_right_token_are_unauthenticated(
    daemon: LocalDaemon, client: BackendClient, make_client: ClientFactory, token: str
) -> None:
    execution_id = (await new_execution(client)).metadata.id
    intruder = make_client(daemon.port, token=token)
    with pytest.raises(BackendAuthError, match="STIGMER_API_KEY"):
        await intruder.get_agent("demo")
    with pytest.raises(BackendAuthError):
        await intruder.update_execution_status(execution_id, status(error="x"))
    with pytest.raises(BackendAuthError):
        async for _ in intruder.subscribe_execution(execution_id):
            pass
    assert (await client.get_execution(execution_id)).status.error == ""


async def test_health_is_serving_and_needs_no_token(daemon: LocalDaemon) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{daemon.port}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        response = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
    assert response.status == health_pb2.HealthCheckResponse.SERVING


@pytest.mark.parametrize(
    ("call", "kind", "key"),
    [
        (lambda c: c.get_session("ses-missing"), "session", "ses-missing"),
        (lambda c: c.get_agent("nobody"), "agent", "nobody"),
        (lambda c: c.get_agent_instance("nothing"), "agent instance", "nothing"),
        (lambda c: c.get_skill("unknown-skill"), "skill", "unknown-skill"),
        (lambda c: c.get_skill_artifact("skills/x.zip"), "skill artifact", "skills/x.zip"),
        (lambda c: c.get_environment("env-x"), "environment", "env-x"),
        (lambda c: c.get_execution("aex-missing"), "agent execution", "aex-missing"),
    ],
)
async def test_not_found_is_resource_not_found_naming_kind_and_id(
    client: BackendClient, call: object, kind: str, key: str
) -> None:
    with pytest.raises(ResourceNotFound) as caught:
        await call(client)  # type: ignore[operator]
    assert (caught.value.kind, caught.value.resource_id) == (kind, key)
    assert key in str(caught.value)


# -- durability and robustness --------------------------------------------------------


async def test_sessions_and_statuses_survive_a_restart(
    daemon_settings: DaemonSettings, catalog: Catalog, make_client: ClientFactory
) -> None:
    async with LocalDaemon(daemon_settings, catalog) as first:
        client = make_client(first.port)
        execution = await new_execution(client)
        await client.update_execution_status(
            execution.metadata.id,
            status(phase=ax.EXECUTION_COMPLETED, messages=[ax.AgentMessage(content="kept")]),
        )
    async with LocalDaemon(daemon_settings, catalog) as second:
        client = make_client(second.port)
        stored = await client.get_execution(execution.metadata.id)
        assert stored.status.phase == ax.EXECUTION_COMPLETED
        assert [m.content for m in stored.status.messages] == ["kept"]
        assert (await client.get_session(execution.spec.session_id)).spec.agent_instance_id


async def test_a_burst_of_updates_and_a_vanishing_subscriber_do_not_hurt_it(
    client: BackendClient, daemon: LocalDaemon, make_client: ClientFactory
) -> None:
    execution_id = (await new_execution(client)).metadata.id
    leaver = make_client(daemon.port)
    stream = leaver.subscribe_execution(execution_id)
    assert (await anext(stream)).metadata.id == execution_id
    await leaver.close()  # disconnects mid-stream

    results = await asyncio.gather(
        *(
            client.update_execution_status(
                execution_id, status(phase=ax.EXECUTION_IN_PROGRESS, error=f"update {n}")
            )
            for n in range(1000)
        )
    )
    assert len(results) == 1000
    stored = await client.get_execution(execution_id)
    assert stored.status.error.startswith("update ")
    assert stored.status.phase == ax.EXECUTION_IN_PROGRESS


async def test_a_malformed_message_is_refused_and_changes_nothing(
    client: BackendClient, daemon: LocalDaemon
) -> None:
    execution_id = (await new_execution(client)).metadata.id
    async with grpc.aio.insecure_channel(f"127.0.0.1:{daemon.port}") as channel:
        raw = channel.unary_unary(
            "/ai.stigmer.agentic.agentexecution.v1.AgentExecutionCommandController/updateStatus",
            request_serializer=lambda b: b,
            response_deserializer=lambda b: b,
        )
        with pytest.raises(grpc.aio.AioRpcError):
            await raw(b"\xff\xff\xff garbage", metadata=(("authorization", f"Bearer {TOKEN}"),))
    stored = await client.get_execution(execution_id)
    assert stored.status.phase == ax.EXECUTION_PENDING


async def test_session_on_an_unknown_instance_is_refused(client: BackendClient) -> None:
    with pytest.raises(Exception, match="no agent instance 'ghost'"):
        await client.create_session(
            wire.session.Session(spec=wire.session.SessionSpec(agent_instance_id="ghost"))
        )


# -- manifests ------------------------------------------------------------------------


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def test_bad_manifests_are_reported_one_line_each_with_file_and_field(tmp_path: Path) -> None:
    resources = tmp_path / "resources"
    bad_kind = write(resources, "a.yaml", "kind: Robot\nmetadata: {slug: r}\n")
    no_instructions = write(resources, "b.yaml", "kind: Agent\nmetadata: {slug: quiet}\nspec: {}\n")
    unknown_field = write(
        resources, "c.yaml", "kind: Agent\nmetadata: {slug: typo}\nspec: {instructons: x}\n"
    )
    missing_skill = write(
        resources,
        "d.yaml",
        "kind: Agent\nmetadata: {slug: needy}\n"
        "spec: {instructions: x, skillRefs: [{slug: nope}]}\n",
    )
    dangling = write(
        resources, "e.yaml", "kind: AgentInstance\nmetadata: {slug: lost}\nspec: {agentId: ghost}\n"
    )
    bad_slug = write(resources, "f.yaml", "kind: Environment\nmetadata: {slug: Bad_Slug}\n")
    with pytest.raises(ManifestError) as caught:
        load_catalog(resources, None)
    problems = caught.value.problems
    # file:line: field as the user wrote it (lowerCamelCase): what is wrong
    assert (
        f"{bad_kind}:1: kind: 'Robot' is not a kind; one of Agent, AgentInstance, Environment"
        in (problems)
    )
    assert f"{no_instructions}:3: spec.instructions: an agent needs instructions" in problems
    assert (
        f"{unknown_field}:3: spec.instructons: unknown field; did you mean 'instructions'?"
        in problems
    )
    assert f"{unknown_field}:3: spec.instructions: an agent needs instructions" in problems
    assert any(
        p.startswith(f"{missing_skill}:3: spec.skillRefs[0].slug: no skill 'nope'")
        for p in problems
    )
    assert f"{dangling}:3: spec.agentId: no agent 'ghost'" in problems
    assert any(p.startswith(f"{bad_slug}:2: metadata.slug:") for p in problems)
    assert len(problems) == 7


def test_the_daemon_command_stops_on_a_bad_manifest_naming_file_and_field(tmp_path: Path) -> None:
    resources = tmp_path / "resources"
    bad = write(resources, "broken.yaml", "kind: Agent\nmetadata: {slug: x}\nspec: {}\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "agent_runner",
            "daemon",
            "--resources",
            str(resources),
            "--listen",
            "127.0.0.1:0",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"agent-runner: resources: {bad}:3: spec.instructions: an agent needs instructions"
    )
