"""The benchmarks' statistics, on constructed data whose answer is known."""

from __future__ import annotations

import math
import random

import pytest

from bench.stats import (
    Interval,
    Target,
    bootstrap,
    geometric_mean,
    median_interval,
    paired_ratio,
    percentile,
    pooled_percentile,
    slope,
    slope_interval,
    staleness_ms,
)


def test_percentile_interpolates_between_order_statistics() -> None:
    values = [5.0, 1.0, 4.0, 2.0, 3.0]
    assert percentile(values, 0.0) == 1.0
    assert percentile(values, 0.5) == 3.0
    assert percentile(values, 0.25) == 2.0
    assert percentile(values, 0.95) == pytest.approx(4.8)
    assert percentile(values, 1.0) == 5.0
    with pytest.raises(ValueError):
        percentile([], 0.5)
    with pytest.raises(ValueError):
        percentile(values, 1.5)


def test_a_constant_ratio_has_a_zero_width_interval_whatever_the_load() -> None:
    # The alternative's time drifts a hundredfold between rounds (load); ours is
    # always twice it within the round. Pairing cancels the drift entirely.
    theirs = [1.0, 10.0, 100.0, 3.0, 40.0, 7.0]
    ours = [2 * t for t in theirs]
    interval = paired_ratio(ours, theirs)
    assert interval.estimate == pytest.approx(2.0)
    assert interval.low == pytest.approx(2.0)
    assert interval.high == pytest.approx(2.0)


def test_the_ratio_is_the_geometric_mean_of_the_rounds_ratios() -> None:
    # Ratios alternate 1 and 4: their geometric mean is 2, and every resample
    # lies between 1 and 4.
    theirs = [1.0] * 20
    ours = [1.0, 4.0] * 10
    interval = paired_ratio(ours, theirs)
    assert interval.estimate == pytest.approx(2.0)
    assert 1.0 <= interval.low < 2.0 < interval.high <= 4.0
    assert geometric_mean([1.0, 4.0]) == pytest.approx(2.0)


def test_more_rounds_give_a_narrower_interval() -> None:
    rng = random.Random(7)

    def ratios(n: int) -> list[float]:
        return [math.exp(rng.gauss(math.log(1.2), 0.2)) for _ in range(n)]

    few, many = ratios(8), ratios(200)
    narrow = paired_ratio(many, [1.0] * len(many))
    wide = paired_ratio(few, [1.0] * len(few))
    assert narrow.high - narrow.low < wide.high - wide.low
    assert narrow.low < 1.2 < narrow.high


def test_the_interval_covers_the_true_ratio_about_95_times_in_100() -> None:
    # 100 experiments of 20 rounds each, ratios log-normal around a true 1.5.
    rng = random.Random(11)
    covered = 0
    for _ in range(100):
        ratios = [math.exp(rng.gauss(math.log(1.5), 0.15)) for _ in range(20)]
        interval = paired_ratio(ratios, [1.0] * 20, resamples=400, seed=rng.randrange(10**6))
        covered += interval.low <= 1.5 <= interval.high
    assert 85 <= covered <= 100


def test_paired_rounds_must_pair_and_be_positive() -> None:
    with pytest.raises(ValueError, match="differ in number"):
        paired_ratio([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="positive"):
        paired_ratio([1.0, 0.0], [1.0, 1.0])


def test_the_same_samples_always_give_the_same_interval() -> None:
    values = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0]
    assert median_interval(values) == median_interval(values)
    one = median_interval([7.0])
    assert one == Interval(7.0, 7.0, 7.0)


def test_bootstrap_of_the_median_brackets_it() -> None:
    interval = bootstrap(list(range(1, 102)), lambda s: float(sorted(s)[len(s) // 2]))
    assert interval.estimate == 51
    assert interval.low < 51 < interval.high


def test_an_at_most_target_is_met_only_when_the_upper_end_meets_it() -> None:
    target = Target(1.05)
    assert target.met_by(Interval(1.0, 0.97, 1.05))
    assert not target.met_by(Interval(1.0, 0.97, 1.06))  # the estimate alone would pass
    assert not Target(300, of="ours", strict=True).met_by(Interval(250, 200, 300))
    assert Target(300, of="ours", strict=True).met_by(Interval(250, 200, 299))


def test_an_at_least_target_is_met_only_when_the_lower_end_meets_it() -> None:
    target = Target(1.6, at_most=False)
    assert target.met_by(Interval(1.8, 1.6, 2.0))
    assert not target.met_by(Interval(1.8, 1.59, 2.0))


def test_targets_describe_themselves() -> None:
    assert Target(1.05).describe() == "<= 1.05x"
    assert Target(1.6, at_most=False).describe() == ">= 1.6x"
    assert Target(300, of="ours", strict=True).describe("ms") == "< 300 ms"


def test_a_p95_pooled_over_runs_resamples_whole_runs() -> None:
    runs = [[float(v) for v in range(1, 101)]] * 5
    interval = pooled_percentile(runs, 0.95)
    assert interval.estimate == pytest.approx(95.05)
    assert interval.low == interval.high == pytest.approx(95.05)


def test_the_slope_of_a_line_is_its_slope_whatever_each_rounds_offset() -> None:
    # RSS grows 3 MiB per concurrent execution; each round starts from its own
    # baseline (100, 140, 90 MiB), as a process on a busy machine does.
    rounds = [[(c, base + 3.0 * c) for c in (1, 10, 50)] for base in (100.0, 140.0, 90.0)]
    assert slope(rounds[0]) == pytest.approx(3.0)
    interval = slope_interval(rounds)
    assert interval.estimate == pytest.approx(3.0)
    assert interval.low == pytest.approx(3.0)
    assert interval.high == pytest.approx(3.0)
    with pytest.raises(ValueError):
        slope([(1.0, 2.0), (1.0, 3.0)])


def test_a_change_waits_until_the_end_of_the_first_push_that_started_after_it() -> None:
    pushes = [(0.25, 0.30), (0.15, 0.20)]  # (start, end), in any order
    changes = [0.0, 0.1, 0.15, 0.2]
    # 0.0 and 0.1 ride the push starting at 0.15 (ends 0.20); 0.15 too (its snapshot
    # is taken as it starts); 0.2 waits for the push starting at 0.25 (ends 0.30).
    assert staleness_ms(changes, pushes) == pytest.approx([200.0, 100.0, 50.0, 100.0])
    with pytest.raises(ValueError, match="never pushed"):
        staleness_ms([0.4], pushes)
