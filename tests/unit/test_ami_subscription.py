"""Event subscriptions (bounded, never blocking the reader) and the reconnect signal."""

from __future__ import annotations

import asyncio
import logging

import pytest

from ivr.ami.messages import Event
from ivr.ami.subscription import EventSubscription, ReconnectSignal


def event(name: str, n: int = 0) -> Event:
    return Event(headers=(("Event", name), ("Seq", str(n))))


async def test_names_match_case_insensitively_and_filter_applies() -> None:
    sub = EventSubscription({"hangup"}, lambda e: e.get("Seq") != "1")
    for i in range(3):
        sub.offer(event("Hangup", i))
    sub.offer(event("DialEnd"))
    sub.close()
    assert [e.get("Seq") async for e in sub] == ["0", "2"]


async def test_full_queue_drops_the_oldest_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    """offer() never waits: the slow subscriber loses its oldest events, counted."""
    sub = EventSubscription(maxsize=3)
    with caplog.at_level(logging.WARNING, logger="ivr.ami.subscription"):
        for i in range(5):
            sub.offer(event("Newstate", i))
    assert sub.dropped == 2
    assert "slow" in caplog.text
    assert [sub.get_nowait(), sub.get_nowait(), sub.get_nowait()] == [
        event("Newstate", 2),
        event("Newstate", 3),
        event("Newstate", 4),
    ]


async def test_close_wakes_a_waiting_reader() -> None:
    sub = EventSubscription()
    waiter = asyncio.ensure_future(sub.get())
    await asyncio.sleep(0)
    sub.close()
    async with asyncio.timeout(1):
        with pytest.raises(StopAsyncIteration):
            await waiter
    sub.offer(event("Hangup"))  # ignored once closed
    assert sub.get_nowait() is None


async def test_a_raising_filter_only_hurts_itself() -> None:
    def broken(_: Event) -> bool:
        raise RuntimeError("bug")

    sub = EventSubscription(filter=broken)
    sub.offer(event("Hangup"))
    assert sub.get_nowait() is None


async def test_context_manager_closes_and_notifies_owner() -> None:
    closed: list[EventSubscription] = []
    with EventSubscription(on_close=closed.append) as sub:
        pass
    assert sub.closed and closed == [sub]


async def test_reconnect_signal_wait_and_iteration() -> None:
    signal = ReconnectSignal()
    waiter = asyncio.ensure_future(signal.wait())
    seen: list[int] = []

    async def follow() -> None:
        async for count in signal:
            seen.append(count)
            if count == 2:
                return

    follower = asyncio.ensure_future(follow())
    await asyncio.sleep(0)
    assert signal.fire() == 1
    async with asyncio.timeout(1):
        assert await waiter == 1
        await asyncio.sleep(0)
        signal.fire()
        await follower
    assert seen == [1, 2]
    async with asyncio.timeout(1):
        assert await signal.wait(after=0) == 2  # already past: returns at once
