#!/usr/bin/env python3
"""List TODO/FIXME/HACK/XXX markers in text files under a folder."""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections import Counter
from pathlib import Path

# A marker counts only inside a comment: after #, //, /*, *, --, ; or <!--.
MARKER = re.compile(r"(?:#|//|/\*|\*|--|;|<!--)\s*(TODO|FIXME|HACK|XXX)\b[:\s]*(.*)")
SKIPPED = {".git", "node_modules", ".venv", "venv", "__pycache__"}


def scan(root: Path) -> list[tuple[str, int, str, str]]:
    found = []
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(d for d in subfolders if d not in SKIPPED and not d.startswith("."))
        for name in sorted(files):
            path = Path(folder, name)
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            for number, line in enumerate(text.splitlines(), 1):
                match = MARKER.search(line)
                if match:
                    relative = path.relative_to(root).as_posix()
                    found.append((relative, number, match.group(1), match.group(2).strip()))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folder", nargs="?", default=".")
    parser.add_argument("--output", help="also write a Markdown checklist to this file")
    args = parser.parse_args()
    root = Path(args.folder)
    if not root.is_dir():
        print(f"scan.py: {root} is not a folder", file=sys.stderr)
        return 2
    found = scan(root)
    for path, line, marker, text in found:
        print(f"{path}:{line}: {marker} {text}")
    counts = Counter(marker for _, _, marker, _ in found)
    summary = ", ".join(f"{marker}: {n}" for marker, n in sorted(counts.items())) or "none"
    print(f"{len(found)} markers ({summary})")
    if args.output:
        lines = [f"- [ ] `{p}:{n}` {m} {t}" for p, n, m, t in found]
        Path(args.output).write_text("\n".join(["# Open markers", "", *lines]) + "\n")
        print(f"written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
