"""Sessions and executions of the local daemon, in SQLite, plus the platform's status merge.

Rows hold the protobuf bytes of the whole resource; a few columns are copied
out for listing. Every write is committed before the call that made it
returns, so a daemon killed at any moment keeps every answered update.

The status of an execution is fenced (see README, "Only the current attempt
writes"): `merge_status` never changes a final phase, `check_attempt` refuses an
update from an attempt older than the newest one seen; `StatusRefused` says why.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from agent_runner import wire
from agent_runner.clock import utc_now
from agent_runner.private_files import private_file
from agent_runner.status.phases import FINAL_PHASES

__all__ = [
    "FINAL_PHASES",
    "ExecutionSummary",
    "StatusRefused",
    "Store",
    "check_attempt",
    "merge_status",
]

AgentExecution = wire.agentexecution.AgentExecution
AgentExecutionStatus = wire.agentexecution.AgentExecutionStatus
Session = wire.session.Session

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    body BLOB NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS executions (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    phase INTEGER NOT NULL,
    body BLOB NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS executions_by_creation ON executions (created_at);
CREATE TABLE IF NOT EXISTS status_writers (
    execution_id TEXT PRIMARY KEY,
    attempt INTEGER NOT NULL
);
"""


class StatusRefused(Exception):
    """A status update the backend must not apply; the message says why (one line)."""


def check_attempt(execution_id: str, attempt: int | None, newest_attempt: int | None) -> None:
    """Raise `StatusRefused` when an update comes from an attempt older than the newest
    one that has written this execution's status: that attempt was replaced. Writers
    that name no attempt (the orchestrating workflow recording a failure) pass."""
    if attempt is not None and newest_attempt is not None and attempt < newest_attempt:
        raise StatusRefused(
            f"execution {execution_id!r}: attempt {attempt} was replaced by attempt "
            f"{newest_attempt}; only the current attempt writes the status"
        )


def merge_status(
    stored: AgentExecutionStatus, update: AgentExecutionStatus, *, execution_id: str = ""
) -> None:
    """Apply `update` onto `stored` the way the platform does; it can never clear a field.

    Lists (`messages`, `tool_calls`, `sub_agent_executions`, `todos`) are replaced
    only when the update's list is non-empty; `phase` only when not UNSPECIFIED;
    `error`, `started_at`, `completed_at` and `callback_token` only when non-empty.

    Once `stored` is in a final phase (COMPLETED, FAILED, CANCELLED) nothing changes
    any more: an update that would change something raises `StatusRefused` and
    leaves `stored` as it was; one that changes nothing (the same final status
    delivered twice, its first answer lost) is accepted.
    """
    if stored.phase in FINAL_PHASES:
        merged = AgentExecutionStatus()
        merged.CopyFrom(stored)
        _merge(merged, update)
        if merged != stored:
            raise StatusRefused(
                f"execution {execution_id!r} already ended "
                f"({wire.agentexecution.ExecutionPhase.Name(stored.phase)}); "
                "a final status is never changed"
            )
        return
    _merge(stored, update)


def _merge(stored: AgentExecutionStatus, update: AgentExecutionStatus) -> None:
    for name in ("messages", "tool_calls", "sub_agent_executions"):
        incoming = getattr(update, name)
        if len(incoming):
            target = getattr(stored, name)
            del target[:]
            target.extend(incoming)
    if len(update.todos):
        stored.todos.clear()
        for key, todo in update.todos.items():
            stored.todos[key].CopyFrom(todo)
    if update.phase != wire.agentexecution.EXECUTION_PHASE_UNSPECIFIED:
        stored.phase = update.phase
    for name in ("error", "started_at", "completed_at", "callback_token"):
        value = getattr(update, name)
        if value:
            setattr(stored, name, value)


@dataclass(frozen=True)
class ExecutionSummary:
    id: str
    session_id: str
    agent_id: str
    phase: int
    created_at: str
    updated_at: str


class Store:
    def __init__(self, path: Path) -> None:
        private_file(path)  # SQLite gives its -wal and -shm files the same mode
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    # -- sessions ----------------------------------------------------------------

    def get_session(self, session_id: str) -> Session | None:
        row = self._db.execute("SELECT body FROM sessions WHERE id = ?", (session_id,)).fetchone()
        return Session.FromString(row[0]) if row else None

    def put_session(self, session: Session) -> None:
        self._db.execute(
            "INSERT INTO sessions (id, body, created_at) VALUES (?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET body = excluded.body",
            (session.metadata.id, session.SerializeToString(), utc_now()),
        )

    # -- executions --------------------------------------------------------------

    def get_execution(self, execution_id: str) -> AgentExecution | None:
        row = self._db.execute(
            "SELECT body FROM executions WHERE id = ?", (execution_id,)
        ).fetchone()
        return AgentExecution.FromString(row[0]) if row else None

    def put_execution(self, execution: AgentExecution) -> None:
        stamp = utc_now()
        self._db.execute(
            "INSERT INTO executions "
            "(id, session_id, agent_id, phase, body, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET phase = excluded.phase, body = excluded.body, "
            "updated_at = excluded.updated_at",
            (
                execution.metadata.id,
                execution.spec.session_id,
                execution.spec.agent_id,
                int(execution.status.phase),
                execution.SerializeToString(),
                stamp,
                stamp,
            ),
        )

    def newest_attempt(self, execution_id: str) -> int | None:
        """The highest attempt that has written this execution's status, if any named one."""
        row = self._db.execute(
            "SELECT attempt FROM status_writers WHERE execution_id = ?", (execution_id,)
        ).fetchone()
        return int(row[0]) if row else None

    def put_status(self, execution: AgentExecution, attempt: int | None) -> None:
        """Store an execution whose status was updated, and the attempt that wrote it,
        in one transaction."""
        with self._transaction():
            if attempt is not None:
                self._db.execute(
                    "INSERT INTO status_writers (execution_id, attempt) VALUES (?, ?) "
                    "ON CONFLICT (execution_id) DO UPDATE SET "
                    "attempt = max(attempt, excluded.attempt)",
                    (execution.metadata.id, attempt),
                )
            self.put_execution(execution)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def recent_executions(self, limit: int = 20) -> list[ExecutionSummary]:
        rows = self._db.execute(
            "SELECT id, session_id, agent_id, phase, created_at, updated_at FROM executions "
            "ORDER BY created_at DESC, rowid DESC LIMIT ?",
            (limit,),
        ).fetchall()
        return [ExecutionSummary(*row) for row in rows]
