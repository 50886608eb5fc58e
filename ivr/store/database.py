"""The async engine and sessions: ``Database.open(url)`` and ``db.session()``.

SQLite is the default (a file under the data dir); PostgreSQL works with an asyncpg URL.
For SQLite every new connection gets WAL (readers never block the writer, which the campaign
engine and the web API both are), enforced foreign keys (off by default in SQLite), and a busy
timeout. sqlite3's legacy transaction handling is replaced by explicit BEGINs so that reads,
DDL and savepoints are transactional too; otherwise "nothing is written on error" would not
hold for migrations, and SELECTs would not be repeatable.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

log = logging.getLogger(__name__)

#: How long a SQLite writer waits for another writer before "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 5000
# Execution option marking connections of write sessions (see _on_begin).
_IMMEDIATE = "watchline_begin_immediate"


def is_sqlite(url: str | URL) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _ensure_sqlite_dir(url: URL) -> None:
    database = url.database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Hand BEGIN to SQLAlchemy (see _on_begin); PRAGMAs must run outside a transaction.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            # FULL: a commit is on disk before it returns, so nothing acknowledged to a caller
            # or member is lost even to a power cut. Group commit (group_commit.py) keeps the
            # cost to one fsync per batch on the hot path.
            cursor.execute("PRAGMA synchronous=FULL")
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # IMMEDIATE takes the write lock up front (waiting up to busy_timeout). A deferred
        # transaction that reads and then writes cannot wait: if another connection committed
        # since its read, SQLite fails it at once with "database is locked".
        immediate = conn.get_execution_options().get(_IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def create_engine(url: str | URL, **kwargs: Any) -> AsyncEngine:
    """An async engine for ``url`` with the per-connection settings above applied."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        _ensure_sqlite_dir(parsed)
        engine = create_async_engine(parsed, **kwargs)
        _configure_sqlite(engine)
        return engine
    return create_async_engine(parsed, pool_pre_ping=True, **kwargs)


class Database:
    """An engine plus a session factory. Owns the engine: leaving ``open`` disposes it."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        # expire_on_commit=False: objects stay readable after the session's commit, which is
        # how callers use them (return a Member, print it); they are never lazily reloaded.
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._write_sessions = async_sessionmaker(
            engine.execution_options(**{_IMMEDIATE: True}), expire_on_commit=False
        )
        self._write_lock = asyncio.Lock() if engine.dialect.name == "sqlite" else None
        self._write_engine = engine.execution_options(**{_IMMEDIATE: True})

    @classmethod
    @asynccontextmanager
    async def open(cls, url: str | URL, *, migrate: bool = True) -> AsyncIterator[Database]:
        """Connect to ``url``, first bringing its schema to the latest migration if ``migrate``."""
        if migrate:
            from ivr.store.migrate import upgrade  # late: alembic is only needed here

            await upgrade(url)
        engine = create_engine(url)
        try:
            yield cls(engine)
        finally:
            await engine.dispose()

    @asynccontextmanager
    async def write_connection(self) -> AsyncIterator[AsyncConnection]:
        """One write transaction on a Core connection, no ORM: for prepared statements run
        many times (executemany) on the hot path. Same locking as ``session(write=True)``."""
        if self._write_lock is not None:
            async with self._write_lock, self._write_engine.begin() as conn:
                yield conn
            return
        async with self._write_engine.begin() as conn:
            yield conn

    @asynccontextmanager
    async def session(self, *, write: bool = False) -> AsyncIterator[AsyncSession]:
        """One transaction: committed when the block ends, rolled back if it raises.

        ``write=True`` for a unit of work that reads and then writes while others may write
        too (the campaign engine, imports): on SQLite it takes the write lock at the start,
        so it waits its turn instead of failing halfway. PostgreSQL needs no such hint.
        """
        makers = self._write_sessions if write else self._sessions
        if write and self._write_lock is not None:
            # One writer at a time within this process: SQLite's busy handler would make the
            # others sleep (tens of ms, with back-off) instead of taking the lock when it frees.
            async with self._write_lock, makers.begin() as session:
                yield session
            return
        async with makers.begin() as session:
            yield session
