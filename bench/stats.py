"""The statistics of a comparison: paired rounds, a bootstrap interval, a verdict on a target.

A comparison runs both sides alternately, one pair of measurements per round.
The load on a shared machine drifts between rounds far more than within one,
so each round's ratio (ours / theirs) carries the comparison, and their
geometric mean is the estimate. The 95% interval comes from resampling whole
rounds (a percentile bootstrap over the pairs): it is as wide as the noise
between rounds makes it, and it narrows with more rounds.

A target is met only when the whole interval meets it: for "at most", its
upper end; for "at least", its lower end.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

Item = TypeVar("Item")

RESAMPLES = 4000
CONFIDENCE = 0.95
SEED = 19
"""Fixed, so that the same samples always give the same interval."""


@dataclass(frozen=True)
class Interval:
    """An estimate with its confidence interval."""

    estimate: float
    low: float
    high: float


@dataclass(frozen=True)
class Target:
    """A bound a figure should meet: `value` is at most (or at least) `bound`."""

    bound: float
    at_most: bool = True
    """True: the figure must not exceed `bound`; False: it must reach it."""
    of: Literal["ratio", "ours"] = "ratio"
    """What the bound is on: the ratio ours / theirs, or our own figure."""
    strict: bool = False
    """`<` or `>` instead of `<=` or `>=`."""

    def describe(self, unit: str = "") -> str:
        sign = ("<" if self.strict else "<=") if self.at_most else (">" if self.strict else ">=")
        if self.of == "ratio":
            return f"{sign} {self.bound:g}x"
        return f"{sign} {self.bound:g} {unit}".rstrip()

    def met_by(self, interval: Interval) -> bool:
        """Whether the pessimistic end of `interval` meets the bound."""
        if self.at_most:
            end = interval.high
            return end < self.bound if self.strict else end <= self.bound
        end = interval.low
        return end > self.bound if self.strict else end >= self.bound


def percentile(values: Sequence[float], fraction: float) -> float:
    """The `fraction` quantile of `values`, interpolating linearly between order statistics."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be within [0, 1], not {fraction}")
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    weight = position - below
    return ordered[below] * (1 - weight) + ordered[above] * weight


def bootstrap(
    items: Sequence[Item],
    statistic: Callable[[Sequence[Item]], float],
    *,
    resamples: int = RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = SEED,
) -> Interval:
    """`statistic` of `items` with its percentile-bootstrap interval, `items` resampled whole."""
    if not items:
        raise ValueError("bootstrap of no items")
    estimate = statistic(items)
    if len(items) == 1:
        return Interval(estimate, estimate, estimate)
    rng = random.Random(seed)
    count = len(items)
    replicates = [
        statistic([items[rng.randrange(count)] for _ in range(count)]) for _ in range(resamples)
    ]
    tail = (1 - confidence) / 2
    return Interval(estimate, percentile(replicates, tail), percentile(replicates, 1 - tail))


def geometric_mean(values: Sequence[float]) -> float:
    return math.exp(statistics.fmean(math.log(v) for v in values))


def paired_ratio(ours: Sequence[float], theirs: Sequence[float], **options: int) -> Interval:
    """Geometric mean of the per-round ratios ours[i] / theirs[i], with its interval."""
    if len(ours) != len(theirs):
        raise ValueError(f"paired rounds differ in number: {len(ours)} and {len(theirs)}")
    if any(v <= 0 for v in (*ours, *theirs)):
        raise ValueError("a paired ratio needs positive measurements")
    ratios = [o / t for o, t in zip(ours, theirs, strict=True)]
    return bootstrap(ratios, geometric_mean, **options)


def median_interval(values: Sequence[float], **options: int) -> Interval:
    """The median of `values` with its interval."""
    return bootstrap(values, statistics.median, **options)


def pooled_percentile(
    groups: Sequence[Sequence[float]], fraction: float, **options: int
) -> Interval:
    """The `fraction` quantile of all values pooled, resampling whole groups (runs): values of
    one run share its conditions, so a run is the unit that is independent."""

    def statistic(sample: Sequence[Sequence[float]]) -> float:
        return percentile([v for group in sample for v in group], fraction)

    return bootstrap([list(g) for g in groups if g], statistic, **options)


def slope(points: Sequence[tuple[float, float]]) -> float:
    """Least-squares slope of y over x."""
    xs = [x for x, _ in points]
    ys = [y for _, y in points]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    if spread == 0:
        raise ValueError("a slope needs at least two distinct x values")
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread


def slope_interval(rounds: Sequence[Sequence[tuple[float, float]]], **options: int) -> Interval:
    """The slope of all rounds' points together, resampling whole rounds."""

    def statistic(sample: Sequence[Sequence[tuple[float, float]]]) -> float:
        return slope([point for round_ in sample for point in round_])

    return bootstrap([list(r) for r in rounds], statistic, **options)


def staleness_ms(changes: Sequence[float], pushes: Sequence[tuple[float, float]]) -> list[float]:
    """How long each change waited to be delivered (ms): from the change (a time, s) to the
    end of the first push (start, end) that started at or after it, whose snapshot, taken
    as it started, carried the change."""
    waits: list[float] = []
    ordered = sorted(pushes)
    index = 0
    for changed in sorted(changes):
        while index < len(ordered) and ordered[index][0] < changed:
            index += 1
        if index == len(ordered):
            raise ValueError(f"the change at {changed} was never pushed")
        waits.append((ordered[index][1] - changed) * 1000)
    return waits
