"""FilesystemBackend: real subprocesses and real files in a temporary root."""

from __future__ import annotations

import asyncio
import dataclasses
import os
from pathlib import Path

import pytest
from deepagents.backends.protocol import ExecuteResponse

from graphton import ExecutionResult, FilesystemBackend
from tests.helpers import async_wait_until, process_gone, wait_until

pytestmark = pytest.mark.anyio


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "sandbox"


@pytest.fixture
def backend(root: Path) -> FilesystemBackend:
    return FilesystemBackend(root, env={"EXTRA_VAR": "extra-value"})


async def test_echo_returns_stdout_and_exit_code_zero(backend: FilesystemBackend) -> None:
    result = await backend.aexecute("echo hello")
    assert (result.exit_code, result.stdout, result.stderr) == (0, "hello\n", "")
    assert result.ok and not result.truncated and not result.timed_out
    assert result.duration_s > 0


async def test_failure_lands_in_the_result_with_stderr(backend: FilesystemBackend) -> None:
    result = await backend.aexecute("echo out; echo oops >&2; exit 7")
    assert result.exit_code == 7
    assert result.stdout == "out\n"
    assert result.stderr == "oops\n"
    assert result.output == "out\noops\n"


async def test_unknown_command_is_a_result_not_an_exception(backend: FilesystemBackend) -> None:
    result = await backend.aexecute("definitely-not-a-command-xyz")
    assert result.exit_code == 127
    assert "not found" in result.stderr


async def test_runs_in_the_root(backend: FilesystemBackend, root: Path) -> None:
    result = await backend.aexecute("pwd; touch made-here")
    assert result.stdout.strip() == str(root)
    assert (root / "made-here").exists()


async def test_environment_is_inherited_plus_unbuffered_plus_extra(
    backend: FilesystemBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INHERITED_VAR", "from-parent")
    result = await backend.aexecute('echo "$INHERITED_VAR $PYTHONUNBUFFERED $EXTRA_VAR"')
    assert result.stdout == "from-parent 1 extra-value\n"


async def test_timeout_kills_the_whole_group_including_background_children(
    backend: FilesystemBackend, root: Path
) -> None:
    result = await backend.aexecute("sleep 600 & echo $! > bg.pid; sleep 600", timeout=1)
    assert result.exit_code == 124
    assert result.timed_out
    assert "timed out" in result.stderr
    background = int((root / "bg.pid").read_text())
    wait_until(lambda: process_gone(background), what="the background sleep to die")


async def test_cancellation_kills_the_group_and_reraises(
    backend: FilesystemBackend, root: Path
) -> None:
    task = asyncio.create_task(backend.aexecute("sleep 600 & echo $! > bg.pid; exec sleep 600"))
    await async_wait_until(lambda: (root / "bg.pid").exists(), what="the command to start")
    background = int((root / "bg.pid").read_text())
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    wait_until(lambda: process_gone(background), what="the background sleep to die")


async def test_huge_output_keeps_the_exact_head_and_the_whole_output_in_a_file(
    root: Path,
) -> None:
    backend = FilesystemBackend(root, max_output_bytes=1000)
    result = await backend.aexecute("yes abcdefgh | head -c 20000000")
    assert result.exit_code == 0
    assert not result.truncated  # nothing was dropped: all of it is on disk
    note, head = result.stdout.split("\n", 1)
    assert head == ("abcdefgh\n" * 112)[:1000]
    assert note.startswith("[output too long: the first 1000 of 20000000 bytes follow")
    virtual = note.rsplit("the whole output is in ", 1)[1].rstrip("]")
    kept = root / virtual.lstrip("/")
    assert kept.stat().st_size == 20_000_000
    with kept.open("rb") as handle:
        assert handle.read(18) == b"abcdefgh\nabcdefgh\n"


async def test_huge_output_without_keeping_counts_what_it_drops(root: Path) -> None:
    backend = FilesystemBackend(root, max_output_bytes=1000, keep_full_output=False)
    result = await backend.aexecute("yes abcdefgh | head -c 2000000")
    note, head = result.stdout.split("\n", 1)
    assert head == ("abcdefgh\n" * 112)[:1000]
    assert note == (
        "[output too long: the first 1000 of 2000000 bytes follow; "
        "the other 1999000 bytes were not kept]"
    )
    assert result.truncated
    assert not (root / ".agent-runner" / "outputs").exists()


async def test_non_utf8_output_is_decoded_with_replacement(backend: FilesystemBackend) -> None:
    result = await backend.aexecute(r"printf 'ok\377\376end'")
    assert result.stdout == "ok\ufffd\ufffdend"


async def test_does_not_block_the_event_loop(backend: FilesystemBackend) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    running = asyncio.create_task(ticker())
    await backend.aexecute("sleep 0.5")
    running.cancel()
    assert ticks >= 10  # the loop kept running other tasks while the command ran


async def test_background_child_does_not_hold_the_command_and_kill_all_ends_it(
    backend: FilesystemBackend, root: Path
) -> None:
    result = await backend.aexecute("sleep 600 & echo $! > bg.pid; echo started")
    assert result.exit_code == 0 and result.stdout == "started\n"
    background = int((root / "bg.pid").read_text())
    assert not process_gone(background)
    assert backend.kill_all() == 1
    wait_until(lambda: process_gone(background), what="kill_all to end the background sleep")


def test_sync_execute_works_outside_and_inside_an_event_loop(backend: FilesystemBackend) -> None:
    assert backend.execute("echo sync").stdout == "sync\n"

    async def inside_a_loop() -> ExecutionResult:
        return backend.execute("echo nested")

    assert asyncio.run(inside_a_loop()).stdout == "nested\n"


def test_execution_result_is_a_frozen_execute_response() -> None:
    result = ExecutionResult(exit_code=1, stdout="a", stderr="b")
    assert isinstance(result, ExecuteResponse)
    assert result.output == "a\nb"
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.exit_code = 0  # type: ignore[misc]
    assert dataclasses.replace(result, stderr="").output == "a"


# -- file tools --------------------------------------------------------------


def test_file_tools_work_on_virtual_paths(backend: FilesystemBackend, root: Path) -> None:
    assert backend.write("/notes/a.md", "alpha\nbeta\n").error is None
    assert (root / "notes" / "a.md").read_text() == "alpha\nbeta\n"
    read = backend.read("/notes/a.md")
    assert read.file_data is not None and read.file_data["content"] == "alpha\nbeta\n"
    assert backend.edit("/notes/a.md", "beta", "gamma").error is None
    assert (root / "notes" / "a.md").read_text() == "alpha\ngamma\n"
    listing = backend.ls("/notes")
    assert [e["path"] for e in listing.entries or []] == ["/notes/a.md"]
    globbed = backend.glob("**/*.md")
    assert [m["path"] for m in globbed.matches or []] == ["/notes/a.md"]
    grepped = backend.grep("gamma")
    assert [(m["path"], m["line"]) for m in grepped.matches or []] == [("/notes/a.md", 2)]


def test_the_roots_own_host_path_is_accepted(backend: FilesystemBackend, root: Path) -> None:
    assert backend.write(f"{root}/host-form.txt", "x").error is None
    assert (root / "host-form.txt").read_text() == "x"


@pytest.mark.parametrize("path", ["/../outside.txt", "../outside.txt", "/a/../../outside.txt"])
def test_dot_dot_is_refused_by_every_operation(backend: FilesystemBackend, path: str) -> None:
    assert "'..' is not allowed" in (backend.read(path).error or "")
    assert "'..' is not allowed" in (backend.write(path, "x").error or "")
    # the protocol's code for a path that names no place in the sandbox
    assert backend.upload_files([(path, b"x")])[0].error == "invalid_path"
    assert backend.download_files([path])[0].error == "invalid_path"
    assert not (backend.root_dir.parent / "outside.txt").exists()


def test_home_paths_are_refused(backend: FilesystemBackend) -> None:
    assert "'~' is not allowed" in (backend.read("~/.bashrc").error or "")


def test_absolute_paths_stay_inside_the_root(backend: FilesystemBackend) -> None:
    # A host path outside the root is read as a virtual path under the root,
    # never as the host's file.
    read = backend.read("/etc/hostname")
    assert read.file_data is None and "not found" in (read.error or "")


def test_symlinks_leading_outside_are_refused(
    backend: FilesystemBackend, root: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("top secret")
    (root / "door").symlink_to(outside)
    (root / "file-link").symlink_to(outside / "secret.txt")
    for path in ("/door/secret.txt", "/file-link"):
        assert "symbolic link" in (backend.read(path).error or "")
    assert "symbolic link" in (backend.write("/door/new.txt", "x").error or "")
    assert not (outside / "new.txt").exists()


def test_root_is_created_when_missing(tmp_path: Path) -> None:
    backend = FilesystemBackend(tmp_path / "a" / "b")
    assert backend.root_dir.is_dir()
    assert backend.id == f"local:{backend.root_dir}"


def test_an_answer_uses_the_form_of_its_question(backend: FilesystemBackend, root: Path) -> None:
    backend.write("/notes/a.md", "alpha\n")
    virtual = backend.ls("/notes").entries or []
    host = backend.ls(f"{root}/notes").entries or []
    assert [e["path"] for e in virtual] == ["/notes/a.md"]
    assert [e["path"] for e in host] == [f"{root}/notes/a.md"]
    assert [m["path"] for m in backend.glob("*.md", path=f"{root}/notes").matches or []] == [
        f"{root}/notes/a.md"
    ]
    assert [m["path"] for m in backend.grep("alpha", path=str(root)).matches or []] == [
        f"{root}/notes/a.md"
    ]
    assert [m["path"] for m in backend.grep("alpha").matches or []] == ["/notes/a.md"]


async def test_the_runners_folder_is_hidden_from_listings_but_readable_by_path(
    root: Path,
) -> None:
    backend = FilesystemBackend(root, max_output_bytes=10)
    result = await backend.aexecute("seq 1 1000")
    virtual = result.stdout.split("the whole output is in ", 1)[1].split("]", 1)[0]
    backend.write("/visible.txt", "1000\n")
    assert [e["path"] for e in backend.ls("/").entries or []] == ["/visible.txt"]
    assert [e["path"] for e in backend.ls(str(root)).entries or []] == [f"{root}/visible.txt"]
    assert [m["path"] for m in backend.grep("1000").matches or []] == ["/visible.txt"]
    assert [m["path"] for m in backend.glob("**").matches or []] == ["/visible.txt"]
    assert [m["path"] for m in backend.glob("*.stdout").matches or []] == []
    # asked about by path, it answers
    read = backend.read(virtual)
    assert read.file_data is not None and read.file_data["content"].startswith("1\n2\n")
    assert [e["path"] for e in backend.ls("/.agent-runner/outputs").entries or []] == [virtual]
    assert [m["path"] for m in backend.grep("1000", path="/.agent-runner").matches or []] == [
        virtual
    ]


def test_deleting_a_link_removes_the_link_only(backend: FilesystemBackend, root: Path) -> None:
    (root / "folder").mkdir()
    (root / "folder" / "keep.txt").write_text("kept")
    (root / "link").symlink_to(root / "folder")
    (root / "file-link").symlink_to(root / "folder" / "keep.txt")
    assert backend.delete("/link").error is None
    assert backend.delete("/file-link").error is None
    assert not (root / "link").is_symlink() and not (root / "file-link").is_symlink()
    assert (root / "folder" / "keep.txt").read_text() == "kept"


async def test_an_empty_or_blank_command_is_an_error(backend: FilesystemBackend) -> None:
    for command in ("", "   ", "\n\t"):
        result = await backend.aexecute(command)
        assert result.exit_code == 1
        assert result.output == "Error: the command is empty; give a shell command to run."


def test_a_binary_file_over_the_preview_limit_is_refused_like_deepagents_sandboxes_do(
    backend: FilesystemBackend, root: Path
) -> None:
    (root / "big.png").write_bytes(b"\x89" * 600_000)
    read = backend.read("/big.png")
    assert read.file_data is None
    assert read.error == "File '/big.png': Binary file exceeds maximum preview size of 512000 bytes"


def test_transfers_say_invalid_path_for_malformed_paths_and_permission_denied_for_links_out(
    backend: FilesystemBackend, root: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "door").symlink_to(outside)
    for path in ("/a\x00b", "/lone-\ud800", "/" + "x" * 300):
        assert backend.upload_files([(path, b"x")])[0].error == "invalid_path"
        assert backend.download_files([path])[0].error == "invalid_path"
    assert backend.upload_files([("/door/x", b"x")])[0].error == "permission_denied"
    assert backend.download_files(["/door/x"])[0].error == "permission_denied"
    assert list(outside.iterdir()) == []


def working_in(root: Path) -> list[int]:
    """Processes still running with their working folder in `root`."""
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and not process_gone(int(proc.name)):
            try:
                if os.readlink(proc / "cwd") == str(root):
                    pids.append(int(proc.name))
            except OSError:
                continue
    return pids


@pytest.mark.parametrize("turns", range(6))
async def test_a_cancellation_while_the_command_starts_still_kills_all_of_it(
    backend: FilesystemBackend, root: Path, turns: int
) -> None:
    task = asyncio.create_task(backend.aexecute("sleep 600 & exec sleep 600"))
    for _ in range(turns):  # cancel at each of the first turns of the event loop
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 30)
    wait_until(lambda: working_in(root) == [], what="every process of the command to end")


async def test_withheld_names_are_not_inherited_but_env_still_gives_them(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKER_KEY", "worker-only")
    monkeypatch.setenv("AGENT_KEY", "from-worker")
    monkeypatch.setenv("PLAIN_VAR", "kept")
    backend = FilesystemBackend(
        root, env={"AGENT_KEY": "from-agent"}, withheld_env={"WORKER_KEY", "AGENT_KEY"}
    )
    result = await backend.aexecute('echo "${WORKER_KEY:-unset} $AGENT_KEY $PLAIN_VAR"')
    assert result.stdout == "unset from-agent kept\n"
