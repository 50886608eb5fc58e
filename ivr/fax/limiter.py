"""A separate concurrency limit for fax calls.

A fax page takes about 45 s in audio mode (ARCHITECTURE.md), so a fax call holds a line and
an Asterisk channel pair (plus a spandsp modem's CPU) for minutes, where a voice bulletin
takes seconds. The campaign engine therefore runs fax sends under their own, smaller limit,
so a batch of faxes never starves the voice calls of lines, and vice versa.

    limiter = FaxLimiter(4)
    async with limiter.slot():
        result = await send_fax(...)
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

#: Concurrent fax calls by default: 4 spandsp modems use a small share of one core.
DEFAULT_FAX_CONCURRENCY = 4


class FaxLimiter:
    """At most ``limit`` fax sends at once; the rest wait in FIFO order (asyncio.Semaphore
    wakes waiters in the order they arrived). Counts what is running and waiting."""

    def __init__(self, limit: int = DEFAULT_FAX_CONCURRENCY) -> None:
        if limit < 1:
            raise ValueError("the fax concurrency limit must be at least 1")
        self._limit = limit
        self._semaphore = asyncio.Semaphore(limit)
        self._in_flight = 0
        self._waiting = 0
        self._peak = 0

    @property
    def limit(self) -> int:
        return self._limit

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def waiting(self) -> int:
        return self._waiting

    @property
    def peak(self) -> int:
        """The most sends that ever ran at once (for benchmarks and tests)."""
        return self._peak

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one fax slot for the duration of the block."""
        self._waiting += 1
        try:
            await self._semaphore.acquire()
        finally:
            self._waiting -= 1
        self._in_flight += 1
        self._peak = max(self._peak, self._in_flight)
        try:
            yield
        finally:
            self._in_flight -= 1
            self._semaphore.release()

    def __repr__(self) -> str:
        return f"<FaxLimiter {self._in_flight}/{self._limit} in flight, {self._waiting} waiting>"
