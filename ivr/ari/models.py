"""Typed views of what ARI sends: resources (Channel, Playback, recordings) and events.

Pure: no I/O, no event loop. ``parse_event`` turns one websocket message into exactly one
value and never raises, because a single malformed frame must not take the event stream
down; callers get an :class:`InvalidEvent` (not ARI at all) or an :class:`UnknownEvent`
(well-formed ARI we have no model for) and decide to log and carry on.

Every model ignores fields it does not know (``extra="ignore"``) so a newer Asterisk that
adds fields keeps working, and is frozen so an event can be fanned out to several
consumers without one of them changing what the others see.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)

#: How much of a bad message an InvalidEvent keeps: enough to debug, never a whole file.
RAW_EXCERPT_CHARS = 500


def _lenient_timestamp(value: Any, handler: ValidatorFunctionWrapHandler) -> datetime | None:
    # A timestamp is never worth losing a DTMF or a hang-up over: keep the event, drop the time.
    try:
        result: datetime | None = handler(value)
    except ValidationError:
        return None
    return result


Timestamp = Annotated[datetime | None, WrapValidator(_lenient_timestamp)]


class AriModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


# --- resources ---------------------------------------------------------------------------


class RestResponse(AriModel):
    """Asterisk's answer to a request sent over the event websocket (``RESTResponse``)."""

    type: Literal["RESTResponse"]
    request_id: str
    status_code: int
    reason_phrase: str = ""
    message_body: str | None = None


class CallerId(AriModel):
    name: str = ""
    number: str = ""


class DialplanLocation(AriModel):
    """Where a channel is in the dialplan; ``app_name``/``app_data`` show what it is running."""

    context: str = ""
    exten: str = ""
    priority: int = 0
    app_name: str = ""
    app_data: str = ""


class Channel(AriModel):
    id: str
    name: str = ""
    state: str = ""
    caller: CallerId = CallerId()
    connected: CallerId = CallerId()
    dialplan: DialplanLocation = DialplanLocation()
    creationtime: Timestamp = None
    language: str = ""
    channelvars: dict[str, str] | None = None

    def in_stasis_app(self, app: str) -> bool:
        """True when the channel is running ``Stasis(app[,args...])``, i.e. it is ours."""
        if self.dialplan.app_name != "Stasis":
            return False
        return self.dialplan.app_data.split(",", 1)[0] == app


def _target_channel_id(target_uri: str) -> str | None:
    # Playbacks and recordings name their target as "channel:<id>" (or "bridge:<id>").
    kind, _, ident = target_uri.partition(":")
    return ident if kind == "channel" and ident else None


class Playback(AriModel):
    """A media playback; ``state`` is queued, playing, continuing, done or failed."""

    id: str
    media_uri: str = ""
    next_media_uri: str | None = None
    target_uri: str = ""
    language: str = ""
    state: str = ""

    @property
    def channel_id(self) -> str | None:
        return _target_channel_id(self.target_uri)


class LiveRecording(AriModel):
    """A recording in progress or just ended.

    ``state`` is queued, recording, paused, done, failed or canceled; durations are whole
    seconds and only present once Asterisk knows them; ``cause`` explains a failure.
    """

    name: str
    format: str = ""
    target_uri: str = ""
    state: str = ""
    duration: int | None = None
    talking_duration: int | None = None
    silence_duration: int | None = None
    cause: str | None = None

    @property
    def channel_id(self) -> str | None:
        return _target_channel_id(self.target_uri)


class StoredRecording(AriModel):
    name: str
    format: str = ""


# --- events ------------------------------------------------------------------------------


class BaseEvent(AriModel):
    type: str
    application: str = ""
    timestamp: Timestamp = None
    asterisk_id: str | None = None

    @property
    def channel_id(self) -> str | None:
        """The channel this event is about, or None when it is not about one channel."""
        return None


class _ChannelEvent(BaseEvent):
    channel: Channel

    @property
    def channel_id(self) -> str | None:
        return self.channel.id


class StasisStart(_ChannelEvent):
    type: Literal["StasisStart"] = "StasisStart"
    args: tuple[str, ...] = ()
    replace_channel: Channel | None = None


class StasisEnd(_ChannelEvent):
    type: Literal["StasisEnd"] = "StasisEnd"


class ChannelDtmfReceived(_ChannelEvent):
    type: Literal["ChannelDtmfReceived"] = "ChannelDtmfReceived"
    digit: str
    duration_ms: int = 0


class ChannelDestroyed(_ChannelEvent):
    type: Literal["ChannelDestroyed"] = "ChannelDestroyed"
    cause: int = 0
    cause_txt: str = ""


class ChannelHangupRequest(_ChannelEvent):
    type: Literal["ChannelHangupRequest"] = "ChannelHangupRequest"
    cause: int | None = None
    soft: bool | None = None


class ChannelStateChange(_ChannelEvent):
    type: Literal["ChannelStateChange"] = "ChannelStateChange"


class _PlaybackEvent(BaseEvent):
    playback: Playback

    @property
    def channel_id(self) -> str | None:
        return self.playback.channel_id


class PlaybackStarted(_PlaybackEvent):
    type: Literal["PlaybackStarted"] = "PlaybackStarted"


class PlaybackFinished(_PlaybackEvent):
    type: Literal["PlaybackFinished"] = "PlaybackFinished"


class _RecordingEvent(BaseEvent):
    recording: LiveRecording

    @property
    def channel_id(self) -> str | None:
        return self.recording.channel_id


class RecordingStarted(_RecordingEvent):
    type: Literal["RecordingStarted"] = "RecordingStarted"


class RecordingFinished(_RecordingEvent):
    type: Literal["RecordingFinished"] = "RecordingFinished"


class RecordingFailed(_RecordingEvent):
    type: Literal["RecordingFailed"] = "RecordingFailed"


class UnknownEvent(BaseEvent):
    """Well-formed ARI of a type we do not model; ``raw`` keeps the whole object."""

    raw: dict[str, Any] = Field(default_factory=dict)

    @property
    def channel_id(self) -> str | None:
        channel = self.raw.get("channel")
        if isinstance(channel, dict) and isinstance(channel.get("id"), str):
            return str(channel["id"])
        return None


class InvalidEvent(AriModel):
    """Something that is not an ARI event: bad JSON, no ``type``, or a malformed known type."""

    type: Literal["__invalid__"] = "__invalid__"
    reason: str
    raw: str = ""

    @property
    def channel_id(self) -> str | None:
        return None


KnownEvent = (
    StasisStart
    | StasisEnd
    | ChannelDtmfReceived
    | ChannelDestroyed
    | ChannelHangupRequest
    | ChannelStateChange
    | PlaybackStarted
    | PlaybackFinished
    | RecordingStarted
    | RecordingFinished
    | RecordingFailed
)
AriEvent = KnownEvent | UnknownEvent | InvalidEvent

# The "type" field picks the model, so validation never tries the other ten.
_KNOWN_EVENTS: TypeAdapter[KnownEvent] = TypeAdapter(
    Annotated[KnownEvent, Field(discriminator="type")]
)
_KNOWN_TYPES = frozenset(
    cls.model_fields["type"].default
    for cls in (
        StasisStart,
        StasisEnd,
        ChannelDtmfReceived,
        ChannelDestroyed,
        ChannelHangupRequest,
        ChannelStateChange,
        PlaybackStarted,
        PlaybackFinished,
        RecordingStarted,
        RecordingFinished,
        RecordingFailed,
    )
)

#: Events after which a channel sends nothing more to our application.
TERMINAL_EVENT_TYPES = frozenset({"StasisEnd", "ChannelDestroyed"})


def _excerpt(raw: str | bytes | Mapping[str, Any]) -> str:
    if isinstance(raw, bytes):
        text = raw[:RAW_EXCERPT_CHARS].decode("utf-8", errors="replace")
    elif isinstance(raw, str):
        text = raw
    else:
        text = repr(raw)
    return text[:RAW_EXCERPT_CHARS]


def parse_event(raw: str | bytes | Mapping[str, Any]) -> AriEvent:
    """One websocket message (text, bytes or an already-decoded object) to one event.

    Never raises: what is not an ARI event becomes :class:`InvalidEvent`, an event type we
    do not model becomes :class:`UnknownEvent`.
    """
    if isinstance(raw, str | bytes):
        # The common case in one pass of pydantic-core's own JSON parser (no dict built in
        # Python first); anything it rejects takes the careful path below, which says why.
        try:
            return _KNOWN_EVENTS.validate_json(raw)
        except ValidationError:
            pass
    if isinstance(raw, Mapping):
        data: Any = raw
    else:
        try:
            data = json.loads(raw)
        except (ValueError, TypeError) as e:
            # ValueError covers JSONDecodeError and undecodable bytes (UnicodeDecodeError).
            return InvalidEvent(reason=f"not JSON: {e}", raw=_excerpt(raw))
    if not isinstance(data, Mapping):
        return InvalidEvent(reason="JSON is not an object", raw=_excerpt(raw))
    event_type = data.get("type")
    if not isinstance(event_type, str) or not event_type:
        return InvalidEvent(reason="no 'type' field", raw=_excerpt(raw))
    try:
        if event_type not in _KNOWN_TYPES:
            return UnknownEvent.model_validate({**data, "raw": dict(data)})
        return _KNOWN_EVENTS.validate_python(data)
    except ValidationError as e:
        summary = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors()[:3]
        )
        return InvalidEvent(reason=f"malformed {event_type}: {summary}", raw=_excerpt(raw))
