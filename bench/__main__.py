"""`make bench`: every benchmark, side by side with its alternative; writes RESULTS.md and
results.json. Benchmarks are not tests: nothing here asserts a time."""

from __future__ import annotations

import asyncio
import logging
import sys
import time

from bench.cases import ALL
from bench.common import Comparison, merged, previous_results, write_results


async def main(selected: list[str]) -> None:
    unknown = sorted(set(selected) - {case.__name__ for case in ALL})
    if unknown:
        names = ", ".join(case.__name__ for case in ALL)
        sys.exit(f"no benchmark named {', '.join(unknown)}; the benchmarks are: {names}")
    logging.basicConfig(level=logging.WARNING)
    comparisons: list[Comparison] = []
    for case in ALL:
        if selected and case.__name__ not in selected:
            continue
        started = time.perf_counter()
        print(f"running {case.__name__} ...", flush=True)
        results = await case()
        comparisons += results
        for result in results:
            print("  " + result.row(), flush=True)
        print(f"  ({time.perf_counter() - started:.0f}s)", flush=True)
    if selected:  # a partial run updates its rows and keeps the rest
        comparisons = merged(previous_results(), comparisons)
    write_results(comparisons, {})
    print("wrote bench/RESULTS.md and bench/results.json")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
