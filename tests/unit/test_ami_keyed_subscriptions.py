"""Per-call subscriptions: a call's events reach its subscriber by lookup, nobody else's."""

from __future__ import annotations

from ivr.ami.client import AmiClient
from ivr.ami.messages import Event


def _event(name: str, **headers: str) -> Event:
    return Event(headers=(("Event", name), *headers.items()))


async def test_events_reach_only_the_subscription_of_their_channel() -> None:
    ami = AmiClient("127.0.0.1", 1, "u", "s")
    a = ami.subscribe(names={"Hangup", "DialEnd"}, channel_id="chan-a")
    b = ami.subscribe(names={"Hangup"}, channel_id="chan-b")
    everything = ami.subscribe()
    ami._publish(_event("Hangup", Uniqueid="chan-a", Cause="17"))
    ami._publish(_event("DialEnd", Uniqueid="other", DestUniqueid="chan-a", DialStatus="BUSY"))
    ami._publish(_event("Newstate", Uniqueid="chan-b"))  # not a name b asked for
    assert [e.name for e in iter(a.get_nowait, None)] == ["Hangup", "DialEnd"]
    assert a.get_nowait() is None and b.get_nowait() is None
    assert [e.name for e in iter(everything.get_nowait, None)] == ["Hangup", "DialEnd", "Newstate"]


async def test_a_closed_keyed_subscription_is_forgotten() -> None:
    ami = AmiClient("127.0.0.1", 1, "u", "s")
    with ami.subscribe(channel_id="chan-a"):
        assert "chan-a" in ami._by_channel
    assert "chan-a" not in ami._by_channel
    ami._publish(_event("Hangup", Uniqueid="chan-a"))  # nobody left: no error


async def test_closing_the_client_ends_keyed_subscriptions() -> None:
    ami = AmiClient("127.0.0.1", 1, "u", "s")
    sub = ami.subscribe(channel_id="chan-a")
    await ami.close()
    assert sub.closed
