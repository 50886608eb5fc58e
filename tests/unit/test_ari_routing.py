"""Event routing without sockets: per-channel streams, buffering, bounds, waiters."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ivr.ari.models import AriEvent, ChannelDtmfReceived, parse_event
from ivr.ari.routing import EventRouter
from ivr.errors import AriError


def channel(cid: str) -> dict[str, Any]:
    return {"id": cid, "name": f"PJSIP/{cid}", "state": "Up"}


def ev(kind: str, cid: str, **fields: Any) -> AriEvent:
    if kind.startswith("Playback"):
        playback = {"id": f"pb-{cid}", "target_uri": f"channel:{cid}", "state": "done"}
        return parse_event({"type": kind, "playback": playback})
    return parse_event({"type": kind, "channel": channel(cid), **fields})


def dtmf(cid: str, digit: str) -> AriEvent:
    return ev("ChannelDtmfReceived", cid, digit=digit)


async def test_channel_stream_gets_only_its_channel_and_ends_after_stasis_end() -> None:
    router = EventRouter()
    stream = router.channel_events("a")
    for event in (dtmf("a", "1"), dtmf("b", "2"), ev("PlaybackFinished", "a")):
        router.publish(event)
    router.publish(ev("StasisEnd", "a"))
    router.publish(dtmf("a", "9"))  # after the end: nobody gets it
    got = [e.type async for e in stream]
    assert got == ["ChannelDtmfReceived", "PlaybackFinished", "StasisEnd"]
    assert stream.closed and not stream.lost


async def test_events_published_before_subscribing_are_delivered_in_order() -> None:
    router = EventRouter()
    router.publish(ev("StasisStart", "a"))
    router.publish(dtmf("a", "5"))
    stream = router.channel_events("a")
    first = await stream.next(timeout_s=1)
    second = await stream.next(timeout_s=1)
    assert first is not None and first.type == "StasisStart"
    assert isinstance(second, ChannelDtmfReceived) and second.digit == "5"


async def test_subscribing_after_the_channel_ended_replays_and_closes() -> None:
    router = EventRouter()
    router.publish(ev("StasisStart", "a"))
    router.publish(ev("ChannelDestroyed", "a", cause=16, cause_txt="Normal Clearing"))
    got = [e.type async for e in router.channel_events("a")]
    assert got == ["StasisStart", "ChannelDestroyed"]


async def test_wait_for_on_a_stream_skips_other_events_and_times_out() -> None:
    router = EventRouter()
    stream = router.channel_events("a")
    router.publish(dtmf("a", "1"))
    router.publish(ev("PlaybackFinished", "a"))
    found = await stream.wait_for(lambda e: e.type == "PlaybackFinished", timeout_s=1)
    assert found is not None and found.type == "PlaybackFinished"
    with pytest.raises(TimeoutError):
        await stream.wait_for(lambda e: e.type == "PlaybackFinished", timeout_s=0.05)
    router.publish(ev("StasisEnd", "a"))
    assert await stream.wait_for(lambda e: e.type == "PlaybackFinished", timeout_s=1) is None


async def test_a_full_stream_drops_the_oldest_event_and_counts_it() -> None:
    router = EventRouter(channel_queue_size=3)
    stream = router.channel_events("a")
    for digit in "12345":
        router.publish(dtmf("a", digit))
    assert stream.dropped == 2
    digits = []
    for _ in range(3):
        event = await stream.next(timeout_s=1)
        assert isinstance(event, ChannelDtmfReceived)
        digits.append(event.digit)
    assert digits == ["3", "4", "5"]


async def test_tracked_channels_are_bounded_but_subscribed_ones_are_kept() -> None:
    router = EventRouter(max_tracked_channels=4)
    kept = router.channel_events("keep")
    for n in range(50):
        router.publish(dtmf(f"c{n}", "1"))
    router.publish(dtmf("keep", "7"))
    assert len(router._channels) <= 5
    event = await kept.next(timeout_s=1)
    assert isinstance(event, ChannelDtmfReceived) and event.digit == "7"


async def test_all_events_stream_fans_out_and_can_be_closed() -> None:
    router = EventRouter()
    with router.events() as one, router.events() as two:
        router.publish(dtmf("a", "1"))
        router.publish(parse_event({"type": "ChannelVarset", "variable": "X"}))
        assert [(await one.next(1)).type for _ in range(2)] == [  # type: ignore[union-attr]
            "ChannelDtmfReceived",
            "ChannelVarset",
        ]
        assert (await two.next(1)) is not None
    assert one.closed and not router._streams


async def test_router_wait_for_resolves_on_the_first_match_only() -> None:
    router = EventRouter()
    waiter = asyncio.create_task(router.wait_for(lambda e: e.type == "StasisStart", 1))
    await asyncio.sleep(0)
    router.publish(dtmf("a", "1"))
    router.publish(ev("StasisStart", "b"))
    result = await waiter
    assert result.channel_id == "b"
    with pytest.raises(TimeoutError):
        await router.wait_for(lambda e: True, 0.01)
    assert not router._waiters


async def test_a_predicate_that_raises_fails_its_waiter_not_the_router() -> None:
    router = EventRouter()

    def broken(event: AriEvent) -> bool:
        raise KeyError("bug")

    waiter = asyncio.create_task(router.wait_for(broken, 1))
    await asyncio.sleep(0)
    stream = router.channel_events("a")
    router.publish(dtmf("a", "1"))
    with pytest.raises(KeyError):
        await waiter
    assert (await stream.next(1)) is not None


async def test_mark_lost_closes_streams_of_vanished_channels_only() -> None:
    router = EventRouter()
    gone = router.channel_events("gone")
    alive = router.channel_events("alive")
    not_yet = router.channel_events("not-yet-originated")
    router.publish(ev("StasisStart", "gone"))
    router.publish(ev("StasisStart", "alive"))
    assert router.mark_lost({"alive"}) == ["gone"]
    assert [e.type async for e in gone] == ["StasisStart"]
    assert gone.lost
    assert not alive.closed and not not_yet.closed


async def test_close_ends_every_stream_and_fails_waiters() -> None:
    router = EventRouter()
    stream = router.channel_events("a")
    everything = router.events()
    waiter = asyncio.create_task(router.wait_for(lambda e: False, 5))
    await asyncio.sleep(0)
    router.close()
    assert await stream.next(1) is None
    assert await everything.next(1) is None
    with pytest.raises(AriError):
        await waiter
    assert router.channel_events("b").closed
    with pytest.raises(AriError):
        await router.wait_for(lambda e: True, 1)
