"""pytest plugin: each skill scenario (`skills/<name>/tests/*.yaml`) is a test.

Turn it on in a `conftest.py` (`pytest_plugins = ["agent_runner.skilltools.pytest_plugin"]`)
or on the command line (`pytest -p agent_runner.skilltools.pytest_plugin skills/`).
Scenarios that need a live model are skipped when none is configured.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent_runner.skills import SKILL_FILE
from agent_runner.skilltools.scenarios import ScenarioResult, run_scenario


class ScenarioFailed(Exception):
    def __init__(self, result: ScenarioResult) -> None:
        super().__init__("\n".join(result.failures))
        self.result = result


def pytest_collect_file(parent: pytest.Collector, file_path: Path) -> pytest.File | None:
    is_scenario = (
        file_path.suffix == ".yaml"
        and file_path.parent.name == "tests"
        and (file_path.parent.parent / SKILL_FILE).is_file()
    )
    return ScenarioFile.from_parent(parent, path=file_path) if is_scenario else None


class ScenarioFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        yield ScenarioItem.from_parent(self, name=self.path.stem)


class ScenarioItem(pytest.Item):
    def runtest(self) -> None:
        result = asyncio.run(run_scenario(self.path))
        if result.skipped:
            pytest.skip(result.skipped)
        if result.failures:
            raise ScenarioFailed(result)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, ScenarioFailed):
            return "scenario failed:\n  " + "\n  ".join(excinfo.value.result.failures)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"skill scenario {self.name}"
