"""The asyncio AMI client against a fake AMI server on 127.0.0.1 (port 0)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from ivr.ami.client import AmiClient
from ivr.ami.fake_server import FakeAmiServer, FakeAmiSession, ReceivedAction, substitute_action_id
from ivr.ami.messages import Action, Event
from ivr.backoff import Backoff
from ivr.errors import AmiActionError, AmiAuthError, AmiConnectionError

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "ami"
USER, SECRET = "watchline", "s3cret-do-not-log"
FAST = Backoff(initial_s=0.02, max_s=0.1, jitter=0.2)
DEADLINE = 5.0  # no single wait in these tests should come near this


def transcript(name: str) -> bytes:
    return (FIXTURES / name).read_bytes().replace(b"\n", b"\r\n")


@pytest.fixture
async def server() -> AsyncIterator[FakeAmiServer]:
    async with FakeAmiServer(USER, SECRET) as fake:
        yield fake


def client(server: FakeAmiServer, **options: Any) -> AmiClient:
    options.setdefault("action_timeout", 2.0)
    options.setdefault("connect_timeout", 2.0)
    options.setdefault("keepalive_interval", None)
    options.setdefault("backoff", FAST)
    return AmiClient(server.host, server.port, USER, options.pop("secret", SECRET), **options)


# ---- login ------------------------------------------------------------------------------


async def test_login_succeeds_and_reads_the_banner(server: FakeAmiServer) -> None:
    async with client(server) as ami:
        assert ami.connected
        assert ami.greeting is not None and ami.greeting.version == "11.0.0"
        login = server.received[0]
        assert (login.name, login.get("Events"), login.get("Username")) == ("Login", "on", USER)
    assert not ami.connected
    assert server.received[-1].name == "Logoff"


async def test_bad_credentials_raise_auth_error_without_retrying(server: FakeAmiServer) -> None:
    async with asyncio.timeout(DEADLINE):
        with pytest.raises(AmiAuthError, match="refused"):
            async with client(server, secret="wrong"):
                pass
    await asyncio.sleep(0.2)  # long enough for several back-off rounds, had there been any
    assert server.failed_logins == 1


async def test_nothing_listening_raises_a_retryable_connection_error() -> None:
    async with FakeAmiServer() as gone:
        port = gone.port
    ami = AmiClient("127.0.0.1", port, USER, SECRET, connect_timeout=1.0)
    with pytest.raises(AmiConnectionError) as info:
        await ami.connect()
    assert info.value.retryable


async def test_the_secret_is_never_logged(
    server: FakeAmiServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with client(server) as ami:
        await ami.action(Action("Ping"))
        assert SECRET not in repr(ami)
    with pytest.raises(AmiAuthError):
        await client(server, secret=SECRET + "x").connect()
    assert SECRET not in caplog.text
    assert "logged in" in caplog.text


# ---- actions ----------------------------------------------------------------------------


async def test_concurrent_actions_get_their_own_responses_among_events(
    server: FakeAmiServer,
) -> None:
    """A slow action answered after a fast one, with events in between, is still
    matched by ActionID."""
    release = asyncio.Event()

    async def slow(session: FakeAmiSession, action: ReceivedAction) -> None:
        await release.wait()
        await session.send({"Event": "Newstate", "Uniqueid": "9"})
        await session.respond(action, Message="slow done")

    async def fast(session: FakeAmiSession, action: ReceivedAction) -> None:
        await session.send({"Event": "Newchannel", "Uniqueid": "8"})
        await session.respond(action, Message="fast done")
        release.set()

    # The fake server handles one connection's actions in order; answer slow in a task.
    pending: set[asyncio.Task[None]] = set()

    async def slow_in_background(session: FakeAmiSession, action: ReceivedAction) -> None:
        pending.add(asyncio.ensure_future(slow(session, action)))

    server.handlers.update({"Slow": slow_in_background, "Fast": fast})
    async with client(server) as ami, asyncio.timeout(DEADLINE):
        slow_task = asyncio.ensure_future(ami.action(Action("Slow")))
        await server.wait_for_action("Slow")
        fast_response = await ami.action(Action("Fast"))
        slow_response = await slow_task
    await asyncio.gather(*pending)
    assert fast_response.message == "fast done"
    assert slow_response.message == "slow done"


async def test_error_response_raises_action_error(server: FakeAmiServer) -> None:
    async with client(server) as ami:
        with pytest.raises(AmiActionError) as info:
            await ami.action(Action("NoSuchThing"))
    assert info.value.action == "NoSuchThing"
    assert "Invalid/unknown command" in info.value.message
    assert info.value.response["Response"] == "Error"


async def test_unanswered_action_times_out_and_the_client_stays_usable(
    server: FakeAmiServer,
) -> None:
    async def never(session: FakeAmiSession, action: ReceivedAction) -> None:
        return None

    server.handlers["Black hole"] = never
    async with client(server) as ami:
        with pytest.raises(AmiConnectionError, match=r"within 0\.2s"):
            await ami.action(Action("Black hole"), timeout=0.2)
        assert (await ami.action(Action("Ping"))).get("Ping") == "Pong"


async def test_event_list_replayed_from_a_transcript(server: FakeAmiServer) -> None:
    """CoreShowChannels returns its items and Complete; the interleaved Newstate still
    reaches subscribers."""

    async def channels(session: FakeAmiSession, action: ReceivedAction) -> None:
        data = transcript("core_show_channels.txt")
        await session.send_raw(substitute_action_id(data, "wl-12", action.action_id))

    server.handlers["CoreShowChannels"] = channels
    async with client(server) as ami, asyncio.timeout(DEADLINE):
        with ami.subscribe(names={"Newstate"}) as states:
            response, events = await ami.action_list(Action("CoreShowChannels"))
            newstate = await states.get()
    assert response.message == "Channels will follow"
    assert [e.name for e in events][-1] == "CoreShowChannelsComplete"
    assert [e.get("ChannelStateDesc") for e in events[:-1]] == ["Up", "Ringing"]
    assert newstate.get("Uniqueid") == "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d"


async def test_command_reads_modern_and_legacy_output(server: FakeAmiServer) -> None:
    async def command(session: FakeAmiSession, action: ReceivedAction) -> None:
        if action.get("Command") == "core show version":
            await session.respond(
                action, Message="Command output follows", Output="Asterisk 22.10.1 built by x"
            )
        else:
            # The last frame of the transcript: legacy output with a blank line inside.
            data = transcript("command_output.txt")
            legacy = data[data.rindex(b"Response: Follows") :]
            await session.send_raw(substitute_action_id(legacy, "wl-24", action.action_id))

    server.handlers["Command"] = command
    async with client(server) as ami:
        assert await ami.command("core show version") == "Asterisk 22.10.1 built by x"
        legacy = await ami.command("core show uptime")
    assert legacy.splitlines()[0] == "Uptime: 1 hour, 2 minutes"
    assert legacy.splitlines()[-1] == "0 active channels"


# ---- originate --------------------------------------------------------------------------

BUSY_CHANNEL_ID = "6f1c2a9e-5b7d-4c1e-9f0a-2d3b4c5d6e7f"


async def test_originate_returns_its_response_and_events_correlate_by_channel_id(
    server: FakeAmiServer,
) -> None:
    """The busy call: OriginateResponse says only Failure/0; DialEnd and Hangup for the
    same ChannelId say BUSY and cause 17."""

    async def originate(session: FakeAmiSession, action: ReceivedAction) -> None:
        data = transcript("originate_busy.txt")
        await session.send_raw(substitute_action_id(data, "wl-7", action.action_id))

    server.handlers["Originate"] = originate
    async with client(server) as ami, asyncio.timeout(DEADLINE):
        mine = ami.subscribe(
            {"Hangup", "DialEnd"},
            lambda e: BUSY_CHANNEL_ID in (e.get("Uniqueid"), e.get("DestUniqueid")),
        )
        result = await ami.originate(
            "PJSIP/441632960101",
            context="watchline-delivery",
            exten="s",
            channel_id=BUSY_CHANNEL_ID,
            variables={"CAMPAIGN_ID": "7", "ATTEMPT_ID": "31"},
            timeout_ms=20_000,
            caller_id="Watchline <01632960000>",
        )
        dial_end, hangup = await mine.get(), await mine.get()
        mine.close()
    assert (result.response, result.reason, result.answered) == ("Failure", 0, False)
    assert result.channel_id == BUSY_CHANNEL_ID == result.uniqueid
    assert dial_end.get("DialStatus") == "BUSY"
    assert (hangup.get("Cause"), hangup.get("Cause-txt")) == ("17", "User busy")
    sent = await server.wait_for_action("Originate")
    assert sent.get("Async") == "true" and sent.get("ChannelId") == BUSY_CHANNEL_ID
    assert sent.get_all("Variable") == ("CAMPAIGN_ID=7", "ATTEMPT_ID=31")
    assert sent.get("Timeout") == "20000"


async def test_answered_originate(server: FakeAmiServer) -> None:
    async def originate(session: FakeAmiSession, action: ReceivedAction) -> None:
        data = transcript("originate_answered_dtmf.txt")
        await session.send_raw(substitute_action_id(data, "wl-8", action.action_id))

    server.handlers["Originate"] = originate
    async with client(server) as ami, asyncio.timeout(DEADLINE):
        result = await ami.originate("PJSIP/441632960100", application="Playback", data="x")
        assert result.answered and result.channel == "PJSIP/441632960100-00000005"


async def test_refused_originate_raises_action_error(server: FakeAmiServer) -> None:
    async def refuse(session: FakeAmiSession, action: ReceivedAction) -> None:
        await session.respond(action, "Error", Message="Originate failed")

    server.handlers["Originate"] = refuse
    async with client(server) as ami:
        with pytest.raises(AmiActionError, match="Originate failed"):
            await ami.originate("PJSIP/nobody", context="c", exten="s")


# ---- events and malformed input -----------------------------------------------------------


async def test_garbage_mid_stream_is_skipped_and_the_next_event_delivered(
    server: FakeAmiServer, caplog: pytest.LogCaptureFixture
) -> None:
    async with client(server) as ami, asyncio.timeout(DEADLINE):
        with ami.subscribe(names={"Hangup"}) as hangups:
            await server.broadcast_raw(b"Event: Broken\r\nno colon on this line\r\n\r\n")
            await server.broadcast_raw(b"\x00\xff\xfe\x80 binary \x01\x02\r\n")
            await server.broadcast({"Event": "Hangup", "Uniqueid": "u-1", "Cause": "16"})
            event = await hangups.get()
        assert event.get("Uniqueid") == "u-1"
        assert ami.connected
        assert (await ami.action(Action("Ping"))).get("Ping") == "Pong"
    assert "malformed" in caplog.text


async def test_wait_for_event_returns_the_match_or_none(server: FakeAmiServer) -> None:
    async with client(server) as ami, asyncio.timeout(DEADLINE):

        async def later() -> None:
            await asyncio.sleep(0.05)
            await server.broadcast({"Event": "DTMFEnd", "Digit": "2"})
            await server.broadcast({"Event": "DTMFEnd", "Digit": "1"})

        sender = asyncio.ensure_future(later())
        event = await ami.wait_for_event(lambda e: e.get("Digit") == "1", 2.0, names={"DTMFEnd"})
        await sender
        assert event is not None and event.get("Digit") == "1"
        assert await ami.wait_for_event(lambda e: True, 0.05, names={"Nothing"}) is None


async def test_a_slow_subscriber_does_not_stall_actions(server: FakeAmiServer) -> None:
    async with client(server) as ami, asyncio.timeout(DEADLINE):
        slow = ami.subscribe(maxsize=5)
        for i in range(50):
            await server.broadcast({"Event": "Newstate", "Seq": str(i)})
        assert (await ami.action(Action("Ping"))).get("Ping") == "Pong"
        assert slow.dropped >= 45
    assert slow.closed  # closing the client ends every subscription


async def test_closing_the_client_ends_subscribers_iteration(server: FakeAmiServer) -> None:
    ami = client(server)
    await ami.connect()
    subscription = ami.subscribe()
    received: list[Event] = []

    async def consume() -> None:
        async for event in subscription:
            received.append(event)

    consumer = asyncio.ensure_future(consume())
    await ami.close()
    async with asyncio.timeout(DEADLINE):
        await consumer
    assert all(e.name == "FullyBooted" for e in received)


# ---- reconnection and keepalive -----------------------------------------------------------


async def test_server_drop_triggers_reconnect_signal_and_callbacks(server: FakeAmiServer) -> None:
    """Pending actions fail retryably; the client logs in again by itself, fires
    ``reconnected`` and the callbacks, and the next action works."""
    seen_sync: list[int] = []
    seen_async: list[int] = []

    async def reconcile(count: int) -> None:
        seen_async.append(count)

    async def never(session: FakeAmiSession, action: ReceivedAction) -> None:
        return None

    server.handlers["Hold"] = never
    async with client(server) as ami, asyncio.timeout(DEADLINE):
        ami.on_reconnect += [seen_sync.append, reconcile]
        held = asyncio.ensure_future(ami.action(Action("Hold"), timeout=DEADLINE))
        await server.wait_for_action("Hold")
        server.drop_all()
        with pytest.raises(AmiConnectionError) as info:
            await held
        assert info.value.retryable
        assert await ami.reconnected.wait(after=0) == 1
        assert (await ami.action(Action("Ping"))).get("Ping") == "Pong"
        await asyncio.sleep(0.01)
    assert server.logins == 2
    assert seen_sync == [1] and seen_async == [1]


async def test_restart_with_downtime_reconnects_with_backoff(server: FakeAmiServer) -> None:
    async with client(server) as ami, asyncio.timeout(DEADLINE):
        await server.restart(downtime=0.3)
        assert await ami.reconnected.wait(after=0) == 1
        assert ami.connected
        with ami.subscribe(names={"Hangup"}) as hangups:
            await server.broadcast({"Event": "Hangup", "Cause": "16"})
            assert (await hangups.get()).get("Cause") == "16"


async def test_actions_while_disconnected_fail_fast(server: FakeAmiServer) -> None:
    """An action in flight fails when the link drops; new ones fail at once (no queueing)
    while the client is reconnecting."""

    async def never(session: FakeAmiSession, action: ReceivedAction) -> None:
        return None

    server.handlers["Hold"] = never
    async with client(server, backoff=Backoff(initial_s=0.5, max_s=0.5)) as ami:
        async with asyncio.timeout(DEADLINE):
            held = asyncio.ensure_future(ami.action(Action("Hold"), timeout=DEADLINE))
            await server.wait_for_action("Hold")
            await server.stop()
            with pytest.raises(AmiConnectionError, match="lost"):
                await held
        with pytest.raises(AmiConnectionError, match="reconnecting"):
            await ami.action(Action("Ping"))


async def test_client_gives_up_after_max_reconnect_attempts(server: FakeAmiServer) -> None:
    async with client(server, max_reconnect_attempts=2) as ami:
        await server.stop()
        async with asyncio.timeout(DEADLINE):
            await ami.wait_closed()
        with pytest.raises(AmiConnectionError, match="gave up"):
            await ami.action(Action("Ping"))


async def test_missing_pong_counts_as_a_dead_connection(server: FakeAmiServer) -> None:
    """Ping unanswered within keepalive_timeout -> the client drops the link and logs in
    again."""
    server.answer_pings = False
    async with client(server, keepalive_interval=0.05, keepalive_timeout=0.1) as ami:
        async with asyncio.timeout(DEADLINE):
            await server.wait_for_action("Ping")
            server.answer_pings = True
            assert await ami.reconnected.wait(after=0) == 1
            await server.wait_for_action("Ping", count=3)  # keepalive goes on afterwards
        assert ami.connected
    assert server.logins == 2


async def test_reconnect_with_bad_credentials_keeps_retrying(
    server: FakeAmiServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A refused re-login is logged at ERROR and retried; it succeeds once fixed."""
    async with client(server) as ami, asyncio.timeout(DEADLINE):
        server.secret = "rotated"
        server.drop_all()
        await server.wait_for_action("Login", count=3)  # two refused re-logins
        server.secret = SECRET
        assert await ami.reconnected.wait(after=0) == 1
    assert "refused" in caplog.text
