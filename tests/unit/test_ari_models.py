"""ARI models: recorded event JSON parses to the right types; garbage never raises."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter

from ivr.ari.models import (
    Channel,
    ChannelDestroyed,
    ChannelDtmfReceived,
    ChannelHangupRequest,
    ChannelStateChange,
    InvalidEvent,
    PlaybackFinished,
    PlaybackStarted,
    RecordingFailed,
    RecordingFinished,
    RecordingStarted,
    StasisEnd,
    StasisStart,
    UnknownEvent,
    parse_event,
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "ari"
CHANNEL_ID = "1732716192.17"


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("stasis_start.json", StasisStart),
        ("stasis_end.json", StasisEnd),
        ("channel_dtmf_received.json", ChannelDtmfReceived),
        ("playback_started.json", PlaybackStarted),
        ("playback_finished.json", PlaybackFinished),
        ("recording_started.json", RecordingStarted),
        ("recording_finished.json", RecordingFinished),
        ("recording_failed.json", RecordingFailed),
        ("channel_destroyed.json", ChannelDestroyed),
        ("channel_hangup_request.json", ChannelHangupRequest),
        ("channel_state_change.json", ChannelStateChange),
    ],
)
def test_each_recorded_event_parses_to_its_model_and_names_its_channel(
    name: str, cls: type[Any]
) -> None:
    event = parse_event(fixture_text(name))
    assert isinstance(event, cls)
    assert event.channel_id == CHANNEL_ID
    assert event.application == "watchline"
    assert event.timestamp == datetime(2024, 11, 27, 14, 3, 12, 481000, tzinfo=UTC)


def test_stasis_start_carries_args_and_a_full_channel() -> None:
    event = parse_event(fixture_text("stasis_start.json"))
    assert isinstance(event, StasisStart)
    assert event.args == ("delivery", "42")
    channel = event.channel
    assert channel.name == "PJSIP/441632960100-00000008"
    assert channel.state == "Up"
    assert channel.caller.number == "441632960100"
    assert channel.dialplan.app_name == "Stasis"
    assert channel.creationtime is not None
    assert channel.in_stasis_app("watchline")


def test_dtmf_destroyed_and_recording_fields() -> None:
    dtmf = parse_event(fixture_text("channel_dtmf_received.json"))
    assert isinstance(dtmf, ChannelDtmfReceived)
    assert (dtmf.digit, dtmf.duration_ms) == ("1", 120)
    gone = parse_event(fixture_text("channel_destroyed.json"))
    assert isinstance(gone, ChannelDestroyed)
    assert (gone.cause, gone.cause_txt) == (16, "Normal Clearing")
    done = parse_event(fixture_text("recording_finished.json"))
    assert isinstance(done, RecordingFinished)
    assert (done.recording.name, done.recording.duration) == ("report-20241127-0042", 7)
    failed = parse_event(fixture_text("recording_failed.json"))
    assert isinstance(failed, RecordingFailed)
    assert failed.recording.cause == "Could not open recording file"
    finished = parse_event(fixture_text("playback_finished.json"))
    assert isinstance(finished, PlaybackFinished)
    assert finished.playback.state == "done"


def test_an_event_type_we_do_not_model_is_kept_whole_as_unknown() -> None:
    event = parse_event(fixture_text("channel_varset.json"))
    assert isinstance(event, UnknownEvent)
    assert event.type == "ChannelVarset"
    assert event.raw["variable"] == "AMDSTATUS"
    assert event.channel_id == CHANNEL_ID


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (fixture_text("not_json.txt"), "not JSON"),
        (fixture_text("no_type.json"), "no 'type'"),
        (fixture_text("malformed_dtmf.json"), "malformed ChannelDtmfReceived"),
        ("[1, 2, 3]", "not an object"),
        ("", "not JSON"),
        (b"\xff\xfe\x00binary", "not JSON"),
        ('{"type": 42}', "no 'type'"),
        ('{"type": "StasisStart", "channel": "not-an-object"}', "malformed StasisStart"),
    ],
)
def test_garbage_becomes_an_invalid_event_instead_of_raising(raw: str | bytes, reason: str) -> None:
    event = parse_event(raw)
    assert isinstance(event, InvalidEvent)
    assert reason in event.reason
    assert event.channel_id is None
    assert len(event.raw) <= 500


def test_a_huge_garbage_message_is_not_kept_whole() -> None:
    event = parse_event("x" * 100_000)
    assert isinstance(event, InvalidEvent)
    assert len(event.raw) == 500


def test_an_unparseable_timestamp_does_not_lose_the_event() -> None:
    data = json.loads(fixture_text("channel_dtmf_received.json"))
    data["timestamp"] = "yesterday-ish"
    event = parse_event(data)
    assert isinstance(event, ChannelDtmfReceived)
    assert event.timestamp is None


def test_events_are_immutable_so_fan_out_is_safe() -> None:
    event = parse_event(fixture_text("channel_dtmf_received.json"))
    with pytest.raises(ValueError):
        event.digit = "9"  # type: ignore[union-attr]


def test_only_channels_running_stasis_for_our_app_are_ours() -> None:
    channels = TypeAdapter(list[Channel]).validate_json(fixture_text("channels_list.json"))
    ours = [c.id for c in channels if c.in_stasis_app("watchline")]
    # Not the Local;2 half running Wait(), not the channel in another app.
    assert ours == [CHANNEL_ID, "1732716200.21"]
    assert not channels[0].in_stasis_app("watch")
