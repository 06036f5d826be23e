"""Logging set-up for every command: one line per event, level from LOG_LEVEL."""

from __future__ import annotations

import logging
import sys


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    # Third-party libraries are chatty at INFO; their warnings still show.
    for noisy in ("httpx", "temporalio.activity", "grpc"):
        logging.getLogger(noisy).setLevel(max(logging.getLevelName(level), logging.WARNING))
