"""Measuring side by side: alternating rounds, intervals, one results table."""

from __future__ import annotations

import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.stats import Interval, Target, median_interval, paired_ratio

HERE = Path(__file__).resolve().parent


@dataclass
class Comparison:
    """One row: our figure against the alternative's (or alone), over paired rounds."""

    benchmark: str
    measure: str
    unit: str
    ours: list[float] = field(default_factory=list)
    theirs: list[float] = field(default_factory=list)
    """Paired with `ours` by round, when there is an alternative."""
    alternative: str = ""
    target: Target | None = None
    note: str = ""
    case: str = ""
    """The function in cases that made this row (set by `python -m bench`)."""
    statistic: str = ""
    """What `figure` is when a case computed it itself (a pooled p95, a slope)."""
    figure: Interval | None = None
    """The row's result: given by the case, else the paired ratio (with an alternative)
    or the median of ours (without one)."""

    def result(self) -> Interval | None:
        if self.figure is not None:
            return self.figure
        if not self.ours:
            return None
        if self.theirs:
            try:
                return paired_ratio(self.ours, self.theirs)
            except ValueError:
                return None
        return median_interval(self.ours)

    @property
    def is_ratio(self) -> bool:
        return self.figure is None and bool(self.theirs)

    def verdict(self) -> str:
        result = self.result()
        if self.target is None or result is None:
            return "-"
        return "met" if self.target.met_by(result) else "not met"

    def shown_result(self) -> str:
        result = self.result()
        if result is None:
            return "-"
        if self.is_ratio:
            return f"{result.estimate:.2f}x [{result.low:.2f}, {result.high:.2f}]"
        what = self.statistic or "median"
        return (
            f"{what} {fmt(result.estimate)} [{fmt(result.low)}, {fmt(result.high)}] {self.unit}"
        ).rstrip()

    def row(self) -> str:
        ours = (
            f"{fmt(statistics.median(self.ours))} (p95 {fmt(p95(self.ours))}) {self.unit}"
            if self.ours
            else "-"
        )
        alternative = (
            f"{self.alternative}: {fmt(statistics.median(self.theirs))} "
            f"(p95 {fmt(p95(self.theirs))}) {self.unit}"
            if self.theirs
            else self.alternative or "-"
        )
        target = self.target.describe(self.unit) if self.target else "-"
        return (
            f"| {self.benchmark} | {self.measure} | {len(self.ours)} | {ours} | {alternative} "
            f"| {self.shown_result()} | {target} | {self.verdict()} |"
        )

    def to_json(self) -> dict[str, object]:
        result = self.result()
        return asdict(self) | {
            "result": asdict(result) if result else None,
            "verdict": self.verdict(),
        }

    @classmethod
    def from_json(cls, stored: dict[str, object]) -> Comparison:
        fields = cls.__dataclass_fields__
        values: dict[str, Any] = {k: v for k, v in stored.items() if k in fields}
        if isinstance(values.get("target"), dict):
            values["target"] = Target(**values["target"])
        elif not isinstance(values.get("target"), Target):
            values["target"] = None
        if isinstance(values.get("figure"), dict):
            values["figure"] = Interval(**values["figure"])
        return cls(**values)


def fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 1:
        return f"{value:.2f}"
    return f"{value:.4f}"


def p95(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


async def alternate(
    ours: Callable[[], Awaitable[float]],
    theirs: Callable[[], Awaitable[float]],
    rounds: int,
    *,
    warmup: int = 1,
) -> tuple[list[float], list[float]]:
    """Run both sides in turn, `rounds` times each, starting with a different side each round.

    Each side first runs `warmup` times untimed (first-use costs: imports, caches, the
    first connection). Each run starts after a full garbage collection: a run leaves
    cycles (an agent's graph, its messages) that the collector would otherwise sweep
    in the middle of the next run, whichever side that is.
    """
    for _ in range(warmup):
        for run in (ours, theirs):
            gc.collect()
            await run()
    mine: list[float] = []
    other: list[float] = []
    for n in range(rounds):
        order = [(ours, mine), (theirs, other)]
        for run, out in order if n % 2 == 0 else reversed(order):
            gc.collect()
            out.append(await run())
    return mine, other


def machine() -> dict[str, str]:
    return {
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "cpus": str(os.cpu_count()),
        "memory": _memory(),
    }


def _memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
    except OSError:
        pass
    return "unknown"


def peak_rss_mib_of(code: str) -> tuple[float, float]:
    """Run `code` in a fresh interpreter; its peak RSS (MiB) and wall time (s)."""
    wrapper = (
        "import resource, time\n"
        "start = time.perf_counter()\n"
        f"{code}\n"
        "elapsed = time.perf_counter() - start\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, elapsed)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", wrapper], capture_output=True, text=True, check=True, timeout=600
    ).stdout.split()
    return float(out[-2]), float(out[-1])


def now() -> float:
    return time.perf_counter()


def quick() -> bool:
    """`BENCH_QUICK=1`: few rounds, to check that every case runs; the intervals are wide."""
    return os.environ.get("BENCH_QUICK", "") not in ("", "0")


def rounds(full: int, fast: int) -> int:
    return fast if quick() else full


def load_average() -> float:
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return float("nan")


def previous_results() -> tuple[list[Comparison], dict[str, Any]]:
    """The rows in results.json and its run notes, so that running a few benchmarks keeps
    the others."""
    try:
        stored = json.loads((HERE / "results.json").read_text())
        rows = [Comparison.from_json(c) for c in stored["comparisons"]]
        return rows, dict(stored.get("runs", {}))
    except FileNotFoundError:
        return [], {}
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        print(f"bench/results.json is not readable ({err}); it will hold only this run's rows")
        return [], {}


def merged(
    previous: list[Comparison], fresh: list[Comparison], order: list[str]
) -> list[Comparison]:
    """Every case's rows in `order`: fresh rows for the cases that ran again, the earlier
    rows for the others; rows of cases not in `order` are dropped."""
    ran = {c.case for c in fresh}
    # Rows of cases that no longer exist (or of an older results.json without cases) go.
    rows = [c for c in previous if c.case not in ran and c.case in order] + fresh
    position = {name: n for n, name in enumerate(order)}
    return sorted(rows, key=lambda c: position.get(c.case, len(order)))


def write_results(comparisons: list[Comparison], runs: dict[str, Any]) -> None:
    info = machine()
    lines = [
        "# Benchmark results",
        "",
        f"Machine: {info['platform']}, {info['cpus']} CPUs, {info['memory']}, "
        f"Python {info['python']}.",
        "",
        "Each comparison ran both sides alternately in the same process run, one pair per round",
        "(`rounds`). **result** is the geometric mean of the rounds' ratios ours / alternative",
        "(below 1: we are faster or smaller) with its 95% interval from a bootstrap over the",
        "rounds; a row without an alternative shows its own statistic and interval. A target",
        "is **met** only when the whole interval meets it (the upper end of an upper bound).",
        "Produced by `make bench` (see bench/README.md).",
        "",
        "Load while each case ran (1-minute load average at its start and end, on "
        f"{info['cpus']} CPUs):",
        "",
        *[f"- {name}: {note}" for name, note in runs.items()],
        "",
        "| benchmark | measured | rounds | ours | alternative | result [95% interval] "
        "| target | met |",
        "|---|---|---|---|---|---|---|---|",
        *[c.row() for c in comparisons],
        "",
    ]
    notes = [f"- **{c.benchmark}** ({c.measure}): {c.note}" for c in comparisons if c.note]
    if notes:
        lines += ["## Notes", "", *notes, ""]
    findings = HERE / "FINDINGS.md"
    if findings.exists():  # a person's reading of a run, kept when the table is rewritten
        lines += [findings.read_text().rstrip(), ""]
    (HERE / "RESULTS.md").write_text("\n".join(lines))
    (HERE / "results.json").write_text(
        json.dumps(
            {
                "machine": info,
                "runs": runs,
                "comparisons": [c.to_json() for c in comparisons],
            },
            indent=2,
        )
    )
