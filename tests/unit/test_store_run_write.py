"""Database.run_write: one whole write transaction as a plain function, on every backend.

On a SQLite file it runs on a writer thread of its own (one hand-off per transaction);
elsewhere through the async driver's run_sync. Both must commit, roll back and serialise
the same way, and a cancelled caller must not leave a transaction running unlocked.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.engine import Connection

from ivr.members.fields import Scheme
from ivr.store.database import Database
from ivr.store.models import Group


def _add_group(
    name: str, *, delay_s: float = 0.0, fail: bool = False
) -> Callable[[Connection], str]:
    def write(conn: Connection) -> str:
        conn.execute(insert(Group).values(name=name, scheme=Scheme.NEIGHBOURHOOD_WATCH))
        time.sleep(delay_s)
        if fail:
            raise RuntimeError("the caller's code failed after writing")
        return threading.current_thread().name

    return write


async def _names(db: Database) -> list[str]:
    async with db.session() as s:
        return list(await s.scalars(select(Group.name).order_by(Group.name)))


async def test_it_commits_what_the_function_wrote_and_returns_its_result(db: Database) -> None:
    thread = await db.run_write(_add_group("Elm Street"))
    assert await _names(db) == ["Elm Street"]
    if db.engine.dialect.name == "sqlite":
        # off the event loop: the transaction is one hand-off to the writer thread
        assert thread.startswith("sqlite-writer")


async def test_an_exception_rolls_everything_back_and_reaches_the_caller(db: Database) -> None:
    with pytest.raises(RuntimeError, match="failed after writing"):
        await db.run_write(_add_group("Oak Road", fail=True))
    assert await _names(db) == []
    # the writer is still usable afterwards
    await db.run_write(_add_group("Oak Road"))
    assert await _names(db) == ["Oak Road"]


async def test_concurrent_writers_take_turns_with_session_writers(db: Database) -> None:
    """Twenty run_write transactions and twenty ORM write sessions, all at once: every one
    commits (none meets 'database is locked')."""

    async def by_session(i: int) -> None:
        async with db.session(write=True) as s:
            s.add(Group(name=f"session {i:02d}"))

    async with asyncio.timeout(60):
        await asyncio.gather(
            *(db.run_write(_add_group(f"run {i:02d}", delay_s=0.005)) for i in range(20)),
            *(by_session(i) for i in range(20)),
        )
    async with db.session() as s:
        assert await s.scalar(select(func.count()).select_from(Group)) == 40


async def test_a_cancelled_caller_still_lets_its_transaction_finish_first(db: Database) -> None:
    """The transaction cannot be stopped halfway; the write lock is held until it has ended,
    so the next writer never meets it half done."""
    task = asyncio.create_task(db.run_write(_add_group("Ash Lane", delay_s=0.5)))
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # on SQLite the thread's commit is complete by now; on PostgreSQL the driver's cancel
    # rolled it back. Either way, nothing half-written and the next write goes through.
    names = await _names(db)
    assert (
        names == ["Ash Lane"] if db.engine.dialect.name == "sqlite" else names in (["Ash Lane"], [])
    )
    await db.run_write(_add_group("Birch Close"))
    assert "Birch Close" in await _names(db)


async def test_run_read_sees_what_either_kind_of_writer_committed(db: Database) -> None:
    await db.run_write(_add_group("Elm Street"))
    async with db.session(write=True) as s:
        s.add(Group(name="Oak Road"))

    def names(conn: Connection) -> list[str]:
        return list(conn.execute(select(Group.name).order_by(Group.name)).scalars())

    assert await db.run_read(names) == ["Elm Street", "Oak Road"]
