"""Helpers for tests that run one suite over every database backend.

SQLite always runs (a file in the test's tmp dir: the real database, as in production).
PostgreSQL runs when ``WATCHLINE_TEST_DATABASE_URL`` names one (``postgresql+asyncpg://...``);
it must be a throwaway database, because every test starts by dropping all our tables there.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.engine import Connection

from ivr.store.database import Database, create_engine
from ivr.store.models import Base

TEST_DATABASE_URL_ENV = "WATCHLINE_TEST_DATABASE_URL"
BACKENDS = ("sqlite", "postgresql")


def backend_url(backend: str, tmp_path: Path) -> str | None:
    """The URL to test ``backend`` on, or None when it is not configured (PostgreSQL only)."""
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'watchline.db'}"
    return os.environ.get(TEST_DATABASE_URL_ENV) or None


def _drop_everything(conn: Connection) -> None:
    Base.metadata.drop_all(conn)
    conn.execute(text("DROP TABLE IF EXISTS alembic_version"))


async def reset_database(url: str) -> None:
    """Drop our tables and the migration stamp (a fresh SQLite file needs nothing)."""
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_drop_everything)
    finally:
        await engine.dispose()


@asynccontextmanager
async def open_test_database(url: str) -> AsyncIterator[Database]:
    """An empty database at the latest migration."""
    await reset_database(url)
    async with Database.open(url) as db:
        yield db


async def snapshot(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in primary-key order: compare two to prove nothing changed."""
    tables: dict[str, list[tuple[Any, ...]]] = {}
    async with db.session() as session:
        for table in Base.metadata.sorted_tables:
            query = select(table).order_by(*table.primary_key.columns)
            tables[table.name] = [tuple(row) for row in await session.execute(query)]
    return tables
