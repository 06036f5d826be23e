"""One execution per conversation thread at a time, across workers.

Two executions of one session running at once would both extend the same
LangGraph thread, and the last checkpoint written would silently drop the
other's exchange. So an execution holds its thread while it runs: a lease row
in the checkpoint database itself (SQLite in local mode, PostgreSQL in cloud
mode), the one store every worker of a deployment shares. Another execution of
the thread waits for it, and says so in its status.

Why a lease and not PostgreSQL's session advisory lock: a session lock is held
by a connection, so a worker frozen (SIGSTOP, a stalled VM) would hold the thread
forever, and the next attempt of the same execution, which Temporal starts once
the frozen one misses its heartbeats, could never take over. A lease names its
holder (execution and attempt), expires when its holder stops renewing it, and
is handed to a newer attempt of the same execution at once. Taking it is one
atomic upsert; a holder that finds it taken when renewing knows it is no longer
current.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

import psycopg

from agent_runner.config import Config

log = logging.getLogger(__name__)

LEASE_S = 30.0
"""A holder that stops renewing (a frozen or dead worker) frees the thread after this."""
RENEW_EVERY_S = 5.0
POLL_S = 0.5
"""How often a waiting execution tries again."""

_TABLE = "agent_runner_thread_leases"
_CREATE = f"""
CREATE TABLE IF NOT EXISTS {_TABLE} (
    thread_id TEXT PRIMARY KEY,
    execution_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL
)
"""
# Taken when free, expired, or held by an older (or the same) attempt of the same execution.
_TAKE = f"""
INSERT INTO {_TABLE} (thread_id, execution_id, attempt, expires_at)
VALUES ({{p}}, {{p}}, {{p}}, {{p}})
ON CONFLICT (thread_id) DO UPDATE SET
    execution_id = excluded.execution_id,
    attempt = excluded.attempt,
    expires_at = excluded.expires_at
WHERE {_TABLE}.expires_at < {{p}}
   OR ({_TABLE}.execution_id = excluded.execution_id AND {_TABLE}.attempt <= excluded.attempt)
"""
_HOLDER = f"SELECT execution_id, attempt FROM {_TABLE} WHERE thread_id = {{p}}"
_RENEW = (
    f"UPDATE {_TABLE} SET expires_at = {{p}} "
    "WHERE thread_id = {p} AND execution_id = {p} AND attempt = {p}"
)
_RELEASE = (
    f"DELETE FROM {_TABLE} WHERE thread_id = {{p}} AND execution_id = {{p}} AND attempt = {{p}}"
)


@dataclass(frozen=True)
class Holder:
    execution_id: str
    attempt: int
    """Temporal's attempt number of ExecuteGraphton."""


class ThreadLocks(Protocol):
    async def take(self, thread_id: str, holder: Holder, lease_s: float) -> Holder:
        """Take or renew the thread's lease for `holder`; returns who holds it now."""
        ...

    async def renew(self, thread_id: str, holder: Holder, lease_s: float) -> bool:
        """Extend `holder`'s lease; False when it no longer holds it (taken over, or
        expired and taken or released since)."""
        ...

    async def release(self, thread_id: str, holder: Holder) -> None:
        """Give the lease up, if `holder` still holds it."""
        ...


class InProcessThreadLocks:
    """For a worker whose conversations live in its own memory only (no database)."""

    def __init__(self) -> None:
        self._leases: dict[str, tuple[Holder, float]] = {}

    async def take(self, thread_id: str, holder: Holder, lease_s: float) -> Holder:
        now = time.time()
        current = self._leases.get(thread_id)
        if current is None or _may_take(current[0], current[1], holder, now):
            self._leases[thread_id] = (holder, now + lease_s)
            return holder
        return current[0]

    async def renew(self, thread_id: str, holder: Holder, lease_s: float) -> bool:
        current = self._leases.get(thread_id)
        if current is None or current[0] != holder:
            return False
        self._leases[thread_id] = (holder, time.time() + lease_s)
        return True

    async def release(self, thread_id: str, holder: Holder) -> None:
        current = self._leases.get(thread_id)
        if current is not None and current[0] == holder:
            del self._leases[thread_id]


def _may_take(current: Holder, expires_at: float, holder: Holder, now: float) -> bool:
    return expires_at < now or (
        current.execution_id == holder.execution_id and current.attempt <= holder.attempt
    )


class SqliteThreadLocks:
    """Leases in the SQLite file of the local checkpoints, shared by the machine's workers."""

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        self._db.execute(_CREATE)
        self._lock = asyncio.Lock()

    def close(self) -> None:
        self._db.close()

    def _take(self, thread_id: str, holder: Holder, lease_s: float) -> Holder:
        now = time.time()
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.execute(
                _TAKE.format(p="?"),
                (thread_id, holder.execution_id, holder.attempt, now + lease_s, now),
            )
            row = self._db.execute(_HOLDER.format(p="?"), (thread_id,)).fetchone()
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")
        return Holder(str(row[0]), int(row[1]))

    async def take(self, thread_id: str, holder: Holder, lease_s: float) -> Holder:
        async with self._lock:
            return await asyncio.to_thread(self._take, thread_id, holder, lease_s)

    async def renew(self, thread_id: str, holder: Holder, lease_s: float) -> bool:
        async with self._lock:
            cursor = await asyncio.to_thread(
                self._db.execute,
                _RENEW.format(p="?"),
                (time.time() + lease_s, thread_id, holder.execution_id, holder.attempt),
            )
        return cursor.rowcount == 1

    async def release(self, thread_id: str, holder: Holder) -> None:
        async with self._lock:
            await asyncio.to_thread(
                self._db.execute,
                _RELEASE.format(p="?"),
                (thread_id, holder.execution_id, holder.attempt),
            )


class PostgresThreadLocks:
    """Leases in the PostgreSQL database of the checkpoints (CHECKPOINT_DATABASE_URL)."""

    def __init__(self, connection: psycopg.AsyncConnection[Any]) -> None:
        self._conn = connection
        self._lock = asyncio.Lock()

    @classmethod
    async def connect(cls, url: str) -> PostgresThreadLocks:
        connection = await psycopg.AsyncConnection.connect(url, autocommit=True)
        await connection.execute(_CREATE)
        return cls(connection)

    async def close(self) -> None:
        await self._conn.close()

    async def take(self, thread_id: str, holder: Holder, lease_s: float) -> Holder:
        now = time.time()
        async with self._lock, self._conn.transaction():
            await self._conn.execute(
                _TAKE.format(p="%s"),
                (thread_id, holder.execution_id, holder.attempt, now + lease_s, now),
            )
            cursor = await self._conn.execute(_HOLDER.format(p="%s"), (thread_id,))
            row = await cursor.fetchone()
        assert row is not None  # the upsert leaves a row, ours or the holder's
        return Holder(str(row[0]), int(row[1]))

    async def renew(self, thread_id: str, holder: Holder, lease_s: float) -> bool:
        async with self._lock:
            cursor = await self._conn.execute(
                _RENEW.format(p="%s"),
                (time.time() + lease_s, thread_id, holder.execution_id, holder.attempt),
            )
        return cursor.rowcount == 1

    async def release(self, thread_id: str, holder: Holder) -> None:
        async with self._lock:
            await self._conn.execute(
                _RELEASE.format(p="%s"), (thread_id, holder.execution_id, holder.attempt)
            )


@contextlib.asynccontextmanager
async def open_thread_locks(config: Config) -> AsyncIterator[ThreadLocks]:
    """The leases of the checkpoint database `open_checkpointer` uses for `config`."""
    if config.mode == "local":
        config.data_dir.mkdir(parents=True, exist_ok=True)
        sqlite_locks = SqliteThreadLocks(config.data_dir / "checkpoints.sqlite3")
        try:
            yield sqlite_locks
        finally:
            sqlite_locks.close()
    elif config.checkpoint_database_url is not None:
        pg_locks = await PostgresThreadLocks.connect(config.checkpoint_database_url.reveal())
        try:
            yield pg_locks
        finally:
            await pg_locks.close()
    else:
        yield InProcessThreadLocks()


class ThreadLease:
    """Holds one execution's thread: `await acquire()` waits until it is free (calling
    `on_wait` with the holder the first time it is not), renews it in the background
    (calling `on_lost` once if a renewal finds it is no longer ours), and `release()`
    gives it up."""

    def __init__(
        self,
        locks: ThreadLocks,
        thread_id: str,
        holder: Holder,
        *,
        on_wait: Callable[[Holder], None],
        on_lost: Callable[[], None],
        lease_s: float = LEASE_S,
    ) -> None:
        self._locks = locks
        self._thread_id = thread_id
        self._holder = holder
        self._on_wait = on_wait
        self._on_lost = on_lost
        self._lease_s = lease_s
        self._renewing: asyncio.Task[None] | None = None

    async def acquire(self) -> None:
        waited_for: Holder | None = None
        while True:
            current = await self._locks.take(self._thread_id, self._holder, self._lease_s)
            if current == self._holder:
                break
            if current != waited_for:
                waited_for = current
                self._on_wait(current)
            await asyncio.sleep(POLL_S)
        self._renewing = asyncio.create_task(self._renew(), name=f"lease of {self._thread_id}")

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(RENEW_EVERY_S)
            try:
                held = await self._locks.renew(self._thread_id, self._holder, self._lease_s)
            except (OSError, sqlite3.Error, psycopg.Error) as err:
                log.warning(
                    "thread %s: lease renewal failed (will retry): %s", self._thread_id, err
                )
                continue
            if not held:
                self._on_lost()
                return

    async def release(self) -> None:
        if self._renewing is None:
            return  # never acquired
        self._renewing.cancel()
        await asyncio.gather(self._renewing, return_exceptions=True)
        self._renewing = None
        try:
            await self._locks.release(self._thread_id, self._holder)
        except (OSError, sqlite3.Error, psycopg.Error) as err:
            # The lease then expires on its own after LEASE_S.
            log.warning("thread %s: lease release failed: %s", self._thread_id, err)

    async def __aenter__(self) -> ThreadLease:
        await self.acquire()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.release()
