"""Shared fixtures. Tests use real components; see ../shared/STYLE.md."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.daytona_api import (
    DAYTONA_TEST_KEY,
    FakeDaytona,
    start_fake_daytona,
    stop_fake_daytona,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
CONTRACT_DIR = Path(__file__).resolve().parent / "contract"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def daytona_cloud(tmp_path: Path) -> AsyncIterator[FakeDaytona]:
    """The fake Daytona cloud (tests/daytona_api.py) on a free loopback port, for one test;
    each sandbox's working folder is under `tmp_path / "daytona"`."""
    fake, runner = await start_fake_daytona(DAYTONA_TEST_KEY, tmp_path / "daytona")
    yield fake
    await stop_fake_daytona(fake, runner)
