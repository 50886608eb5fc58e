"""The async engine and sessions: ``Database.open(url)`` and ``db.session()``.

SQLite is the default (a file under the data dir); PostgreSQL works with an asyncpg URL.
For SQLite every new connection gets WAL (readers never block the writer, which the campaign
engine and the web API both are), enforced foreign keys (off by default in SQLite), and a busy
timeout. sqlite3's legacy transaction handling is replaced by explicit BEGINs so that reads,
DDL and savepoints are transactional too; otherwise "nothing is written on error" would not
hold for migrations, and SELECTs would not be repeatable.

``run_write(fn)`` runs a whole write transaction as one plain function. On a SQLite file it
runs on a synchronous engine in a thread of its own, so the transaction costs one hand-off
between threads instead of one per statement (plus a greenlet switch each) as the async
driver does: that is most of the campaign engine's CPU per call. Elsewhere it runs on the
async engine through ``run_sync``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine, make_url
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


T = TypeVar("T")


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
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

    @event.listens_for(engine, "begin")
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
        _configure_sqlite(engine.sync_engine)
        return engine
    return create_async_engine(parsed, pool_pre_ping=True, **kwargs)


def _is_sqlite_file(url: URL) -> bool:
    database = url.database or ""
    return (
        url.get_backend_name() == "sqlite"
        and database not in ("", ":memory:")
        and not database.startswith("file:")
    )


class _SqliteWriter:
    """A synchronous engine on the same SQLite file, used only from its own thread.

    One thread, so the sqlite3 connection never crosses threads and transactions never
    overlap; the caller still takes the database's write lock first, so this writer and the
    async engine's writers take turns instead of meeting SQLite's busy handler. The thread
    keeps its one connection open rather than taking it from the pool for every
    transaction: the check-out and reset cost about as much CPU as a small statement.
    """

    def __init__(self, url: URL) -> None:
        engine = create_sync_engine(
            url.set(drivername="sqlite+pysqlite"), pool_size=1, max_overflow=0
        )
        _configure_sqlite(engine)
        self._engine = engine
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        self._conn: Connection | None = None  # made, used and closed by the thread only

    def _connection(self, *, immediate: bool) -> Connection:
        conn = self._conn
        if conn is None or conn.closed or conn.invalidated:
            conn = self._conn = self._engine.connect()
        return conn.execution_options(**{_IMMEDIATE: immediate})

    def _transaction(self, fn: Callable[[Connection], T]) -> T:
        conn = self._connection(immediate=True)
        with conn.begin():
            return fn(conn)

    def _read(self, fn: Callable[[Connection], T]) -> T:
        conn = self._connection(immediate=False)
        with conn.begin():
            return fn(conn)

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self._engine.dispose()

    async def read(self, fn: Callable[[Connection], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, self._read, fn)

    async def run(self, fn: Callable[[Connection], T]) -> T:
        done = asyncio.get_running_loop().run_in_executor(self._thread, self._transaction, fn)
        try:
            return await asyncio.shield(done)
        except asyncio.CancelledError:
            # The transaction cannot be stopped halfway; let it end (commit or roll back)
            # before the caller gives up the write lock.
            await asyncio.wait([done])
            raise

    async def close(self) -> None:
        # connections are closed by the thread that made them (sqlite3 insists)
        await asyncio.get_running_loop().run_in_executor(self._thread, self._close)
        self._thread.shutdown(wait=True)


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
        self._sqlite_writer = _SqliteWriter(engine.url) if _is_sqlite_file(engine.url) else None

    @classmethod
    @asynccontextmanager
    async def open(cls, url: str | URL, *, migrate: bool = True) -> AsyncIterator[Database]:
        """Connect to ``url``, first bringing its schema to the latest migration if ``migrate``."""
        if migrate:
            from ivr.store.migrate import upgrade  # late: alembic is only needed here

            await upgrade(url)
        engine = create_engine(url)
        try:
            db = cls(engine)
            try:
                yield db
            finally:
                if db._sqlite_writer is not None:
                    await db._sqlite_writer.close()
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

    async def run_write(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` in one write transaction, committed when it returns (rolled back if it
        raises), and return its result. ``fn`` gets a synchronous Core connection and must
        not touch the event loop: on a SQLite file it runs in another thread."""
        if self._sqlite_writer is not None:
            assert self._write_lock is not None
            async with self._write_lock:
                return await self._sqlite_writer.run(fn)
        async with self.write_connection() as conn:
            return await conn.run_sync(fn)

    async def run_read(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` in one read transaction and return its result: for small reads made
        often (on a SQLite file, one hand-off to the writer thread; it waits for no lock,
        only for a write transaction already running there)."""
        if self._sqlite_writer is not None:
            return await self._sqlite_writer.read(fn)
        async with self.engine.connect() as conn:
            return await conn.run_sync(fn)

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
