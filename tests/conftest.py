"""Shared fixtures. Tests use real components; see ../shared/STYLE.md."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
CONTRACT_DIR = Path(__file__).resolve().parent / "contract"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
