"""The benchmarks' rows: verdicts from intervals, partial runs merged, results read back."""

from __future__ import annotations

import json

from bench.common import Comparison, merged
from bench.stats import Interval, Target


def _row(case: str, measure: str = "m", **fields: object) -> Comparison:
    row = Comparison("b", measure, "ms", **fields)  # type: ignore[arg-type]
    row.case = case
    return row


def test_a_row_meets_its_target_only_when_its_interval_does() -> None:
    # Ours is 1.00x the alternative in half the rounds and 1.10x in the other half:
    # the estimate (1.05x) meets "<= 1.05x", the interval does not.
    row = _row("c", ours=[1.0, 1.1] * 10, theirs=[1.0] * 20, target=Target(1.05))
    result = row.result()
    assert result is not None
    assert result.estimate <= 1.05 < result.high
    assert row.verdict() == "not met"
    steady = _row("c", ours=[1.0] * 10, theirs=[1.0] * 10, target=Target(1.05))
    assert steady.verdict() == "met"


def test_a_row_without_an_alternative_judges_its_own_figure() -> None:
    row = _row("c", ours=[250.0, 260.0, 270.0], target=Target(300, of="ours", strict=True))
    assert row.verdict() == "met"
    row.figure = Interval(280, 260, 310)
    assert row.verdict() == "not met"
    assert "[260, 310]" in row.row()


def test_a_row_without_a_target_has_no_verdict() -> None:
    assert _row("c", ours=[1.0], theirs=[2.0]).verdict() == "-"


def test_a_partial_run_replaces_its_cases_rows_and_keeps_the_others_in_order() -> None:
    previous = [_row("a", "a1"), _row("b", "b1"), _row("b", "b2"), _row("c", "c1")]
    fresh = [_row("b", "b1 again"), _row("b", "b2 again"), _row("b", "b3 new")]
    rows = merged(previous, fresh, ["a", "b", "c"])
    assert [r.measure for r in rows] == ["a1", "b1 again", "b2 again", "b3 new", "c1"]


def test_rows_survive_a_round_trip_through_results_json() -> None:
    row = _row(
        "c",
        ours=[1.0, 2.0],
        theirs=[2.0, 2.0],
        target=Target(0.2),
        figure=Interval(1.0, 0.5, 1.5),
        statistic="slope",
    )
    back = Comparison.from_json(json.loads(json.dumps(row.to_json())))
    assert back == row
    assert back.verdict() == row.verdict() == "not met"


def test_rows_of_cases_that_no_longer_exist_are_dropped() -> None:
    previous = [_row("", "from an older results.json"), _row("gone", "g1"), _row("a", "a1")]
    rows = merged(previous, [_row("b", "b1")], ["a", "b"])
    assert [r.measure for r in rows] == ["a1", "b1"]
