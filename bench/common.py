"""Measuring side by side: alternating rounds, medians and p95, one results table."""

from __future__ import annotations

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

HERE = Path(__file__).resolve().parent


@dataclass
class Comparison:
    benchmark: str
    measure: str
    unit: str
    ours: list[float] = field(default_factory=list)
    theirs: list[float] = field(default_factory=list)
    alternative: str = ""
    target: str = ""
    lower_is_better: bool = True
    note: str = ""

    @property
    def ours_median(self) -> float:
        return statistics.median(self.ours)

    @property
    def theirs_median(self) -> float | None:
        return statistics.median(self.theirs) if self.theirs else None

    @property
    def ratio(self) -> float | None:
        theirs = self.theirs_median
        if theirs is None or theirs == 0:
            return None
        return self.ours_median / theirs

    def row(self) -> str:
        theirs = self.theirs_median
        ratio = self.ratio
        ours = f"{fmt(self.ours_median)} (p95 {fmt(p95(self.ours))}) {self.unit}"
        alternative = (
            f"{self.alternative}: {fmt(theirs)} (p95 {fmt(p95(self.theirs))}) {self.unit}"
            if theirs is not None
            else self.alternative or "-"
        )
        shown_ratio = f"{ratio:.2f}x" if ratio is not None else "-"
        return (
            f"| {self.benchmark} | {self.measure} | {ours} | {alternative} | {shown_ratio} "
            f"| {self.target or '-'} |"
        )


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
) -> tuple[list[float], list[float]]:
    """Run both sides in turn, `rounds` times each, starting with a different side each round."""
    mine: list[float] = []
    other: list[float] = []
    for n in range(rounds):
        order = [(ours, mine), (theirs, other)]
        for run, out in order if n % 2 == 0 else reversed(order):
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


def previous_results() -> list[Comparison]:
    """The comparisons in results.json, so that running a few benchmarks keeps the others."""
    try:
        stored = json.loads((HERE / "results.json").read_text())["comparisons"]
    except FileNotFoundError:
        return []
    except (ValueError, KeyError, TypeError) as err:
        print(f"bench/results.json is not readable ({err}); it will hold only this run's rows")
        return []
    fields = Comparison.__dataclass_fields__
    return [Comparison(**{k: v for k, v in c.items() if k in fields}) for c in stored]


def merged(previous: list[Comparison], fresh: list[Comparison]) -> list[Comparison]:
    """`previous` with each benchmark that ran again replaced by its fresh figures."""
    by_name = {c.benchmark: c for c in fresh}
    kept = [by_name.pop(c.benchmark, c) for c in previous]
    return kept + list(by_name.values())


def write_results(comparisons: list[Comparison], extra: dict[str, object]) -> None:
    info = machine()
    lines = [
        "# Benchmark results",
        "",
        f"Machine: {info['platform']}, {info['cpus']} CPUs, {info['memory']}, "
        f"Python {info['python']}.",
        "Each comparison ran both sides in the same process run, alternating, over several rounds;",
        "figures are medians with the 95th percentile. The ratio is ours / the alternative",
        "(below 1 means we are faster or smaller). Produced by `make bench`.",
        "",
        "| benchmark | measured | ours | alternative | ratio | target |",
        "|---|---|---|---|---|---|",
        *[c.row() for c in comparisons],
        "",
    ]
    notes = [f"- **{c.benchmark}**: {c.note}" for c in comparisons if c.note]
    if notes:
        lines += ["## Notes", "", *notes, ""]
    (HERE / "RESULTS.md").write_text("\n".join(lines))
    (HERE / "results.json").write_text(
        json.dumps(
            {
                "machine": info,
                "comparisons": [asdict(c) | {"ratio": c.ratio} for c in comparisons],
                **extra,
            },
            indent=2,
        )
    )
