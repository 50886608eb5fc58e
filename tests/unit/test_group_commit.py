"""Group commit: concurrent small writes share one transaction; a caller committing anyway
can carry the waiting writes in its own transaction, and nobody is released before the
commit that holds their write."""

from __future__ import annotations

import asyncio
from functools import partial

import pytest
from sqlalchemy import bindparam, insert, select
from sqlalchemy.engine import Connection

from ivr.members.fields import Scheme
from ivr.store.database import Database
from ivr.store.group_commit import GroupCommitWriter, execute_batch
from ivr.store.models import Group

ADD_GROUP = insert(Group).values(name=bindparam("b_name"), scheme=Scheme.PUBWATCH)


async def _names(db: Database) -> list[str]:
    async with db.session() as s:
        return list(await s.scalars(select(Group.name).order_by(Group.name)))


async def _write_groups_together(writer: GroupCommitWriter, count: int) -> None:
    """Submit ``count`` one-group writes at once to a running writer; wait for them all."""
    serving = asyncio.create_task(writer.run())
    try:
        async with asyncio.timeout(30):
            await asyncio.gather(
                *(writer.write([(ADD_GROUP, {"b_name": f"group {i:02d}"})]) for i in range(count))
            )
    finally:
        serving.cancel()


async def test_writes_submitted_together_commit_as_one_batch(db: Database) -> None:
    writer = GroupCommitWriter(db)
    await _write_groups_together(writer, 10)
    assert len(await _names(db)) == 10
    assert writer.batches < 10


async def test_taken_writes_commit_with_the_takers_transaction_and_only_then_return(
    db: Database,
) -> None:
    writer = GroupCommitWriter(db)  # not running: only the taker can commit these
    submitters = [
        asyncio.create_task(writer.write([(ADD_GROUP, {"b_name": name})]))
        for name in ("Elm", "Oak")
    ]
    await asyncio.sleep(0)  # let both queue their write
    batch = writer.take()
    assert len(batch) == 2

    def transaction(conn: Connection) -> None:
        execute_batch(conn, batch)
        conn.execute(ADD_GROUP, {"b_name": "Taker's own"})

    await db.run_write(transaction)
    assert not any(t.done() for t in submitters)  # committed, but not yet acknowledged
    writer.committed(batch)
    async with asyncio.timeout(5):
        await asyncio.gather(*submitters)
    assert await _names(db) == ["Elm", "Oak", "Taker's own"]


async def test_writes_given_back_after_a_rollback_are_committed_by_the_writer(
    db: Database,
) -> None:
    writer = GroupCommitWriter(db)
    submitter = asyncio.create_task(writer.write([(ADD_GROUP, {"b_name": "Ash"})]))
    await asyncio.sleep(0)
    batch = writer.take()

    def failing(conn: Connection) -> None:
        execute_batch(conn, batch)
        raise RuntimeError("the taker's own work failed")

    with pytest.raises(RuntimeError):
        await db.run_write(failing)
    assert await _names(db) == []  # rolled back with the taker's transaction
    writer.give_back(batch)
    serving = asyncio.create_task(writer.run())
    try:
        async with asyncio.timeout(30):
            await submitter
    finally:
        serving.cancel()
    assert await _names(db) == ["Ash"]


async def test_the_writer_lingers_so_a_transaction_about_to_commit_can_carry_its_writes(
    db: Database,
) -> None:
    writer = GroupCommitWriter(db, linger_s=0.5)
    serving = asyncio.create_task(writer.run())
    try:
        submitter = asyncio.create_task(writer.write([(ADD_GROUP, {"b_name": "Rowan"})]))
        await asyncio.sleep(0.05)  # well inside the linger: the writer has not taken it
        batch = writer.take()
        assert len(batch) == 1
        await db.run_write(partial(execute_batch, batch=batch))
        writer.committed(batch)
        async with asyncio.timeout(5):
            await submitter
        await asyncio.sleep(0.6)  # the writer wakes, finds nothing, and commits nothing
        assert writer.batches == 1
    finally:
        serving.cancel()
    assert await _names(db) == ["Rowan"]


async def test_more_writes_than_one_batch_all_commit(db: Database) -> None:
    writer = GroupCommitWriter(db, max_batch=3, linger_s=0.001)
    await _write_groups_together(writer, 10)
    assert len(await _names(db)) == 10
    assert writer.batches == 4  # 3 + 3 + 3 + 1
