"""Logging set-up for every command: one line per event, level from LOG_LEVEL.

Lines logged while an execution runs carry its id (`execution_id`), in text and
in JSON (`LOG_FORMAT=json`) alike.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from pathlib import Path

from agent_runner.private_files import private_file

current_execution: contextvars.ContextVar[str] = contextvars.ContextVar(
    "current_execution", default=""
)
"""The execution the running task works for; set by ExecuteGraphton."""


class _ExecutionTag(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        execution_id = current_execution.get()
        record.execution_id = execution_id  # a LogRecord extra
        record.tag = f" [{execution_id}]" if execution_id else ""
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        document = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        execution_id = getattr(record, "execution_id", "")
        if execution_id:
            document["execution_id"] = execution_id
        if record.exc_info:
            document["exception"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(document)


def configure_logging(level: str, file: Path | None = None, log_format: str = "text") -> None:
    """Log lines to stderr, or to `file` (for commands whose terminal output is the product).
    A log file is private to its owner (0600 in a 0700 folder)."""
    if file is not None:
        private_file(file)
    handler: logging.Handler = (
        logging.FileHandler(file, encoding="utf-8") if file else logging.StreamHandler(sys.stderr)
    )
    handler.addFilter(_ExecutionTag())
    handler.setFormatter(
        JsonFormatter()
        if log_format == "json"
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s%(tag)s: %(message)s")
    )
    logging.basicConfig(level=level, handlers=[handler], force=True)
    # Third-party libraries are chatty at INFO; their warnings still show.
    for noisy in ("httpx", "temporalio.activity", "grpc"):
        logging.getLogger(noisy).setLevel(max(logging.getLevelName(level), logging.WARNING))
