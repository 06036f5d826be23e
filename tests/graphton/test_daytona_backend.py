"""DaytonaBackend: the real `daytona` SDK against the local Daytona API (tests/daytona_api.py)."""

from __future__ import annotations

import asyncio
import stat
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from daytona import AsyncDaytona, DaytonaConfig

import graphton
from agent_runner import wire
from agent_runner.skills import ResolvedSkill, SkillWriter
from graphton.sandbox.daytona_errors import RetryPolicy, SandboxGone, SandboxUnavailable
from tests.conftest import REPO_ROOT
from tests.daytona_api import DAYTONA_TEST_KEY, FakeDaytona
from tests.helpers import async_wait_until, process_gone

pytestmark = pytest.mark.anyio

API_KEY = DAYTONA_TEST_KEY
SECRET = "s3cret-value-42"
QUICK = RetryPolicy(attempts=3, first_delay_s=0.01, max_delay_s=0.05)


@pytest.fixture
async def sandbox(daytona_cloud: FakeDaytona) -> AsyncIterator[graphton.DaytonaBackend]:
    backend = graphton.DaytonaBackend(
        api_key=API_KEY,
        api_url=daytona_cloud.url,
        snapshot_id="dev-tools",
        env={"TEAM": "platform", "API_TOKEN": SECRET},
    )
    await backend.start()
    yield backend
    await backend.close()


def home(cloud: FakeDaytona, backend: graphton.DaytonaBackend) -> Path:
    return cloud.sandboxes[backend.id].work_dir


def attach(cloud: FakeDaytona, sandbox_id: str, **extra: object) -> graphton.DaytonaBackend:
    return graphton.DaytonaBackend(
        api_key=API_KEY,
        api_url=cloud.url,
        sandbox_id=sandbox_id,
        **extra,  # type: ignore[arg-type]
    )


# -- creating and attaching ------------------------------------------------------------


async def test_commands_run_in_the_sandboxs_own_working_folder_with_their_env(
    sandbox: graphton.DaytonaBackend, daytona_cloud: FakeDaytona
) -> None:
    assert sandbox.created
    assert daytona_cloud.sandboxes[sandbox.id].snapshot == "dev-tools"
    result = await sandbox.aexecute("pwd; echo $TEAM; exit 3")
    assert isinstance(result, graphton.ExecutionResult)
    assert result.exit_code == 3
    assert result.stdout == f"{home(daytona_cloud, sandbox)}\nplatform\n"
    assert sandbox.root_dir == str(home(daytona_cloud, sandbox))


async def test_the_sandbox_is_created_without_the_executions_environment(
    sandbox: graphton.DaytonaBackend, daytona_cloud: FakeDaytona
) -> None:
    """Daytona keeps a sandbox's env and shows it to anyone who reads the sandbox."""
    async with AsyncDaytona(DaytonaConfig(api_key=API_KEY, api_url=daytona_cloud.url)) as client:
        fetched = await client.get(sandbox.id)
        assert SECRET not in str(fetched.env) and "API_TOKEN" not in fetched.env
    assert SECRET not in str(daytona_cloud.sandboxes[sandbox.id].env)
    result = await sandbox.aexecute("echo $API_TOKEN")
    assert result.stdout == f"{SECRET}\n"


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
    before = len(daytona_cloud.requests)
    await attached.start()
    assert not attached.created and attached.id == sandbox.id
    after = daytona_cloud.requests[before:]
    assert [m for m, p in after if p == f"/sandbox/{sandbox.id}"] == ["GET"]
    await attached.close()


async def test_a_configured_working_folder_is_made_when_missing(
    daytona_cloud: FakeDaytona, tmp_path: Path
) -> None:
    """The daemon runs nothing in a missing folder (-1): that is not a timeout."""
    root = tmp_path / "custom" / "root"
    backend = graphton.DaytonaBackend(
        api_key=API_KEY, api_url=daytona_cloud.url, root_dir=str(root)
    )
    result = await backend.aexecute("pwd")
    assert (result.exit_code, result.timed_out) == (0, False)
    assert result.stdout == f"{root}\n"
    await backend.close()


async def test_a_working_folder_that_cannot_be_made_is_named(
    daytona_cloud: FakeDaytona, tmp_path: Path
) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    backend = graphton.DaytonaBackend(
        api_key=API_KEY, api_url=daytona_cloud.url, root_dir=str(tmp_path / "a-file" / "root")
    )
    with pytest.raises(graphton.SandboxError, match="DAYTONA_WORK_DIR"):
        await backend.start()
    result = await backend.aexecute("true")
    assert result.exit_code == 125 and not result.timed_out
    await backend.close()


# -- states ---------------------------------------------------------------------------


@pytest.mark.parametrize("state", ["stopped", "archived"])
async def test_a_sandbox_daytona_stopped_is_started_again_on_attach(
    sandbox: graphton.DaytonaBackend, daytona_cloud: FakeDaytona, state: str
) -> None:
    (daytona_cloud.stop if state == "stopped" else daytona_cloud.archive)(sandbox.id)
    again = attach(daytona_cloud, sandbox.id)
    result = await again.aexecute("echo back")
    assert (result.exit_code, result.stdout) == (0, "back\n")
    assert daytona_cloud.sandboxes[sandbox.id].state == "started"
    assert ("POST", f"/sandbox/{sandbox.id}/start") in daytona_cloud.requests
    await again.close()


async def test_a_sandbox_that_stopped_between_calls_is_started_and_the_call_retried(
    sandbox: graphton.DaytonaBackend, daytona_cloud: FakeDaytona
) -> None:
    """A model that thinks for 15 minutes finds its sandbox stopped: calls go on."""
    daytona_cloud.stop(sandbox.id)
    [upload] = await sandbox.aupload_files([(f"{sandbox.root_dir}/after.txt", b"later")])
    assert upload.error is None
    daytona_cloud.archive(sandbox.id)
    result = await sandbox.aexecute("cat after.txt")
    assert (result.exit_code, result.stdout) == (0, "later")


async def test_auto_stop_after_the_configured_idle_time_is_survived(
    daytona_cloud: FakeDaytona,
) -> None:
    daytona_cloud.minute_s = 0.05
    backend = graphton.DaytonaBackend(
        api_key=API_KEY, api_url=daytona_cloud.url, auto_stop_minutes=1
    )
    await backend.start()
    fake = daytona_cloud.sandboxes[backend.id]
    assert fake.auto_stop_interval == 1

    def stopped() -> bool:
        daytona_cloud.age(fake)
        return fake.state == "stopped"

    await async_wait_until(stopped, within=30, what="Daytona to auto-stop the sandbox")
    daytona_cloud.minute_s = 60.0  # minutes as long as usual again, for the command to run
    result = await backend.aexecute("echo awake")
    assert result.stdout == "awake\n"
    await backend.close()


async def test_a_recoverable_error_is_recovered_and_another_named(
    sandbox: graphton.DaytonaBackend, daytona_cloud: FakeDaytona
) -> None:
    daytona_cloud.break_down(sandbox.id, "disk pressure", recoverable=True)
    recovered = attach(daytona_cloud, sandbox.id)
    assert (await recovered.aexecute("echo ok")).stdout == "ok\n"
    await recovered.close()
    daytona_cloud.break_down(sandbox.id, "runner lost", recoverable=False)
    broken = attach(daytona_cloud, sandbox.id)
    with pytest.raises(graphton.SandboxError, match=r"runner lost.*cannot be recovered"):
        await broken.start()
    await broken.close()


# -- transient failures ------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["503", "429", "reset"])
async def test_a_passing_api_failure_on_attach_is_retried(
    sandbox: graphton.DaytonaBackend, daytona_cloud: FakeDaytona, fault: str
) -> None:
    route = f"^/sandbox/{sandbox.id}$"
    if fault == "reset":
        daytona_cloud.reset(route, times=2)
    else:
        daytona_cloud.fail(route, int(fault), "try later", times=2)
    again = attach(daytona_cloud, sandbox.id, retry=QUICK)
    await again.start()
    assert again.id == sandbox.id
    await again.close()


async def test_a_lasting_api_failure_is_unavailable_not_gone(
    sandbox: graphton.DaytonaBackend, daytona_cloud: FakeDaytona
) -> None:
    daytona_cloud.fail(f"^/sandbox/{sandbox.id}$", 503, "maintenance", times=100)
    again = attach(daytona_cloud, sandbox.id, retry=QUICK)
    with pytest.raises(SandboxUnavailable, match="maintenance") as raised:
        await again.start()
    assert not isinstance(raised.value, SandboxGone)
    await again.close()
    gone = attach(daytona_cloud, "sbx-nope")
    with pytest.raises(SandboxGone, match="'sbx-nope' was not found"):
        await gone.start()
    await gone.close()


async def test_create_and_upload_are_retried_through_passing_failures(
    daytona_cloud: FakeDaytona,
) -> None:
    daytona_cloud.fail("^/sandbox$", 429, "Too many requests", method="POST")
    daytona_cloud.reset("^/sandbox$", method="POST")
    backend = graphton.DaytonaBackend(api_key=API_KEY, api_url=daytona_cloud.url, retry=QUICK)
    await backend.start()
    assert len(daytona_cloud.live()) == 1
    daytona_cloud.fail("/files/bulk-upload$", 502, "bad gateway")
    [upload] = await backend.aupload_files([(f"{backend.root_dir}/x.txt", b"x")])
    assert upload.error is None
    await backend.close()


async def test_a_create_whose_answer_is_lost_is_not_made_twice(
    daytona_cloud: FakeDaytona,
) -> None:
    daytona_cloud.reset("^/sandbox$", method="POST", after=True)
    backend = graphton.DaytonaBackend(api_key=API_KEY, api_url=daytona_cloud.url, retry=QUICK)
    await backend.start()
    [only] = daytona_cloud.live()
    assert backend.id == only.id and backend.created
    await backend.close()


async def test_a_create_that_outlasts_its_wait_is_kept_and_waited_on(
    daytona_cloud: FakeDaytona,
) -> None:
    daytona_cloud.create_polls = 10**9  # a snapshot that is still being pulled
    backend = graphton.DaytonaBackend(
        api_key=API_KEY, api_url=daytona_cloud.url, retry=QUICK, start_timeout_s=1.0
    )
    started = asyncio.create_task(backend.start())
    await async_wait_until(
        lambda: len(daytona_cloud.sandboxes) == 1, within=30, what="the sandbox to be created"
    )
    with pytest.raises(graphton.SandboxError):
        await started
    assert backend.created and backend.id in daytona_cloud.sandboxes  # known, so cleanable
    [fake] = daytona_cloud.sandboxes.values()
    fake.pending_gets = 0
    assert (await backend.aexecute("echo up")).stdout == "up\n"
    assert len(daytona_cloud.sandboxes) == 1
    await backend.close()


async def test_commands_go_through_passing_failures_of_their_calls(
    daytona_cloud: FakeDaytona,
) -> None:
    backend = graphton.DaytonaBackend(api_key=API_KEY, api_url=daytona_cloud.url, retry=QUICK)
    await backend.start()
    daytona_cloud.reset("/process/session$", method="POST", after=True)  # made, answer lost
    daytona_cloud.fail("/process/session/[^/]+/exec$", 429, "Too many requests")
    daytona_cloud.fail("/logs$", 502, "bad gateway")
    result = await backend.aexecute("echo through")
    assert (result.exit_code, result.stdout) == (0, "through\n")
    await backend.close()


async def test_api_errors_on_commands_become_results(
    sandbox: graphton.DaytonaBackend, daytona_cloud: FakeDaytona
) -> None:
    daytona_cloud.fail("/process/session$", 500, "runner unavailable", times=10)
    failed = await sandbox.aexecute("echo hi")
    assert failed.exit_code == 125
    assert "could not run the command" in failed.stderr and "runner unavailable" in failed.stderr


async def test_a_wrong_key_is_named(daytona_cloud: FakeDaytona) -> None:
    wrong = graphton.DaytonaBackend(api_key="not-the-key", api_url=daytona_cloud.url)
    with pytest.raises(graphton.SandboxError, match="DAYTONA_API_KEY"):
        await wrong.start()
    await wrong.close()


async def test_delete_then_delete_again_is_fine_and_a_failing_delete_raises(
    sandbox: graphton.DaytonaBackend, daytona_cloud: FakeDaytona
) -> None:
    other = graphton.DaytonaBackend(api_key=API_KEY, api_url=daytona_cloud.url)
    await other.start()
    daytona_cloud.fail(f"^/sandbox/{other.id}$", 503, "down", times=100, method="DELETE")
    with pytest.raises(SandboxUnavailable, match="still exists"):
        await attach(daytona_cloud, other.id, retry=QUICK).delete_sandbox()
    assert daytona_cloud.sandboxes[other.id].state == "started"
    await other.close()

    assert await sandbox.delete_sandbox() is True
    assert daytona_cloud.sandboxes[sandbox.id].state == "destroyed"
    again = attach(daytona_cloud, sandbox.id)
    assert await again.delete_sandbox() is False
    await again.close()


# -- commands ---------------------------------------------------------------------------


async def test_stdout_and_stderr_come_back_apart_and_exact(
    sandbox: graphton.DaytonaBackend,
) -> None:
    result = await sandbox.aexecute("printf 'no newline'; printf 'warn\\n' >&2; exit 4")
    assert (result.exit_code, result.stdout, result.stderr) == (4, "no newline", "warn\n")


async def test_a_command_killed_by_a_signal_is_not_a_timeout(
    sandbox: graphton.DaytonaBackend,
) -> None:
    result = await sandbox.aexecute("echo before; kill -9 $$")
    assert (result.exit_code, result.timed_out) == (137, False)
    assert result.stdout == "before\n"


async def test_exit_and_cd_in_one_command_do_not_reach_the_next(
    sandbox: graphton.DaytonaBackend,
) -> None:
    assert (await sandbox.aexecute("cd /; exit 5")).exit_code == 5
    result = await sandbox.aexecute("pwd")
    assert (result.exit_code, result.stdout) == (0, f"{sandbox.root_dir}\n")


async def test_commands_read_as_sh_reads_them_whatever_the_sandboxs_shell(
    sandbox: graphton.DaytonaBackend,
) -> None:
    """zsh (the daemon's shell) refuses an unmatched glob and does not split words."""
    result = await sandbox.aexecute(
        "echo .[dev] *.nothing; words='a b'; for w in $words; do echo $w; done"
    )
    assert (result.exit_code, result.stdout) == (0, ".[dev] *.nothing\na\nb\n")


async def test_a_command_reading_stdin_sees_its_end(sandbox: graphton.DaytonaBackend) -> None:
    result = await sandbox.aexecute("cat; echo done", timeout=60)
    assert (result.exit_code, result.stdout) == (0, "done\n")


async def test_a_timeout_kills_the_command_and_keeps_its_output_so_far(
    sandbox: graphton.DaytonaBackend,
) -> None:
    result = await sandbox.aexecute(
        "echo started; echo complaint >&2; sleep 600 & echo $! > bg.pid; wait", timeout=2
    )
    assert (result.exit_code, result.timed_out) == (124, True)
    assert result.stdout == "started\n"
    assert result.stderr.startswith("complaint\n") and "timed out" in result.stderr
    pid = int(Path(sandbox.root_dir, "bg.pid").read_text())
    await async_wait_until(lambda: process_gone(pid), within=10, what="the child to die")


async def test_long_output_is_bounded_and_kept_whole_in_the_sandbox(
    daytona_cloud: FakeDaytona,
) -> None:
    backend = graphton.DaytonaBackend(
        api_key=API_KEY, api_url=daytona_cloud.url, max_output_bytes=1000
    )
    result = await backend.aexecute("head -c 5000 /dev/zero | tr '\\0' a; echo; echo fine >&2")
    assert result.exit_code == 0
    assert result.stdout == "a" * 1000 and not result.truncated
    kept = result.stderr.split("kept in ")[1].rstrip("]")
    assert result.stderr.startswith("fine\n[4001 more bytes of stdout not shown")
    assert Path(kept).read_text() == "a" * 5000 + "\n"
    small = await backend.aexecute("echo small")
    assert small.stdout == "small\n"
    outputs = Path(backend.root_dir, ".agent-runner", "outputs")
    assert sorted(p.name for p in outputs.iterdir()) == sorted(
        [Path(kept).name, Path(kept).with_suffix(".stderr").name]
    )
    await backend.close()


async def test_an_empty_command_is_an_error(sandbox: graphton.DaytonaBackend) -> None:
    result = await sandbox.aexecute("   ")
    assert result.exit_code == 1 and "empty" in result.stderr


async def test_environment_names_the_daemon_refuses_are_left_out_with_a_warning(
    daytona_cloud: FakeDaytona, caplog: pytest.LogCaptureFixture
) -> None:
    backend = graphton.DaytonaBackend(
        api_key=API_KEY, api_url=daytona_cloud.url, env={"my-key": "x", "GOOD": "yes"}
    )
    assert "'my-key'" in caplog.text
    result = await backend.aexecute("echo $GOOD")
    assert (result.exit_code, result.stdout) == (0, "yes\n")
    await backend.close()


async def test_cancelling_a_command_kills_it_and_what_it_started_in_the_sandbox(
    sandbox: graphton.DaytonaBackend,
) -> None:
    root = Path(sandbox.root_dir)
    pid_files = [root / "shell.pid", root / "child.pid"]
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
    assert list((root / ".agent-runner" / "commands").iterdir()) == []
    assert await sandbox.akill_all() == 0  # nothing left under way


# -- files ------------------------------------------------------------------------------


async def test_files_go_up_and_come_back_in_one_batch_each(
    sandbox: graphton.DaytonaBackend, daytona_cloud: FakeDaytona
) -> None:
    root = sandbox.root_dir
    uploaded = await sandbox.aupload_files(
        [(f"{root}/a.txt", b"alpha"), (f"{root}/sub/b.bin", b"\x00\x01")]
    )
    assert [r.error for r in uploaded] == [None, None]
    assert Path(root, "sub", "b.bin").read_bytes() == b"\x00\x01"
    downloaded = await sandbox.adownload_files([f"{root}/a.txt", f"{root}/missing.txt", root])
    assert (downloaded[0].content, downloaded[0].error) == (b"alpha", None)
    assert [d.error for d in downloaded[1:]] == ["file_not_found", "is_directory"]
    uploads = [p for _, p in daytona_cloud.requests if p.endswith("/files/bulk-upload")]
    assert len(uploads) == 1


async def test_relative_paths_are_refused_before_any_request(
    sandbox: graphton.DaytonaBackend, daytona_cloud: FakeDaytona
) -> None:
    before = len(daytona_cloud.requests)
    [up] = await sandbox.aupload_files([("notes.md", b"x")])
    [down] = await sandbox.adownload_files(["notes.md"])
    assert (up.error, down.error) == ("invalid_path", "invalid_path")
    assert len(daytona_cloud.requests) == before


async def test_an_upload_reports_each_files_outcome(sandbox: graphton.DaytonaBackend) -> None:
    root = sandbox.root_dir
    Path(root, "plain").write_text("a file, not a folder")
    results = await sandbox.aupload_files(
        [(f"{root}/ok.txt", b"fine"), (f"{root}/plain/inside.txt", b"no"), (f"{root}", b"x")]
    )
    assert results[0].error is None and Path(root, "ok.txt").read_bytes() == b"fine"
    assert results[1].error == "invalid_path"
    assert results[2].error == "is_directory"


async def test_deepagents_file_tools_work_through_the_sandbox(
    sandbox: graphton.DaytonaBackend,
) -> None:
    path = f"{sandbox.root_dir}/notes.md"
    assert (await sandbox.awrite(path, "one\ntwo\n")).error is None
    read = await sandbox.aread(path)
    assert read.file_data is not None and "two" in read.file_data["content"]
    assert (await sandbox.aedit(path, "two", "three")).error is None
    assert Path(path).read_text() == "one\nthree\n"


# -- the blocking twins ----------------------------------------------------------------


async def test_blocking_methods_work_from_other_threads(sandbox: graphton.DaytonaBackend) -> None:
    result = await asyncio.to_thread(sandbox.execute, "echo from a thread")
    assert result.stdout == "from a thread\n"
    with pytest.raises(graphton.SandboxError, match="use the async method"):
        sandbox.execute("echo on the loop")


async def test_async_methods_work_when_awaited_on_another_loop(
    sandbox: graphton.DaytonaBackend,
) -> None:
    """The SDK's HTTP sessions belong to the loop that made them; the work goes there."""
    result = await asyncio.to_thread(asyncio.run, sandbox.aexecute("echo other loop"))
    assert result.stdout == "other loop\n"
    [down] = await asyncio.to_thread(asyncio.run, sandbox.adownload_files(["/no/such/file"]))
    assert down.error == "file_not_found"


async def test_blocking_methods_work_any_number_of_times_from_a_plain_program(
    daytona_cloud: FakeDaytona,
) -> None:
    program = textwrap.dedent(
        f"""
        import graphton
        sandbox = graphton.DaytonaBackend(api_key={API_KEY!r}, api_url={daytona_cloud.url!r})
        for n in range(3):
            print(sandbox.execute(f"echo call {{n}}").stdout, end="")
        root = sandbox.root_dir
        print(sandbox.upload_files([(root + "/f.txt", b"up")])[0].error)
        print(sandbox.download_files([root + "/f.txt"])[0].content)
        print(sandbox.kill_all())
        sandbox.close_blocking()
        """
    )
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", program],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO_ROOT,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "call 0\ncall 1\ncall 2\nNone\nb'up'\n0\n"
    assert "Unclosed" not in done.stderr


# -- with the runner's pieces ----------------------------------------------------------


async def test_skill_writer_uploads_skills_in_one_batch(
    sandbox: graphton.DaytonaBackend, daytona_cloud: FakeDaytona
) -> None:
    from agent_runner.local.manifests import zip_skill_folder

    source = REPO_ROOT / "skills" / "repo-stats"
    skill = wire.skill.Skill()
    skill.metadata.id = skill.metadata.slug = "repo-stats"
    skill.spec.skill_md = (source / "SKILL.md").read_text()
    resolved = ResolvedSkill(skill=skill, artifact=zip_skill_folder(source))
    writer = SkillWriter(sandbox=sandbox, mode="daytona")
    paths = await writer.write_skills([resolved])
    root = Path(sandbox.root_dir)
    assert paths == {"repo-stats": f"{root}/.agent-runner/skills/repo-stats/SKILL.md"}
    script = root / ".agent-runner" / "skills" / "repo-stats" / "scripts" / "stats.py"
    assert script.stat().st_mode & stat.S_IXUSR
    uploads = [p for _, p in daytona_cloud.requests if p.endswith("/files/bulk-upload")]
    assert len(uploads) == 1
    run = await sandbox.aexecute(
        "python3 .agent-runner/skills/repo-stats/scripts/stats.py .agent-runner/skills"
    )
    assert run.exit_code == 0 and "| Python | 1 |" in run.stdout


async def test_a_scripted_agent_works_in_a_daytona_sandbox(
    sandbox: graphton.DaytonaBackend,
) -> None:
    root = Path(sandbox.root_dir)
    script = graphton.Script.from_data(
        [
            {
                "tool_calls": [
                    {
                        "name": "write_file",
                        "args": {"file_path": f"{root}/out.txt", "content": "hi"},
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
    assert (root / "out.txt").read_text() == "hi"
