"""AriClient against the real Asterisk sandbox: a Local call through play, record, hang-up,
and a restart of Asterisk under a connected client."""

from __future__ import annotations

import asyncio
import io
import uuid
import wave
from collections.abc import AsyncIterator
from typing import Any

import pytest

from ivr.ari import (
    AriClient,
    Backoff,
    Channel,
    ChannelDestroyed,
    ChannelDtmfReceived,
    PlaybackFinished,
    RecordingFailed,
    RecordingFinished,
    RecordingStarted,
    StasisStart,
)
from ivr.errors import AriRequestError
from ivr.sandbox import AsteriskSandbox, SandboxInfo

pytestmark = pytest.mark.integration

#: The sandbox dialplan's context that answers and waits 30 s (dialplans/extensions.conf.j2).
SELFTEST_ENDPOINT = "Local/s@watchline-selftest"
# Quick retries: a restarted sandbox is back in well under a second.
TEST_BACKOFF = Backoff(initial_s=0.1, max_s=1.0)


def client_for(info: SandboxInfo, **kwargs: Any) -> AriClient:
    return AriClient(
        info.ari_url,
        info.ari_username,
        info.ari_password,
        info.ari_app,
        backoff=TEST_BACKOFF,
        reconcile_grace_s=0.2,
        **kwargs,
    )


def wav_format(data: bytes) -> tuple[int, int, int]:
    with wave.open(io.BytesIO(data)) as wav:
        return wav.getframerate(), wav.getnchannels(), wav.getsampwidth()


def wav_frames(data: bytes) -> int:
    with wave.open(io.BytesIO(data)) as wav:
        return wav.getnframes()


@pytest.fixture
async def ari(asterisk: SandboxInfo) -> AsyncIterator[AriClient]:
    async with client_for(asterisk) as client:
        await client.wait_connected(10)
        yield client


async def test_the_websocket_comes_up_and_rest_answers(ari: AriClient) -> None:
    assert ari.connected
    channels = await ari.list_channels()
    assert all(c.id for c in channels)
    with pytest.raises(AriRequestError) as err:
        await ari.get_channel("no-such-channel")
    assert err.value.not_found


async def test_a_local_call_plays_records_and_hangs_up(ari: AriClient) -> None:
    channel_id = f"ari-selftest-{uuid.uuid4()}"
    name = f"ari-selftest-{uuid.uuid4().hex[:12]}"
    with ari.channel_events(channel_id) as events, ari.events() as everything:
        channel = await ari.originate(
            SELFTEST_ENDPOINT, app_args=["ari-test"], channel_id=channel_id, dial_timeout_s=10
        )
        assert channel.id == channel_id
        start = await events.wait_for(lambda e: isinstance(e, StasisStart), 10)
        assert isinstance(start, StasisStart) and start.args == ("ari-test",)
        assert start.channel.in_stasis_app(ari.app)

        playback = await ari.play(channel_id, "sound:beep")
        finished = await events.wait_for(
            lambda e: isinstance(e, PlaybackFinished) and e.playback.id == playback.id, 10
        )
        assert isinstance(finished, PlaybackFinished) and finished.playback.state == "done"

        await ari.record(channel_id, name, max_duration_s=1, terminate_on="none")
        ended = await events.wait_for(
            lambda e: (
                isinstance(e, RecordingFinished | RecordingFailed) and e.recording.name == name
            ),
            15,
        )
        assert isinstance(ended, RecordingFinished), ended
        # The far half only sends silence (Wait), which Asterisk trims off the end of a
        # recording, so this file may hold no frames; its format is what is checked here.
        assert wav_format(await ari.fetch_recording(name)) == (8000, 1, 2)
        await ari.delete_stored_recording(name)

        await ari.hangup(channel_id)
        destroyed = await everything.wait_for(
            lambda e: isinstance(e, ChannelDestroyed) and e.channel_id == channel_id, 10
        )
        assert isinstance(destroyed, ChannelDestroyed)
        rest = [e.type async for e in events]
    assert rest[-1] == "StasisEnd" and not events.lost
    with pytest.raises(AriRequestError) as err:
        await ari.get_stored_recording(name)
    assert err.value.not_found


async def test_audio_and_dtmf_cross_a_local_pair_with_both_halves_in_our_app(
    ari: AriClient,
) -> None:
    """Both halves of Local/9000@from-phones end up in our app (9000 runs Stasis), so one
    half can play and press keys while the other records and hears them."""
    near, far = f"ari-near-{uuid.uuid4()}", f"ari-far-{uuid.uuid4()}"
    name = f"ari-audio-{uuid.uuid4().hex[:12]}"
    with ari.channel_events(near) as near_events, ari.channel_events(far) as far_events:
        await ari.originate(
            "Local/9000@from-phones", channel_id=near, other_channel_id=far, dial_timeout_s=10
        )
        far_start = await far_events.wait_for(lambda e: isinstance(e, StasisStart), 10)
        assert isinstance(far_start, StasisStart) and far_start.args == ("selftest",)
        await ari.answer(far)  # the near half enters Stasis once the far one answers
        assert await near_events.wait_for(lambda e: isinstance(e, StasisStart), 10)

        await ari.record(near, name, max_duration_s=2, terminate_on="none")
        await near_events.wait_for(lambda e: isinstance(e, RecordingStarted), 10)
        await ari.play(far, ["sound:beep", "sound:beep", "sound:beep"])
        ended = await near_events.wait_for(
            lambda e: isinstance(e, RecordingFinished | RecordingFailed), 15
        )
        assert isinstance(ended, RecordingFinished), ended
        audio = await ari.fetch_recording(name)
        assert wav_format(audio) == (8000, 1, 2)
        assert wav_frames(audio) >= 4000  # the beeps are there: at least half a second
        await ari.delete_stored_recording(name)

        await ari.send_dtmf(far, "19#")
        digits = []
        for _ in range(3):
            event = await near_events.wait_for(lambda e: isinstance(e, ChannelDtmfReceived), 10)
            assert isinstance(event, ChannelDtmfReceived)
            digits.append(event.digit)
        assert "".join(digits) == "19#"
        await ari.hangup(near)


async def test_the_client_reconnects_by_itself_after_an_asterisk_restart(
    fresh_asterisk: AsteriskSandbox,
) -> None:
    reconciled: list[list[Channel]] = []
    reconnected = asyncio.Event()

    async def on_reconnect(channels: list[Channel]) -> None:
        reconciled.append(channels)
        reconnected.set()

    client = client_for(fresh_asterisk.info, on_reconnect=on_reconnect, reconcile_on_start=False)
    async with client as ari:
        await ari.wait_connected(10)
        await fresh_asterisk.restart()
        await asyncio.wait_for(reconnected.wait(), 30)
        assert ari.connections == 2
        assert reconciled == [[]]  # a restarted Asterisk has no channels left
        await ari.wait_connected(10)

        channel_id = f"ari-restart-{uuid.uuid4()}"
        with ari.channel_events(channel_id) as events:
            await ari.originate(SELFTEST_ENDPOINT, channel_id=channel_id, dial_timeout_s=10)
            start = await events.wait_for(lambda e: isinstance(e, StasisStart), 10)
            assert start is not None
            await ari.hangup(channel_id)
            assert [e.type async for e in events][-1] == "StasisEnd"


async def _play_once(ari: AriClient) -> tuple[list[str], int]:
    """Originate a Local call into ``ari``'s app, play a beep, hang up; returns the types of
    the channel's events, and how many requests went over the websocket."""
    channel_id = f"ari-ws-{uuid.uuid4()}"
    with ari.channel_events(channel_id) as events:
        await ari.originate(
            SELFTEST_ENDPOINT, app_args=["ari-test"], channel_id=channel_id, dial_timeout_s=10
        )
        seen: list[str] = []
        async with asyncio.timeout(15):
            while "StasisStart" not in seen:
                event = await events.next()
                assert event is not None
                seen.append(event.type)
            await ari.play(channel_id, "sound:beep")
            while "PlaybackFinished" not in seen:
                event = await events.next()
                assert event is not None
                seen.append(event.type)
            await ari.hangup(channel_id)
            seen += [e.type async for e in events]  # to StasisEnd
    return seen, ari.ws_requests


async def test_requests_ride_the_websocket_and_ignored_events_never_arrive(
    fresh_asterisk: AsteriskSandbox,
) -> None:
    # a private Asterisk: the event filter outlives the client, in Asterisk's app
    # The same call without the filter shows what the filter takes away.
    info = fresh_asterisk.info
    async with client_for(info) as plain:
        await plain.wait_connected(10)
        seen, _ = await _play_once(plain)
    assert "PlaybackStarted" in seen and "PlaybackFinished" in seen

    async with client_for(info, ignored_events=("PlaybackStarted",)) as ari:
        await ari.wait_connected(10)
        seen, sent = await _play_once(ari)
        assert "PlaybackStarted" not in seen and "PlaybackFinished" in seen, seen
        assert seen[-1] == "StasisEnd"
        # originate (query only), play and hang-up all went over the websocket
        assert sent == 3

        # an error there is the same AriRequestError as over HTTP
        with pytest.raises(AriRequestError) as err:
            await ari.hangup("no-such-channel")
        assert err.value.not_found and ari.ws_requests == sent + 1

        # a value the two transports might encode differently takes HTTP, and arrives whole
        channel_id = f"ari-ws-{uuid.uuid4()}"
        with ari.channel_events(channel_id) as events:
            await ari.originate(SELFTEST_ENDPOINT, channel_id=channel_id, dial_timeout_s=10)
            await events.wait_for(lambda e: isinstance(e, StasisStart), 10)
            before = ari.ws_requests
            await ari.set_channel_var(channel_id, "WL_TEST", "+44 20#1%2F")
            assert await ari.get_channel_var(channel_id, "WL_TEST") == "+44 20#1%2F"
            assert ari.ws_requests == before
            await ari.hangup(channel_id)
