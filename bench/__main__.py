"""`make bench`: every benchmark, side by side with its alternative; writes RESULTS.md and
results.json. Benchmarks are not tests: nothing here asserts a time."""

from __future__ import annotations

import asyncio
import logging
import sys
import time

from bench.cases import ALL
from bench.common import (
    Comparison,
    load_average,
    merged,
    previous_results,
    quick,
    write_results,
)
from graphton.tracing import skip_langsmith_thread_hops


async def main(selected: list[str]) -> None:
    names = [case.__name__ for case in ALL]
    unknown = sorted(set(selected) - set(names))
    if unknown:
        sys.exit(f"no benchmark named {', '.join(unknown)}; the benchmarks are: {', '.join(names)}")
    logging.basicConfig(level=logging.WARNING)
    # As the worker does: LangSmith's per-hook bookkeeping stays on the loop when
    # nothing is traced. Process-wide, so both sides of every comparison run so.
    skip_langsmith_thread_hops()
    previous, runs = previous_results()
    if not selected:  # a full run replaces every row
        previous, runs = [], {}
    comparisons: list[Comparison] = []
    mode = "quick" if quick() else "full"
    for case in ALL:
        if selected and case.__name__ not in selected:
            continue
        started, load_before = time.perf_counter(), load_average()
        print(f"running {case.__name__} ({mode}) ...", flush=True)
        results = await case()
        for result in results:
            result.case = case.__name__
            print("  " + result.row(), flush=True)
        comparisons += results
        elapsed = time.perf_counter() - started
        runs[case.__name__] = (
            f"load {load_before:.1f} -> {load_average():.1f}, {elapsed:.0f} s, {mode} mode, "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
        )
        print(f"  ({elapsed:.0f}s)", flush=True)
    write_results(merged(previous, comparisons, names), runs)
    print("wrote bench/RESULTS.md and bench/results.json")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
