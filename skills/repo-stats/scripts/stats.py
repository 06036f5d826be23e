#!/usr/bin/env python3
"""Files and lines per language under a folder, as a Markdown table."""

from __future__ import annotations

import argparse
import os
import sys
from collections import defaultdict
from pathlib import Path

SKIPPED = {".git", "node_modules", ".venv", "venv", "__pycache__", ".mypy_cache", ".ruff_cache"}
LANGUAGES = {
    ".py": "Python",
    ".js": "JavaScript",
    ".ts": "TypeScript",
    ".go": "Go",
    ".rs": "Rust",
    ".java": "Java",
    ".c": "C",
    ".h": "C",
    ".cpp": "C++",
    ".rb": "Ruby",
    ".sh": "Shell",
    ".md": "Markdown",
    ".yaml": "YAML",
    ".yml": "YAML",
    ".json": "JSON",
    ".toml": "TOML",
    ".html": "HTML",
    ".css": "CSS",
    ".sql": "SQL",
    ".csv": "CSV",
    ".txt": "Text",
}


def measure(root: Path) -> dict[str, list[int]]:
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = [d for d in subfolders if d not in SKIPPED and not d.startswith(".")]
        for name in files:
            path = Path(folder, name)
            language = LANGUAGES.get(path.suffix.lower(), "Other")
            try:
                lines = path.read_bytes().splitlines()
            except OSError:
                continue
            entry = totals[language]
            entry[0] += 1
            entry[1] += len(lines)
            entry[2] += sum(1 for line in lines if not line.strip())
    return totals


def table(totals: dict[str, list[int]]) -> str:
    rows = sorted(totals.items(), key=lambda item: (-item[1][1], item[0]))
    out = ["| language | files | lines | blank |", "|---|---:|---:|---:|"]
    out += [f"| {lang} | {f} | {n} | {b} |" for lang, (f, n, b) in rows]
    files = sum(v[0] for v in totals.values())
    lines = sum(v[1] for v in totals.values())
    out.append(f"| **total** | {files} | {lines} | {sum(v[2] for v in totals.values())} |")
    return "\n".join(out) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folder", nargs="?", default=".")
    parser.add_argument("--output", help="also write the table to this file")
    args = parser.parse_args()
    root = Path(args.folder)
    if not root.is_dir():
        print(f"stats.py: {root} is not a folder", file=sys.stderr)
        return 2
    report = table(measure(root))
    print(report, end="")
    if args.output:
        Path(args.output).write_text(report, encoding="utf-8")
        print(f"written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
