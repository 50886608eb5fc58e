"""The database: migrations build exactly the models' schema, connections are set up right,
times stay aware UTC, and a failed unit of work writes nothing. Runs on SQLite (a real file)
and, when WATCHLINE_TEST_DATABASE_URL is set, on PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, inspect, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, StatementError

from ivr.store import Database, create_engine, upgrade
from ivr.store.migrate import downgrade
from ivr.store.models import Base, Bulletin, Membership
from ivr.store.testing import (
    reset_database,
)


async def _inspect(url: str, fn: Any) -> Any:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(fn)
    finally:
        await engine.dispose()


def _diff(conn: Connection) -> list[Any]:
    context = MigrationContext.configure(conn, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


def _named_constraints(conn: Connection) -> dict[str, set[str | None]]:
    inspector = inspect(conn)
    names: dict[str, set[str | None]] = {"check": set(), "unique": set(), "fk": set(), "ix": set()}
    for table in Base.metadata.tables:
        names["check"].update(c["name"] for c in inspector.get_check_constraints(table))
        names["unique"].update(c["name"] for c in inspector.get_unique_constraints(table))
        names["fk"].update(c["name"] for c in inspector.get_foreign_keys(table))
        # PostgreSQL also lists the index behind each unique constraint; those are not ours.
        indexes = inspector.get_indexes(table)
        names["ix"].update(i["name"] for i in indexes if "duplicates_constraint" not in i)
    return names


def _model_constraints() -> dict[str, set[str | None]]:
    from sqlalchemy import CheckConstraint, ForeignKeyConstraint, UniqueConstraint

    names: dict[str, set[str | None]] = {"check": set(), "unique": set(), "fk": set(), "ix": set()}
    kinds = {CheckConstraint: "check", UniqueConstraint: "unique", ForeignKeyConstraint: "fk"}
    for table in Base.metadata.tables.values():
        for constraint in table.constraints:
            for kind, key in kinds.items():
                if isinstance(constraint, kind):
                    names[key].add(str(constraint.name))
        names["ix"].update(str(index.name) for index in table.indexes)
    return names


async def test_migrations_build_exactly_the_models_schema(database_url: str) -> None:
    """Autogenerate finds nothing to do after upgrade: tables, columns, types, indexes, keys."""
    await reset_database(database_url)
    await upgrade(database_url)
    assert await _inspect(database_url, _diff) == []


async def test_every_constraint_and_index_has_its_convention_name(database_url: str) -> None:
    """Names are explicit and identical in models and database, CHECKs included (which
    autogenerate does not compare), so later migrations can address them on any backend."""
    await reset_database(database_url)
    await upgrade(database_url)
    found = await _inspect(database_url, _named_constraints)
    assert found == _model_constraints()
    assert "ck_campaign_targets_outcome" in found["check"]
    assert "ix_campaign_targets_due" in found["ix"]


async def test_upgrade_is_idempotent_and_downgrade_removes_everything(database_url: str) -> None:
    """Start-up runs upgrade every time; base leaves only Alembic's own table."""
    await reset_database(database_url)
    await upgrade(database_url)
    await upgrade(database_url)
    await downgrade(database_url, "base")
    tables = await _inspect(database_url, lambda c: set(inspect(c).get_table_names()))
    assert tables <= {"alembic_version"}
    await upgrade(database_url)
    assert await _inspect(database_url, _diff) == []


async def test_sqlite_connections_use_wal_and_enforce_foreign_keys(tmp_path: Path) -> None:
    """WAL lets the web API read while the engine writes; SQLite ignores foreign keys unless
    told, and a membership of a member that does not exist must be refused."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'data' / 'sub' / 'watchline.db'}"
    async with Database.open(url) as db, db.engine.connect() as conn:
        assert (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar() == "wal"
        assert (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1
    assert (tmp_path / "data" / "sub" / "watchline.db").exists()
    async with Database.open(url) as db:
        with pytest.raises(IntegrityError):
            async with db.session() as session:
                session.add(Membership(member_id=999, group_id=999, opted_out=False))


async def test_times_are_stored_as_instants_and_read_back_as_utc(db: Database) -> None:
    """A time given in any zone reads back as the same instant, tz-aware in UTC."""
    paris = timezone(timedelta(hours=2))
    created = datetime(2025, 6, 1, 14, 30, 15, 123456, tzinfo=paris)
    async with db.session() as session:
        session.add(Bulletin(title="t", audio_path="a.wav", created_by="c", created_at=created))
    async with db.session() as session:
        stored = await session.scalar(select(Bulletin.created_at))
    assert stored == created
    assert stored is not None and stored.tzinfo is UTC


async def test_naive_times_are_refused(db: Database) -> None:
    """Naive datetimes are ambiguous, so storing one is an error at the source."""
    with pytest.raises(StatementError, match="naive datetime"):
        async with db.session() as session:
            session.add(
                Bulletin(title="t", audio_path="a", created_by="c", created_at=datetime(2025, 1, 1))
            )
            await session.flush()


async def test_a_session_that_raises_writes_nothing(db: Database) -> None:
    """``db.session()`` is one transaction: an error inside rolls all of it back."""
    with pytest.raises(RuntimeError):
        async with db.session() as session:
            session.add(Bulletin(title="t", audio_path="a", created_by="c"))
            await session.flush()
            raise RuntimeError("boom")
    async with db.session() as session:
        assert (await session.execute(text("SELECT COUNT(*) FROM bulletins"))).scalar() == 0


async def test_sqlite_write_sessions_wait_for_each_other_instead_of_failing(
    tmp_path: Path,
) -> None:
    """Both sessions read, then write. As write sessions the second waits for the first's
    commit (BEGIN IMMEDIATE) and then sees its row, instead of "database is locked"."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'watchline.db'}"
    async with Database.open(url) as db:
        first_has_lock = asyncio.Event()
        seen: list[int] = []

        async def writer(title: str, hold: bool) -> None:
            async with db.session(write=True) as session:
                count = await session.scalar(select(func.count()).select_from(Bulletin))
                seen.append(count or 0)
                if hold:
                    first_has_lock.set()
                    await asyncio.sleep(0.3)
                session.add(Bulletin(title=title, audio_path="a", created_by="c"))

        async def second() -> None:
            await first_has_lock.wait()
            await writer("second", hold=False)

        await asyncio.gather(writer("first", hold=True), second())
    assert seen == [0, 1]
