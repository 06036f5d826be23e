"""Logging set-up for every command: one line per event, level from LOG_LEVEL."""

from __future__ import annotations

import logging
import sys
from pathlib import Path


def configure_logging(level: str, file: Path | None = None) -> None:
    """Log lines to stderr, or to `file` (for commands whose terminal output is the product)."""
    handler: logging.Handler = (
        logging.FileHandler(file, encoding="utf-8") if file else logging.StreamHandler(sys.stderr)
    )
    logging.basicConfig(
        level=level,
        handlers=[handler],
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    # Third-party libraries are chatty at INFO; their warnings still show.
    for noisy in ("httpx", "temporalio.activity", "grpc"):
        logging.getLogger(noisy).setLevel(max(logging.getLevelName(level), logging.WARNING))
