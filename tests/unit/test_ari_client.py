"""AriClient against the fake ARI server on 127.0.0.1: request shapes, errors, websocket life."""

from __future__ import annotations

import asyncio
import logging
import socket
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from ivr.ari.client import AriClient, ws_rest_supported
from ivr.ari.fake import FakeAriServer
from ivr.ari.models import Channel, ChannelDtmfReceived, StasisStart
from ivr.backoff import Backoff
from ivr.errors import AriConnectionError, AriError, AriRequestError

PASSWORD = "s3cret-Pa55"
FAST = Backoff(initial_s=0.02, max_s=0.1, jitter=0.1)


@pytest.fixture
async def fake() -> AsyncIterator[FakeAriServer]:
    async with FakeAriServer(password=PASSWORD) as server:
        yield server


def make_client(fake: FakeAriServer, **kwargs: Any) -> AriClient:
    kwargs.setdefault("backoff", FAST)
    kwargs.setdefault("reconcile_grace_s", 0.05)
    return AriClient(fake.url, fake.username, PASSWORD, fake.app, **kwargs)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# --- REST request shapes ---------------------------------------------------------------------


async def test_originate_sends_the_documented_query_and_variables(fake: FakeAriServer) -> None:
    async with make_client(fake) as ari:
        channel = await ari.originate(
            "PJSIP/441632960100",
            app_args=["delivery", "42"],
            caller_id='"Watchline" <441632960999>',
            dial_timeout_s=25,
            variables={"CALLERID(name)": "Watchline", "WL_ATTEMPT": "42"},
            channel_id="call-42",
        )
    assert isinstance(channel, Channel) and channel.id == "call-42"
    [request] = fake.requests_to("POST", "/ari/channels")
    assert request.query == {
        "endpoint": "PJSIP/441632960100",
        "app": "watchline",
        "appArgs": "delivery,42",
        "callerId": '"Watchline" <441632960999>',
        "timeout": "25",
        "channelId": "call-42",
    }
    assert request.body == {"variables": {"CALLERID(name)": "Watchline", "WL_ATTEMPT": "42"}}


async def test_originate_without_an_id_sends_a_fresh_uuid_and_refuses_commas(
    fake: FakeAriServer,
) -> None:
    async with make_client(fake) as ari:
        channel = await ari.originate("PJSIP/441632960100")
        with pytest.raises(ValueError):
            await ari.originate("PJSIP/441632960100", app_args=["a,b"])
    [request] = fake.requests_to("POST", "/ari/channels")
    assert request.query["channelId"] == channel.id == str(uuid.UUID(channel.id))
    assert "appArgs" not in request.query and request.body is None


async def test_play_joins_media_and_names_the_playback(fake: FakeAriServer) -> None:
    fake.add_channel("c1", in_app="watchline")
    async with make_client(fake) as ari:
        playback = await ari.play(
            "c1", ["sound:watchline/greeting", "digits:123"], playback_id="pb-1", lang="en"
        )
        with pytest.raises(ValueError):
            await ari.play("c1", [])
    assert (playback.id, playback.channel_id) == ("pb-1", "c1")
    [request] = fake.requests_to("POST", "/ari/channels/c1/play")
    assert request.query == {
        "media": "sound:watchline/greeting,digits:123",
        "lang": "en",
        "playbackId": "pb-1",
    }


async def test_record_sends_limits_beep_and_terminator(fake: FakeAriServer) -> None:
    fake.add_channel("c1", in_app="watchline")
    async with make_client(fake) as ari:
        recording = await ari.record(
            "c1", "report-0042", max_duration_s=120, max_silence_s=5, beep=True
        )
    assert (recording.name, recording.channel_id) == ("report-0042", "c1")
    [request] = fake.requests_to("POST", "/ari/channels/c1/record")
    assert request.query == {
        "name": "report-0042",
        "format": "wav",
        "maxDurationSeconds": "120",
        "maxSilenceSeconds": "5",
        "beep": "true",
        "terminateOn": "#",
        "ifExists": "overwrite",
    }


async def test_the_other_calls_hit_their_documented_paths(fake: FakeAriServer) -> None:
    fake.add_channel("c1", in_app="watchline")
    fake.add_channel("c2", in_app="watchline")
    fake.auto_events = False
    async with make_client(fake, reconcile_on_start=False) as ari:
        await ari.answer("c1")
        await ari.set_channel_var("c1", "WL_OUTCOME", "confirmed")
        assert await ari.get_channel_var("c1", "WL_OUTCOME") == "confirmed"
        assert (await ari.get_channel("c1")).state == "Up"
        assert {c.id for c in await ari.list_channels()} == {"c1", "c2"}
        await ari.continue_in_dialplan("c2", context="watchline-fax", extension="s", priority=1)
        await ari.record("c1", "live-one")
        await ari.stop_recording("live-one")
        assert (await ari.get_stored_recording("live-one")).format == "wav"
        assert (await ari.fetch_recording("live-one")).startswith(b"RIFF")
        await ari.delete_stored_recording("live-one")
        await ari.stop_playback("pb-9")
        await ari.hangup("c1", reason="busy")
    assert fake.requests_to("DELETE", "/ari/channels/c1")[0].query == {"reason": "busy"}
    cont = fake.requests_to("POST", "/ari/channels/c2/continue")[0]
    assert cont.query == {"context": "watchline-fax", "extension": "s", "priority": "1"}
    assert fake.requests_to("DELETE", "/ari/playbacks/pb-9")
    assert fake.requests_to("POST", "/ari/recordings/live/live-one/stop")
    assert "live-one" not in fake.stored


async def test_ids_are_percent_encoded_into_one_path_segment(fake: FakeAriServer) -> None:
    async with make_client(fake) as ari:
        with pytest.raises(AriRequestError) as err:
            await ari.get_stored_recording("../channels")
    assert err.value.not_found
    [request] = [r for r in fake.requests if r.path.startswith("/ari/recordings")]
    assert request.path == "/ari/recordings/stored/../channels"


# --- errors ------------------------------------------------------------------------------------


async def test_404_becomes_a_not_found_request_error(fake: FakeAriServer) -> None:
    async with make_client(fake) as ari:
        with pytest.raises(AriRequestError) as err:
            await ari.get_channel("no-such-channel")
        with pytest.raises(AriRequestError) as unset:
            fake.add_channel("c1")
            await ari.get_channel_var("c1", "NEVER_SET")
    assert err.value.not_found and err.value.status == 404
    assert (err.value.method, err.value.path) == ("GET", "/channels/no-such-channel")
    assert err.value.reason == "Channel not found"
    assert not err.value.retryable
    assert unset.value.reason == "Provided variable was not found"


async def test_a_bad_password_is_a_401_that_never_shows_the_password(
    fake: FakeAriServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "wrong-" + PASSWORD
    async with AriClient(fake.url, "watchline", wrong, "watchline", backoff=FAST) as ari:
        with pytest.raises(AriRequestError) as err:
            await ari.list_channels()
        with pytest.raises(AriConnectionError):
            await ari.wait_connected(0.3)
        text = f"{err.value} {ari!r}"
    assert err.value.status == 401
    assert "websocket" in caplog.text and "401" in caplog.text
    for shown in (caplog.text, text):
        assert wrong not in shown and PASSWORD not in shown


async def test_an_unreachable_asterisk_is_a_retryable_connection_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    policy = Backoff(initial_s=0.01, max_s=0.02, max_failures=2)
    async with AriClient(url, "u", PASSWORD, "watchline", backoff=policy) as ari:
        with pytest.raises(AriConnectionError) as err:
            await ari.answer("c1")
        assert err.value.retryable
        with pytest.raises(AriConnectionError, match="gave up after 2"):
            await ari.wait_connected(5)


async def test_calls_before_opening_fail_clearly(fake: FakeAriServer) -> None:
    with pytest.raises(AriError, match="not open"):
        await make_client(fake).list_channels()


async def test_a_session_passed_in_is_used_and_left_open(fake: FakeAriServer) -> None:
    async with aiohttp.ClientSession() as session:
        async with make_client(fake, session=session) as ari:
            await ari.list_channels()
        assert not session.closed


# --- websocket ---------------------------------------------------------------------------------


async def test_a_call_flows_through_events_originate_play_hangup(fake: FakeAriServer) -> None:
    async with make_client(fake) as ari:
        await ari.wait_connected(5)
        channel_id = str(uuid.uuid4())
        with ari.channel_events(channel_id) as events:
            await ari.originate("PJSIP/441632960100", app_args=["delivery"], channel_id=channel_id)
            start = await events.wait_for(lambda e: e.type == "StasisStart", 5)
            assert isinstance(start, StasisStart) and start.args == ("delivery",)
            await ari.play(channel_id, "sound:beep")
            assert await events.wait_for(lambda e: e.type == "PlaybackFinished", 5)
            await ari.hangup(channel_id)
            rest = [e.type async for e in events]
        # The stream ends with StasisEnd; the hang-up cause came just before it.
        assert rest == ["ChannelHangupRequest", "StasisEnd"]
        assert events.closed and not events.lost
    [ws_request] = fake.requests_to("GET", "/ari/events")
    assert ws_request.query == {"app": "watchline", "subscribeAll": "false"}


async def test_garbage_on_the_websocket_is_logged_and_skipped(
    fake: FakeAriServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="ivr.ari")
    async with make_client(fake) as ari:
        await ari.wait_connected(5)
        with ari.channel_events("c1") as events:
            await fake.send_text("this is not json")
            await fake.send_bytes(b"\x00\x01binary")
            await fake.send_text('{"channel": {"id": "c1"}}')
            await fake.send_text('{"type": "ChannelDtmfReceived", "channel": {"id": "c1"}}')
            await fake.send_event(
                {"type": "ChannelDtmfReceived", "digit": "7", "channel": {"id": "c1"}}
            )
            event = await events.next(timeout_s=5)
        assert isinstance(event, ChannelDtmfReceived) and event.digit == "7"
        assert ari.connected and ari.connections == 1
    assert "not JSON" in caplog.text
    assert "binary websocket frame" in caplog.text
    assert "no 'type'" in caplog.text
    assert "malformed ChannelDtmfReceived" in caplog.text


async def test_after_a_drop_it_reconnects_and_reconciles_channels_in_our_app(
    fake: FakeAriServer,
) -> None:
    calls: list[list[Channel]] = []
    reconciled = asyncio.Event()

    async def on_reconnect(channels: list[Channel]) -> None:
        calls.append(channels)
        reconciled.set()

    fake.add_channel("ours", "PJSIP/441632960100-00000001", in_app="watchline")
    fake.add_channel("local-2", "Local/s@watchline-ari-selftest-00000001;2")
    fake.add_channel("theirs", in_app="otherapp")
    client = make_client(fake, on_reconnect=on_reconnect, reconcile_on_start=False)
    async with client as ari:
        await fake.wait_connections(1)
        await fake.drop_websockets()
        await fake.wait_connections(2)
        await asyncio.wait_for(reconciled.wait(), 5)
        assert ari.connections == 2
    assert [[c.id for c in channels] for channels in calls] == [["ours"]]


async def test_by_default_orphans_are_hung_up_and_logged_by_id_and_name(
    fake: FakeAriServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="ivr.ari")
    fake.add_channel("orphan-1", "PJSIP/441632960100-0000000f", in_app="watchline")
    fake.add_channel("bystander", in_app="otherapp")
    async with make_client(fake) as ari:
        with ari.channel_events("orphan-1") as orphan:
            end = await orphan.wait_for(lambda e: e.type == "StasisEnd", 5)
    assert end is not None
    assert set(fake.channels) == {"bystander"}
    assert "orphan-1" in caplog.text and "PJSIP/441632960100-0000000f" in caplog.text


async def test_streams_of_channels_that_ended_while_disconnected_close_as_lost(
    fake: FakeAriServer,
) -> None:
    fake.add_channel("survivor", in_app="watchline")
    fake.add_channel("vanished", in_app="watchline")

    async def keep(channels: list[Channel]) -> None:
        return None

    async with make_client(fake, on_reconnect=keep) as ari:
        await ari.wait_connected(5)
        vanished = ari.channel_events("vanished")
        survivor = ari.channel_events("survivor")
        for cid in ("vanished", "survivor"):
            await fake.send_event({"type": "StasisStart", "args": [], "channel": {"id": cid}})
        await ari.wait_for(lambda e: e.channel_id == "survivor", 5)
        await fake.drop_websockets()
        del fake.channels["vanished"]  # its StasisEnd went nowhere
        await fake.wait_connections(2)
        assert [e.type async for e in vanished] == ["StasisStart"]
        assert vanished.lost
        assert not survivor.closed


async def test_calls_that_start_during_reconciliation_are_not_taken_for_orphans(
    fake: FakeAriServer,
) -> None:
    orphans: list[str] = []
    reconciled = asyncio.Event()

    async def on_reconnect(channels: list[Channel]) -> None:
        orphans.extend(c.id for c in channels)
        reconciled.set()

    fake.add_channel("orphan", in_app="watchline")
    fake.list_delay_s = 0.3  # the new calls below start while the client lists channels
    async with make_client(fake, on_reconnect=on_reconnect, reconcile_grace_s=0.2) as ari:
        await ari.wait_connected(5)
        await ari.originate("PJSIP/441632960101", channel_id="new-outbound")
        inbound = fake.add_channel("new-inbound", in_app="watchline")
        await fake.send_event({"type": "StasisStart", "args": ["report"], "channel": inbound})
        await asyncio.wait_for(reconciled.wait(), 5)
    assert orphans == ["orphan"]


async def test_wait_connected_fails_once_the_client_is_closed(fake: FakeAriServer) -> None:
    ari = make_client(fake)
    async with ari:
        await ari.wait_connected(5)
        assert ari.connected
    assert not ari.connected
    with pytest.raises(AriConnectionError, match="closed"):
        await ari.wait_connected(1)
    assert (await ari.events().next(1)) is None


# --- per connection: the event filter, and whether requests may ride the websocket -----------


async def test_the_event_filter_is_set_again_on_every_connection(fake: FakeAriServer) -> None:
    ignored = ("PlaybackStarted", "PlaybackContinuing")
    async with make_client(fake, ignored_events=ignored) as ari:
        await ari.wait_connected(5)
        await fake.drop_websockets()
        await fake.wait_connections(2)
        await ari.wait_connected(5)
        # Asterisk forgets the filter when it restarts, so each connection sets it again
        assert fake.event_filters == [list(ignored), list(ignored)]


async def test_no_event_filter_is_set_unless_asked(fake: FakeAriServer) -> None:
    async with make_client(fake) as ari:
        await ari.wait_connected(5)
        await ari.list_channels()
    assert fake.event_filters == []
    assert fake.requests_to("GET", "/ari/asterisk/info")  # the version was asked for


async def test_an_asterisk_older_than_22_3_gets_every_request_over_http(
    fake: FakeAriServer,
) -> None:
    fake.add_channel("c1", "PJSIP/441632960100-00000001", in_app="watchline")
    async with make_client(fake) as ari:
        await ari.wait_connected(5)
        await ari.play("c1", "sound:beep")
        await ari.hangup("c1")
        assert ari.ws_requests == 0
    assert fake.requests_to("POST", "/ari/channels/c1/play")
    assert fake.requests_to("DELETE", "/ari/channels/c1")


@pytest.mark.parametrize(
    ("version", "supported"),
    [
        ("22.10.1+dfsg+~cs6.17.60671434-1", True),
        ("22.3.0", True),
        ("23.0.0-rc1", True),
        ("22.2.9", False),
        ("21.12.0", False),
        ("20.7.0", False),
        ("GIT-master-abc123", False),
        ("", False),
    ],
)
def test_rest_over_the_websocket_needs_asterisk_22_3(version: str, supported: bool) -> None:
    assert ws_rest_supported(version) is supported


async def test_a_websocket_request_fails_retryably_when_the_socket_drops_or_stays_silent(
    fake: FakeAriServer,
) -> None:
    # Told it is a 22.10, the client sends requests on the websocket; the fake never answers.
    fake.version = "22.10.1"
    async with make_client(fake, request_timeout_s=0.3) as ari:
        await ari.wait_connected(5)
        with pytest.raises(AriConnectionError, match="no answer on the websocket"):
            await ari.answer("c1")
        waiting = asyncio.create_task(ari.answer("c1"))
        await asyncio.sleep(0.05)
        await fake.drop_websockets()
        with pytest.raises(AriConnectionError, match="websocket closed"):
            await waiting
        assert ari.ws_requests == 0
    assert not fake.requests_to("POST", "/ari/channels/c1/answer")  # none went over HTTP
