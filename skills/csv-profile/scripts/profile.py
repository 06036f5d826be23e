#!/usr/bin/env python3
"""Per-column profile of a CSV file, as a Markdown table."""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path


def infer(values: list[str]) -> str:
    present = [v for v in values if v.strip()]
    if not present:
        return "empty"
    try:
        for v in present:
            int(v)
        return "integer"
    except ValueError:
        pass
    try:
        for v in present:
            float(v)
        return "number"
    except ValueError:
        return "text"


def profile(rows: list[dict[str, str]], columns: list[str]) -> str:
    out = [
        "| column | type | missing | distinct | min | max | mean |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for column in columns:
        values = [row.get(column) or "" for row in rows]
        kind = infer(values)
        present = [v for v in values if v.strip()]
        low = high = mean = ""
        if kind in ("integer", "number"):
            numbers = [float(v) for v in present]
            low, high = f"{min(numbers):g}", f"{max(numbers):g}"
            mean = f"{sum(numbers) / len(numbers):.4g}"
        out.append(
            f"| {column} | {kind} | {len(values) - len(present)} | {len(set(present))} "
            f"| {low} | {high} | {mean} |"
        )
    return "\n".join(out) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("file")
    parser.add_argument("--output", help="also write the table to this file")
    args = parser.parse_args()
    path = Path(args.file)
    if not path.is_file():
        print(f"profile.py: {path} does not exist", file=sys.stderr)
        return 2
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames:
            print(f"profile.py: {path} has no header row", file=sys.stderr)
            return 2
        rows = list(reader)
    report = f"{len(rows)} rows\n\n" + profile(rows, list(reader.fieldnames))
    print(report, end="")
    if args.output:
        Path(args.output).write_text(report, encoding="utf-8")
        print(f"written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
