"""A running command's output reaches a listener as it comes, masked, bounded.

The commands wait for a file the test creates only once the listener has heard
their first line: output heard only at the end would leave them waiting until
their timeout, and the test would fail.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from graphton import FilesystemBackend
from graphton.sandbox.live_output import listening

pytestmark = pytest.mark.anyio

SECRET = "Zq8Rt5Lw2Yp7Kd4N"


def mask(text: str) -> str:
    return text.replace(SECRET, "***")


mask.max_match_length = len(SECRET)  # type: ignore[attr-defined]


def wait_for(go: Path) -> str:
    return f"while [ ! -e {go} ]; do sleep 0.05; done"


async def test_the_listener_hears_output_while_the_command_runs(tmp_path: Path) -> None:
    backend = FilesystemBackend(tmp_path / "root")
    go = tmp_path / "go"
    heard: list[str] = []

    def listener(text: str) -> None:
        heard.append(text)
        if "first" in "".join(heard):
            go.touch()

    command = f"echo first; echo oops >&2; {wait_for(go)}; echo second"
    with listening(listener):
        result = await backend.aexecute(command, timeout=60)
    assert result.exit_code == 0 and result.stdout == "first\nsecond\n"
    said = "".join(heard)
    assert said.index("first") < said.index("second")
    assert "oops" in said  # stderr too, as it comes


async def test_a_secret_split_between_two_writes_is_masked_live(tmp_path: Path) -> None:
    backend = FilesystemBackend(tmp_path / "root", output_filter=mask)
    heard: list[str] = []
    half = len(SECRET) // 2
    command = f"printf '%s' 'key={SECRET[:half]}'; sleep 0.3; printf '%s\\n' '{SECRET[half:]} end'"
    with listening(heard.append):
        await backend.aexecute(command, timeout=60)
    assert len(heard) >= 1
    said = "".join(heard)
    assert said == "key=*** end\n"
    assert not any(SECRET[:half] in piece or SECRET[half:] in piece for piece in heard)


async def test_only_the_head_the_result_keeps_is_handed_on(tmp_path: Path) -> None:
    backend = FilesystemBackend(tmp_path / "root", max_output_bytes=1000)
    heard: list[str] = []
    with listening(heard.append):
        result = await backend.aexecute("yes | head -c 100000", timeout=60)
    assert result.truncated is False  # the spool keeps the whole output
    assert len("".join(heard)) == 1000


async def test_commands_outside_a_listening_context_are_not_heard(tmp_path: Path) -> None:
    backend = FilesystemBackend(tmp_path / "root")
    heard: list[str] = []
    with listening(heard.append):
        with listening(None):  # e.g. a subagent's command inside a watched call
            await backend.aexecute("echo nested")
        await asyncio.gather(backend.aexecute("echo one"), backend.aexecute("echo two"))
    await backend.aexecute("echo after")
    assert sorted(re.findall(r"\w+", "".join(heard))) == ["one", "two"]


async def test_the_blocking_execute_called_from_a_loop_is_heard_too(tmp_path: Path) -> None:
    """A synchronous tool inside a running loop: the command runs on a helper thread,
    which must still see the listener of the call."""
    backend = FilesystemBackend(tmp_path / "root")
    heard: list[str] = []
    with listening(heard.append):
        result = backend.execute("echo from-a-thread")
    assert result.stdout == "from-a-thread\n"
    assert "".join(heard) == "from-a-thread\n"


async def test_a_failing_listener_costs_the_command_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The listener fails on the last piece of stdout (a UTF-8 byte whose sequence never
    ends), handed on as the command is closed: the result must not become an error, and
    a stream whose listener failed is not handed on any more."""
    backend = FilesystemBackend(tmp_path / "root")
    heard: list[str] = []

    def fails_on_the_last_piece(text: str) -> None:
        heard.append(text)
        if "\ufffd" in text:
            raise RuntimeError("the view went away")

    with listening(fails_on_the_last_piece):
        result = await backend.aexecute("printf 'ok\\303'; echo err >&2; exit 3", timeout=60)
    assert (result.exit_code, result.stdout, result.stderr) == (3, "ok\ufffd", "err\n")
    assert sorted(heard) == ["err\n", "ok", "\ufffd"]
    failures = [r for r in caplog.records if "live output could not be handed on" in r.message]
    assert len(failures) == 1 and "the view went away" in caplog.text

    with listening(fails_on_the_last_piece):  # fails at once: the rest is not handed on
        heard.clear()
        result = await backend.aexecute("printf '\\303x'; sleep 0.2; echo more", timeout=60)
    assert result.stdout == "\ufffdxmore\n" and heard == ["\ufffdx"]
