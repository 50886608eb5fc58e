"""The fax concurrency limit: never more than ``limit`` sends at once, first come first served."""

from __future__ import annotations

import asyncio

import pytest

from ivr.fax.limiter import DEFAULT_FAX_CONCURRENCY, FaxLimiter

DEADLINE = 5.0


async def test_no_more_than_the_limit_run_at_once_and_all_finish() -> None:
    limiter = FaxLimiter(3)
    running = 0
    most = 0

    async def send(i: int) -> int:
        nonlocal running, most
        async with limiter.slot():
            running += 1
            most = max(most, running)
            await asyncio.sleep(0.01)
            running -= 1
        return i

    async with asyncio.timeout(DEADLINE):
        done = await asyncio.gather(*(send(i) for i in range(10)))
    assert done == list(range(10))
    assert most == 3 == limiter.peak
    assert (limiter.in_flight, limiter.waiting) == (0, 0)


async def test_waiters_get_slots_in_the_order_they_asked() -> None:
    limiter = FaxLimiter(1)
    order: list[int] = []
    gate = asyncio.Event()

    async def send(i: int) -> None:
        async with limiter.slot():
            order.append(i)
            if i == 0:
                await gate.wait()

    async with asyncio.timeout(DEADLINE):
        tasks = [asyncio.create_task(send(i)) for i in range(5)]
        while limiter.waiting < 4:
            await asyncio.sleep(0)
        assert limiter.in_flight == 1 and "4 waiting" in repr(limiter)
        gate.set()
        await asyncio.gather(*tasks)
    assert order == [0, 1, 2, 3, 4]


async def test_a_failed_send_gives_its_slot_back() -> None:
    limiter = FaxLimiter(1)
    with pytest.raises(RuntimeError):
        async with limiter.slot():
            raise RuntimeError("call failed")
    async with asyncio.timeout(DEADLINE), limiter.slot():
        assert limiter.in_flight == 1
    assert limiter.in_flight == 0


async def test_a_cancelled_waiter_leaves_no_trace() -> None:
    limiter = FaxLimiter(1)
    async with limiter.slot():
        waiter = asyncio.create_task(_hold(limiter))
        while limiter.waiting < 1:
            await asyncio.sleep(0)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        assert limiter.waiting == 0
    async with asyncio.timeout(DEADLINE), limiter.slot():
        pass


async def _hold(limiter: FaxLimiter) -> None:
    async with limiter.slot():
        await asyncio.sleep(10)


def test_the_limit_must_be_positive_and_defaults_to_four() -> None:
    assert FaxLimiter().limit == DEFAULT_FAX_CONCURRENCY == 4
    with pytest.raises(ValueError):
        FaxLimiter(0)
