"""Group commit: many small writes from concurrent tasks, one transaction per batch.

When 20 calls end within the same few milliseconds, 20 separate transactions would queue
for SQLite's single writer and hold up everything behind them (the next calls' start).
Writes submitted here are drained together into one transaction, and each prepared
statement runs once per batch with all its rows (executemany). Each submitter still
waits until its own write is committed, so nothing is acknowledged before it is durable.
If a batch fails, its writes are retried one by one, so one bad write cannot sink others.

A caller about to commit a transaction anyway (the engine starting the next calls) can
``take`` the waiting writes and run them in it: one commit, and one fsync, instead of two.
So that such a caller usually gets there first, the writer lingers a moment (``linger_s``)
before committing what arrived on its own. In the broadcast benchmark those standalone
commits had been about a sixth of all transactions; nothing waits on these writes but their
submitters, who would otherwise queue behind the engine's transaction anyway.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.sql.base import Executable

from ivr.store.database import Database

log = logging.getLogger(__name__)

#: One write: prepared statements (built once, with bindparams) and their parameters.
#: The statements of one write commit together.
Write = Sequence[tuple[Executable, Mapping[str, Any]]]


#: Writes taken from the queue, each with the future its submitter waits on.
Batch = list[tuple[Write, "asyncio.Future[None]"]]


def execute_batch(conn: Connection, batch: Batch) -> None:
    """Run a batch's statements on ``conn``: each statement once, with all its rows."""
    grouped: dict[Executable, list[Mapping[str, Any]]] = {}
    for work, _ in batch:
        for statement, params in work:
            grouped.setdefault(statement, []).append(params)
    for statement, rows in grouped.items():
        conn.execute(statement, rows)


#: How long the writer waits for a transaction that might carry its writes (see above).
LINGER_S = 0.02


class GroupCommitWriter:
    def __init__(self, db: Database, *, max_batch: int = 500, linger_s: float = LINGER_S) -> None:
        self.db = db
        self.max_batch = max_batch
        self.linger_s = linger_s
        self._waiting: deque[tuple[Write, asyncio.Future[None]]] = deque()
        self._arrived = asyncio.Event()
        #: batches committed so far (tests and benchmarks read it)
        self.batches = 0

    async def write(self, work: Write) -> None:
        """Run ``work`` in a write transaction; return once it is committed."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((work, done))
        self._arrived.set()
        await done

    async def run(self) -> None:
        """Serve until cancelled (owned by whoever owns the writes, e.g. the engine)."""
        while True:
            await self._arrived.wait()
            await asyncio.sleep(self.linger_s)
            # cleared before taking: a write arriving from here on sets it again
            self._arrived.clear()
            batch = self.take()
            if self._waiting:  # more than one batch waits: go round again at once
                self._arrived.set()
            if batch:  # unless a taker carried them all meanwhile
                await self._commit(batch)

    # ---- riding along in someone else's transaction --------------------------------------

    def take(self, most: int | None = None) -> Batch:
        """The writes waiting now, for a caller to run (``execute_batch``) inside a
        transaction it commits anyway; it then calls ``committed`` or ``give_back``."""
        most = self.max_batch if most is None else most
        batch: Batch = []
        while self._waiting and len(batch) < most:
            batch.append(self._waiting.popleft())
        return batch

    def committed(self, batch: Batch) -> None:
        """The caller's transaction holding ``batch`` is committed: release its submitters."""
        if batch:
            self.batches += 1
        for _, done in batch:
            if not done.done():
                done.set_result(None)

    def give_back(self, batch: Batch) -> None:
        """The caller's transaction was rolled back: the writes go back to the queue."""
        self._waiting.extendleft(reversed(batch))
        if batch:
            self._arrived.set()

    async def _commit(self, batch: Batch) -> None:
        try:
            await self.db.run_write(partial(execute_batch, batch=batch))
        except Exception as e:
            if len(batch) == 1:
                _, done = batch[0]
                if not done.done():
                    done.set_exception(e)
                return
            log.warning("a batch of %d writes failed; retrying them one by one", len(batch))
            for item in batch:
                await self._commit([item])
            return
        self.committed(batch)
