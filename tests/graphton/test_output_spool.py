"""The full-output spool: bounded on disk, masked, honest about what it kept where."""

from __future__ import annotations

import json
import logging
import os
import re
import shlex
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from graphton import FilesystemBackend

pytestmark = pytest.mark.anyio

MIB = 1024 * 1024


def spooled(root: Path) -> list[Path]:
    folder = root / ".agent-runner" / "outputs"
    return sorted(folder.iterdir()) if folder.exists() else []


def kept_path(note: str, root: Path) -> Path:
    match = re.search(r" in (/\.agent-runner/outputs/\S+?)[;\]]", note)
    assert match, note
    return root / match.group(1).lstrip("/")


async def test_an_endless_printer_leaves_at_most_the_cap_on_disk(tmp_path: Path) -> None:
    backend = FilesystemBackend(tmp_path, max_output_bytes=1000, spool_stream_bytes=2 * MIB)
    result = await backend.aexecute("yes", timeout=3)
    assert result.timed_out and result.truncated
    [kept] = spooled(tmp_path)
    assert kept.stat().st_size <= 2 * MIB
    note = result.stdout.split("\n", 1)[0]
    assert f"its first {kept.stat().st_size} bytes are in /.agent-runner/outputs/{kept.name}" in (
        note
    )
    assert "the spool keeps at most 2097152 bytes per stream" in note
    assert kept.read_bytes()[:4] == b"y\ny\n"


async def test_the_execution_budget_bounds_every_command_together(tmp_path: Path) -> None:
    backend = FilesystemBackend(
        tmp_path, max_output_bytes=1000, spool_stream_bytes=2 * MIB, spool_total_bytes=3 * MIB
    )
    first = await backend.aexecute("head -c 2000000 /dev/zero | tr '\\0' a")
    second = await backend.aexecute("head -c 2000000 /dev/zero | tr '\\0' b")
    assert not first.truncated and "the whole output is in" in first.stdout
    assert second.truncated
    assert "the spool keeps at most 3145728 bytes per execution" in second.stdout
    assert sum(path.stat().st_size for path in spooled(tmp_path)) <= 3 * MIB


async def test_output_kept_whole_on_disk_is_not_truncated_and_the_note_says_where(
    tmp_path: Path,
) -> None:
    backend = FilesystemBackend(tmp_path, max_output_bytes=1000)
    result = await backend.aexecute("seq 1 100000")
    assert not result.truncated  # deepagents' meaning: nothing was discarded
    note = result.stdout.split("\n", 1)[0]
    assert note.startswith("[output too long: the first 1000 of 588895 bytes follow")
    assert note.endswith("the whole output is in " + note.rsplit(" in ", 1)[1])
    whole = "".join(f"{n}\n" for n in range(1, 100001)).encode()
    assert kept_path(note, tmp_path).read_bytes() == whole


class Redactor:
    max_match_length = len("s3cr3t-token-value")

    def __call__(self, text: str) -> str:
        return text.replace("s3cr3t-token-value", "***")


async def test_the_spool_is_masked_even_where_a_secret_straddles_two_reads(
    tmp_path: Path,
) -> None:
    backend = FilesystemBackend(tmp_path, max_output_bytes=1000, output_filter=Redactor())
    # 3 MB of lines whose odd lengths put the secret across every read boundary
    # (reads are 64 KiB or less) sooner or later.
    script = (
        "import sys\n"
        "for i in range(60000):\n"
        "    sys.stdout.write('x' * (i % 37) + 's3cr3t-token-value\\n')\n"
    )
    result = await backend.aexecute(f"{sys.executable} -c {shlex.quote(script)}")
    assert "s3cr3t" not in result.stdout
    kept = kept_path(result.stdout.split("\n", 1)[0], tmp_path).read_text()
    assert "s3cr3t" not in kept and "s3cr" not in kept.replace("***", "")
    assert kept.count("***") == 60000
    assert not result.truncated


async def test_a_partial_write_never_leaves_the_start_of_a_secret_at_the_cap(
    tmp_path: Path,
) -> None:
    backend = FilesystemBackend(
        tmp_path, max_output_bytes=10, spool_stream_bytes=100, output_filter=Redactor()
    )
    result = await backend.aexecute("printf '%090d' 0; printf 's3cr3t-token-value and more'")
    note = result.stdout.split("\n", 1)[0]
    kept = kept_path(note, tmp_path).read_bytes()
    # What the masker held back at the cap (the last 17 characters: they may, and
    # here do, hold the start of a secret) is not written.
    assert kept == b"0" * 83
    assert "its first 83 bytes are in" in note
    assert result.truncated


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """The spool folder on a 1 MiB tmpfs: a real full disk (needs root to mount)."""
    outputs = tmp_path / "root" / ".agent-runner" / "outputs"
    outputs.mkdir(parents=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(outputs)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield tmp_path / "root"
    finally:
        subprocess.run(["umount", str(outputs)], check=True)


async def test_a_full_disk_is_one_note_and_one_log_line(
    tiny_disk: Path, caplog: pytest.LogCaptureFixture
) -> None:
    backend = FilesystemBackend(tiny_disk, max_output_bytes=1000)
    with caplog.at_level(logging.DEBUG):
        result = await backend.aexecute("head -c 5000000 /dev/zero | tr '\\0' z")
    assert result.exit_code == 0 and result.truncated
    note = result.stdout.split("\n", 1)[0]
    assert "No space left on device" in note
    assert "the whole output is in" not in note
    [kept] = spooled(tiny_disk)
    size = kept.stat().st_size
    assert 0 < size <= MIB
    assert f"its first {size} bytes are in /.agent-runner/outputs/{kept.name}" in note
    records = [r for r in caplog.records if "could not be kept" in r.getMessage()]
    assert len(records) == 1 and records[0].exc_info is None
    assert "No space left on device" in records[0].getMessage()


def test_a_file_size_limit_is_one_note_too(tmp_path: Path) -> None:
    # Without root (no tmpfs), the same path is taken with RLIMIT_FSIZE in a
    # worker process of its own: writes past the limit fail with EFBIG.
    program = textwrap.dedent(
        f"""
        import asyncio, json, resource, signal
        from graphton import FilesystemBackend
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, ({MIB}, {MIB}))
        backend = FilesystemBackend({str(tmp_path)!r}, max_output_bytes=1000)
        result = asyncio.run(backend.aexecute("head -c 5000000 /dev/zero | tr '\\\\0' z"))
        print(json.dumps([result.exit_code, result.truncated, result.stdout[:400]]))
        """
    )
    run = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    exit_code, truncated, head = json.loads(run.stdout)
    assert (exit_code, truncated) == (0, True)
    assert "File too large" in head and "the whole output is in" not in head
    assert run.stderr.count("could not be kept") == 1
    assert "Traceback" not in run.stderr
    [kept] = spooled(tmp_path)
    assert kept.stat().st_size <= MIB
    assert os.path.getsize(kept) > 0
