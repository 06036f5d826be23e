"""ResultKeeper: whole results the status cut, kept in the local sandbox, bounded."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest

from agent_runner.local.web.outputs import OUTPUT_NAME, read_page
from agent_runner.status.kept_results import ResultKeeper


def test_a_result_is_kept_private_and_the_web_views_pager_reads_it(tmp_path: Path) -> None:
    keeper = ResultKeeper(tmp_path, "aex-1")
    where = keeper("toolu_01/../x", "line\n" * 50_000)
    assert where == "/.agent-runner/outputs/result-aex-1-toolu_01____x.stdout"
    path = tmp_path / where.lstrip("/")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    page = read_page(tmp_path, path.name, 0)
    assert page.size == 250_000 and page.text.startswith("line\nline\n")


def test_past_the_budget_nothing_more_is_kept(tmp_path: Path) -> None:
    keeper = ResultKeeper(tmp_path, "aex-1", budget_bytes=1500)
    assert keeper("a", "x" * 1000) is not None
    assert keeper("b", "x" * 1000) is None
    assert keeper("c", "x" * 400) is not None


def test_a_link_planted_at_the_name_is_not_followed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("untouched")
    folder = tmp_path / "root" / ".agent-runner" / "outputs"
    folder.mkdir(parents=True)
    (folder / "result-aex-1-c1.stdout").symlink_to(outside)
    with caplog.at_level(logging.WARNING):
        assert ResultKeeper(tmp_path / "root", "aex-1")("c1", "secret-free text") is None
    assert outside.read_text() == "untouched"
    assert "cannot be kept" in caplog.text


def test_executions_of_one_workspace_never_overwrite_each_others_results(
    tmp_path: Path,
) -> None:
    """The scripted model names its calls call_1_1, call_2_1, ... in every execution."""
    first = ResultKeeper(tmp_path, "aex-aaaa")("call_1_1", "first execution's")
    second = ResultKeeper(tmp_path, "aex-bbbb")("call_1_1", "second execution's")
    assert first != second
    assert (tmp_path / str(first).lstrip("/")).read_text() == "first execution's"


def test_a_long_call_id_gives_a_name_the_web_view_accepts_and_keeps_apart(
    tmp_path: Path,
) -> None:
    keeper = ResultKeeper(tmp_path, "aex-e7ede8b285424081")
    names = {str(keeper(f"{'x' * 80}{n}", "text")).rsplit("/", 1)[1] for n in range(3)}
    assert len(names) == 3
    assert all(OUTPUT_NAME.match(name) for name in names)
