"""Asterisk REST Interface: typed models (``models``), the client (``client``), a fake server.

``AriClient`` is the entry point; see its module docstring for the life of a call.
"""

from ivr.ari.client import AriClient, OnReconnect
from ivr.ari.models import (
    AriEvent,
    Channel,
    ChannelDestroyed,
    ChannelDtmfReceived,
    ChannelHangupRequest,
    ChannelStateChange,
    InvalidEvent,
    LiveRecording,
    Playback,
    PlaybackFinished,
    PlaybackStarted,
    RecordingFailed,
    RecordingFinished,
    RecordingStarted,
    StasisEnd,
    StasisStart,
    StoredRecording,
    UnknownEvent,
    parse_event,
)
from ivr.ari.routing import EventStream
from ivr.backoff import Backoff, reconnect_delay

__all__ = [
    "AriClient",
    "AriEvent",
    "Backoff",
    "Channel",
    "ChannelDestroyed",
    "ChannelDtmfReceived",
    "ChannelHangupRequest",
    "ChannelStateChange",
    "EventStream",
    "InvalidEvent",
    "LiveRecording",
    "OnReconnect",
    "Playback",
    "PlaybackFinished",
    "PlaybackStarted",
    "RecordingFailed",
    "RecordingFinished",
    "RecordingStarted",
    "StasisEnd",
    "StasisStart",
    "StoredRecording",
    "UnknownEvent",
    "parse_event",
    "reconnect_delay",
]
