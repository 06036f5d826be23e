"""Edge cases deepagents' own backend unit tests try, against `FilesystemBackend`:
every one is an error result, never an exception."""

from __future__ import annotations

from pathlib import Path

import pytest

from graphton import FilesystemBackend

pytestmark = pytest.mark.anyio


@pytest.fixture
def backend(tmp_path: Path) -> FilesystemBackend:
    return FilesystemBackend(tmp_path / "root")


def test_a_symlink_loop_is_an_error_for_every_file_tool(backend: FilesystemBackend) -> None:
    root = backend.root_dir
    (root / "a").symlink_to(root / "b")
    (root / "b").symlink_to(root / "a")
    assert backend.read("/a").error
    assert backend.write("/a", "x").error
    assert backend.edit("/a", "x", "y").error
    assert backend.ls("/a").error
    assert backend.download_files(["/a"])[0].error in ("invalid_path", "file_not_found")
    assert backend.delete("/a").error is None  # the link itself goes
    assert not (root / "a").is_symlink()


def test_listing_a_file_and_reading_a_folder_are_errors(backend: FilesystemBackend) -> None:
    backend.write("/f.txt", "x")
    (backend.root_dir / "folder").mkdir()
    assert "not_a_directory" in (backend.ls("/f.txt").error or "")
    assert "path_not_found" in (backend.ls("/missing").error or "")
    assert backend.read("/folder").error
    assert backend.download_files(["/folder"])[0].error == "is_directory"


def test_a_glob_that_climbs_out_is_refused(backend: FilesystemBackend) -> None:
    result = backend.glob("../*")
    assert result.error and result.matches is None
    assert backend.grep("x", glob="../*").error


def test_grep_can_search_one_file(backend: FilesystemBackend) -> None:
    backend.write("/a.txt", "needle\nhay\n")
    backend.write("/b.txt", "needle\n")
    matches = backend.grep("needle", path="/a.txt").matches or []
    assert [(m["path"], m["line"]) for m in matches] == [("/a.txt", 1)]


def test_deleting_what_is_not_there_is_an_error(backend: FilesystemBackend) -> None:
    assert "not found" in (backend.delete("/missing.txt").error or "")


async def test_the_async_twins_answer_like_the_sync_methods(backend: FilesystemBackend) -> None:
    assert (await backend.awrite("/n/a.md", "alpha\n")).error is None
    assert (await backend.aedit("/n/a.md", "alpha", "beta")).occurrences == 1
    read = await backend.aread("/n/a.md")
    assert read.file_data is not None and read.file_data["content"] == "beta\n"
    assert [e["path"] for e in (await backend.als("/n")).entries or []] == ["/n/a.md"]
    assert [m["path"] for m in (await backend.aglob("*.md")).matches or []] == ["/n/a.md"]
    assert [m["path"] for m in (await backend.agrep("beta")).matches or []] == ["/n/a.md"]
    assert (await backend.agrep("x", path="/a\x00b")).error
    assert (await backend.adelete("/n")).error is None
    assert not (backend.root_dir / "n").exists()


async def test_files_written_by_tools_and_by_commands_are_the_same_files(
    backend: FilesystemBackend,
) -> None:
    backend.write("/script.sh", "echo from-script\n")
    assert (await backend.aexecute("sh script.sh > made.txt")).exit_code == 0
    read = backend.read("/made.txt")
    assert read.file_data is not None and read.file_data["content"] == "from-script\n"
