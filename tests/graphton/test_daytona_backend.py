"""DaytonaBackend: the real `daytona` SDK against the local Daytona-API server."""

from __future__ import annotations

import asyncio
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import graphton
from agent_runner import wire
from agent_runner.skills import ResolvedSkill, SkillWriter
from tests.daytona_api import DAYTONA_TEST_KEY, FakeDaytona
from tests.helpers import async_wait_until, process_gone

pytestmark = pytest.mark.anyio

API_KEY = DAYTONA_TEST_KEY


@pytest.fixture
async def sandbox(
    daytona_cloud: FakeDaytona, tmp_path: Path
) -> AsyncIterator[graphton.DaytonaBackend]:
    backend = graphton.DaytonaBackend(
        api_key=API_KEY,
        api_url=daytona_cloud.url,
        snapshot_id="dev-tools",
        env={"TEAM": "platform"},
        root_dir=str(tmp_path / "home"),
    )
    await backend.start()
    yield backend
    await backend.close()


async def test_create_runs_commands_in_its_folder_with_its_env(
    sandbox: graphton.DaytonaBackend, daytona_cloud: FakeDaytona, tmp_path: Path
) -> None:
    assert sandbox.created
    assert daytona_cloud.sandboxes[sandbox.id].snapshot == "dev-tools"
    result = await sandbox.aexecute("pwd; echo $TEAM; exit 3")
    assert isinstance(result, graphton.ExecutionResult)
    assert result.exit_code == 3
    assert result.stdout == f"{tmp_path / 'home'}\nplatform\n"


async def test_attach_by_id_reaches_the_same_sandbox(
    sandbox: graphton.DaytonaBackend, daytona_cloud: FakeDaytona
) -> None:
    attached = graphton.create_sandbox_backend(
        {
            "type": "daytona",
            "sandbox_id": sandbox.id,
            "api_key": API_KEY,
            "api_url": daytona_cloud.url,
        }
    )
    assert isinstance(attached, graphton.DaytonaBackend)
    await attached.start()
    assert not attached.created and attached.id == sandbox.id
    assert [m for m, p in daytona_cloud.requests if p == f"/sandbox/{sandbox.id}"] == ["GET"]
    await attached.close()


async def test_files_go_up_and_come_back_in_one_batch_each(
    sandbox: graphton.DaytonaBackend, daytona_cloud: FakeDaytona, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    uploaded = await sandbox.aupload_files(
        [(f"{home}/a.txt", b"alpha"), (f"{home}/sub/b.bin", b"\x00\x01")]
    )
    assert [r.error for r in uploaded] == [None, None]
    assert (home / "sub" / "b.bin").read_bytes() == b"\x00\x01"
    downloaded = await sandbox.adownload_files([f"{home}/a.txt", f"{home}/missing.txt"])
    assert (downloaded[0].content, downloaded[0].error) == (b"alpha", None)
    assert downloaded[1].error == "file_not_found"
    assert [p for _, p in daytona_cloud.requests].count(
        f"/toolbox/{sandbox.id}/files/bulk-upload"
    ) == 1


async def test_deepagents_file_tools_work_through_the_sandbox(
    sandbox: graphton.DaytonaBackend, tmp_path: Path
) -> None:
    path = f"{tmp_path}/home/notes.md"
    assert (await sandbox.awrite(path, "one\ntwo\n")).error is None
    read = await sandbox.aread(path)
    assert read.file_data is not None and "two" in read.file_data["content"]
    assert (await sandbox.aedit(path, "two", "three")).error is None
    assert Path(path).read_text() == "one\nthree\n"


async def test_blocking_methods_work_from_other_threads(sandbox: graphton.DaytonaBackend) -> None:
    result = await asyncio.to_thread(sandbox.execute, "echo from a thread")
    assert result.stdout == "from a thread\n"
    with pytest.raises(graphton.SandboxError, match="use the async method"):
        sandbox.execute("echo on the loop")


async def test_cancelling_a_command_kills_it_and_what_it_started_in_the_sandbox(
    sandbox: graphton.DaytonaBackend, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    pid_files = [home / "shell.pid", home / "child.pid"]
    command = asyncio.create_task(
        sandbox.aexecute("sleep 600 & echo $! > child.pid; echo $$ > shell.pid; wait")
    )
    await async_wait_until(
        lambda: all(f.exists() and f.read_text().strip() for f in pid_files),
        within=30,
        what="the command to start",
    )
    pids = [int(f.read_text()) for f in pid_files]
    command.cancel()
    with pytest.raises(asyncio.CancelledError):
        await command
    await async_wait_until(
        lambda: all(process_gone(pid) for pid in pids), within=10, what="both to die"
    )
    assert list((home / ".agent-runner" / "commands").iterdir()) == []
    assert await sandbox.akill_all() == 0  # nothing left under way


async def test_a_finished_command_leaves_no_pid_file_and_its_exit_code(
    sandbox: graphton.DaytonaBackend, tmp_path: Path
) -> None:
    result = await sandbox.aexecute("echo 'quoted $HOME'; exit 3")
    assert (result.exit_code, result.stdout) == (3, "quoted $HOME\n")
    assert list((tmp_path / "home" / ".agent-runner" / "commands").iterdir()) == []


async def test_api_errors_become_results_or_clear_errors(
    sandbox: graphton.DaytonaBackend, daytona_cloud: FakeDaytona
) -> None:
    daytona_cloud.fail_next["/process/execute"] = (500, "runner unavailable")
    failed = await sandbox.aexecute("echo hi")
    assert failed.exit_code == 125
    assert "could not run the command" in failed.stderr and "runner unavailable" in failed.stderr
    daytona_cloud.fail_next["/files/bulk-upload"] = (507, "disk full")
    [upload] = await sandbox.aupload_files([("/tmp/x", b"x")])
    assert upload.error is not None and "disk full" in upload.error


async def test_a_wrong_key_and_a_missing_sandbox_are_named(daytona_cloud: FakeDaytona) -> None:
    wrong = graphton.DaytonaBackend(api_key="not-the-key", api_url=daytona_cloud.url)
    with pytest.raises(graphton.SandboxError, match="DAYTONA_API_KEY"):
        await wrong.start()
    await wrong.close()
    gone = graphton.DaytonaBackend(
        api_key=API_KEY, api_url=daytona_cloud.url, sandbox_id="sbx-nope"
    )
    with pytest.raises(graphton.SandboxError, match="'sbx-nope' was not found"):
        await gone.start()
    await gone.close()


async def test_delete_then_delete_again_is_fine(
    sandbox: graphton.DaytonaBackend, daytona_cloud: FakeDaytona
) -> None:
    assert await sandbox.delete_sandbox() is True
    assert daytona_cloud.sandboxes[sandbox.id].state == "destroyed"
    again = graphton.DaytonaBackend(
        api_key=API_KEY, api_url=daytona_cloud.url, sandbox_id=sandbox.id
    )
    assert await again.delete_sandbox() is False
    await again.close()


async def test_skill_writer_uploads_skills_in_one_batch(
    sandbox: graphton.DaytonaBackend, daytona_cloud: FakeDaytona, tmp_path: Path
) -> None:
    from agent_runner.local.manifests import zip_skill_folder
    from tests.conftest import REPO_ROOT

    source = REPO_ROOT / "skills" / "repo-stats"
    skill = wire.skill.Skill()
    skill.metadata.id = skill.metadata.slug = "repo-stats"
    skill.spec.skill_md = (source / "SKILL.md").read_text()
    resolved = ResolvedSkill(skill=skill, artifact=zip_skill_folder(source))
    writer = SkillWriter(sandbox=sandbox, mode="daytona")
    paths = await writer.write_skills([resolved])
    home = tmp_path / "home"
    assert paths == {"repo-stats": f"{home}/.agent-runner/skills/repo-stats/SKILL.md"}
    script = home / ".agent-runner" / "skills" / "repo-stats" / "scripts" / "stats.py"
    assert script.stat().st_mode & stat.S_IXUSR
    uploads = [p for _, p in daytona_cloud.requests if p.endswith("/files/bulk-upload")]
    assert len(uploads) == 1
    run = await sandbox.aexecute(
        "python3 .agent-runner/skills/repo-stats/scripts/stats.py .agent-runner/skills"
    )
    assert run.exit_code == 0 and "| Python | 1 |" in run.stdout


async def test_a_scripted_agent_works_in_a_daytona_sandbox(
    sandbox: graphton.DaytonaBackend, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    script = graphton.Script.from_data(
        [
            {
                "tool_calls": [
                    {
                        "name": "write_file",
                        "args": {"file_path": f"{home}/out.txt", "content": "hi"},
                    }
                ]
            },
            {"tool_calls": [{"name": "execute", "args": {"command": "cat out.txt"}}]},
            {"expect": {"contains": "hi"}, "text": "done"},
        ]
    )
    agent = graphton.create_deep_agent(
        model=graphton.ScriptedChatModel(script=script), system_prompt="test", sandbox=sandbox
    )
    events = [
        e
        async for e in graphton.stream_events(
            agent,
            {"messages": [{"role": "user", "content": "go"}]},
            {"configurable": {"thread_id": "d"}},
        )
    ]
    finished = [e for e in events if isinstance(e, graphton.ToolFinished)]
    assert [(e.name, e.error) for e in finished] == [("write_file", None), ("execute", None)]
    assert (home / "out.txt").read_text() == "hi"
