"""``Call`` over ARI: one channel in our Stasis application.

The call reads its channel's event stream (buffered by the ARI client from the first
event, so nothing between ``StasisStart`` and our first read is lost). Every wait is
bounded; a hang-up at any point raises :class:`CallEnded`, except in :meth:`record`,
which keeps what the caller said before hanging up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Sequence

from ivr.ari.client import AriClient
from ivr.ari.models import (
    AriEvent,
    ChannelDestroyed,
    ChannelDtmfReceived,
    ChannelHangupRequest,
    PlaybackFinished,
    RecordingFailed,
    RecordingFinished,
    StasisEnd,
)
from ivr.ari.routing import EventStream
from ivr.errors import AriError, AriRequestError
from ivr.telephony.call import CallEnded, RecordingEnd, RecordingResult

log = logging.getLogger(__name__)

#: No single prompt or recording may hold a call longer than this.
MAX_WAIT_S = 900.0
#: After a hang-up mid-recording, how long Asterisk gets to close the file.
_STORE_GRACE_S = 5.0


class AriCall:
    def __init__(
        self,
        ari: AriClient,
        channel_id: str,
        *,
        caller_number: str | None,
        stream: EventStream | None = None,
        lang: str = "en",
    ) -> None:
        self._ari = ari
        self._channel_id = channel_id
        self._caller = caller_number or None
        self._stream = stream if stream is not None else ari.channel_events(channel_id)
        self._lang = lang
        self._typeahead: list[str] = []
        self._ended = False
        self._cause: int | None = None

    @property
    def channel_id(self) -> str:
        return self._channel_id

    @property
    def caller_number(self) -> str | None:
        return self._caller

    @property
    def ended(self) -> bool:
        return self._ended

    @property
    def hangup_cause(self) -> int | None:
        return self._cause

    def close(self) -> None:
        self._stream.close()

    # ---- events -----------------------------------------------------------------------

    def _note(self, event: AriEvent) -> None:
        """Bookkeeping every event gets, whoever is waiting: keys and hang-ups."""
        if isinstance(event, ChannelDtmfReceived):
            self._typeahead.append(event.digit)
        elif isinstance(event, ChannelHangupRequest):
            self._ended = True
            self._cause = event.cause if event.cause is not None else self._cause
        elif isinstance(event, ChannelDestroyed):
            self._ended = True
            self._cause = event.cause
        elif isinstance(event, StasisEnd):
            self._ended = True

    async def _next(self, deadline: float) -> AriEvent | None:
        """The next event before ``deadline`` (monotonic); None on timeout or stream end."""
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        try:
            event = await self._stream.next(timeout_s=left)
        except TimeoutError:
            return None
        if event is None:
            self._ended = True
            return None
        self._note(event)
        return event

    def _check(self) -> None:
        if self._ended:
            raise CallEnded(self._channel_id, self._cause)

    # ---- Call -------------------------------------------------------------------------

    async def answer(self) -> None:
        self._check()
        try:
            await self._ari.answer(self._channel_id)
        except AriRequestError as e:
            if e.not_found:
                self._ended = True
                raise CallEnded(self._channel_id) from e
            raise

    async def play(self, media: Sequence[str], *, interruptible: bool = True) -> str | None:
        self._check()
        if interruptible and self._typeahead:
            return self._typeahead[0]  # a key already pressed skips the prompt
        playback_id = str(uuid.uuid4())
        start_keys = len(self._typeahead)
        try:
            await self._ari.play(
                self._channel_id, list(media), playback_id=playback_id, lang=self._lang
            )
        except AriRequestError as e:
            if e.not_found:
                self._ended = True
                raise CallEnded(self._channel_id) from e
            raise
        deadline = time.monotonic() + MAX_WAIT_S
        while True:
            event = await self._next(deadline)
            if event is None or self._ended:
                raise CallEnded(self._channel_id, self._cause)
            if isinstance(event, PlaybackFinished) and event.playback.id == playback_id:
                return None
            if interruptible and len(self._typeahead) > start_keys:
                await self._stop_playback(playback_id)
                return self._typeahead[start_keys]

    async def _stop_playback(self, playback_id: str) -> None:
        # The playback may have just finished on its own: a 404 is fine.
        with contextlib.suppress(AriRequestError):
            await self._ari.stop_playback(playback_id)

    async def collect(
        self,
        *,
        max_digits: int = 1,
        timeout_s: float = 6.0,
        inter_digit_timeout_s: float = 4.0,
        terminators: str = "#",
    ) -> str:
        got: list[str] = []
        deadline = time.monotonic() + timeout_s
        while len(got) < max_digits:
            if self._typeahead:
                key = self._typeahead.pop(0)
                if key in terminators:
                    break
                got.append(key)
                deadline = time.monotonic() + inter_digit_timeout_s
                continue
            self._check()
            event = await self._next(deadline)
            if event is None:
                if self._ended:
                    raise CallEnded(self._channel_id, self._cause)
                break  # timed out
        return "".join(got)

    async def record(
        self,
        name: str,
        *,
        max_duration_s: int,
        max_silence_s: int,
        beep: bool = True,
        terminate_on: str = "#",
    ) -> RecordingResult:
        self._check()
        self._typeahead.clear()  # keys pressed before the tone are not part of this answer
        try:
            await self._ari.record(
                self._channel_id,
                name,
                max_duration_s=max_duration_s,
                max_silence_s=max_silence_s,
                beep=beep,
                terminate_on=terminate_on if terminate_on else "none",  # type: ignore[arg-type]
            )
        except AriRequestError as e:
            if e.not_found:
                self._ended = True
                raise CallEnded(self._channel_id) from e
            raise
        started = time.monotonic()
        deadline = started + max_duration_s + 30
        ended_by: RecordingEnd | None = None
        duration: float | None = None
        while ended_by is None:
            event = await self._next(deadline)
            if isinstance(event, RecordingFinished) and event.recording.name == name:
                duration = float(event.recording.duration or 0) or None
                ended_by = self._why_finished(terminate_on, duration, max_duration_s)
            elif isinstance(event, RecordingFailed) and event.recording.name == name:
                ended_by = "failed"
            elif self._ended:
                ended_by = "hangup"
            elif event is None:
                # Asterisk never reported the end: stop it ourselves and keep the file.
                await self._stop_recording(name)
                ended_by = "max_duration"
        if ended_by in ("hangup", "max_duration"):
            duration = duration or await self._await_stored(name, started)
        if ended_by == "key":
            # the terminating key was also delivered as DTMF: it is not typeahead
            while self._typeahead and self._typeahead[-1] in terminate_on:
                self._typeahead.pop()
        return RecordingResult(name=name, ended_by=ended_by, duration_s=duration)

    def _why_finished(self, terminate_on: str, duration: float | None, max_s: int) -> RecordingEnd:
        if terminate_on and any(k in terminate_on for k in self._typeahead):
            return "key"
        if self._ended:
            return "hangup"
        if duration is not None and duration >= max_s - 1:
            return "max_duration"
        return "silence"

    async def _stop_recording(self, name: str) -> None:
        with contextlib.suppress(AriRequestError):
            await self._ari.stop_recording(name)

    async def _await_stored(self, name: str, started: float) -> float | None:
        """After a hang-up, wait until Asterisk has stored the file; its length if known."""
        deadline = time.monotonic() + _STORE_GRACE_S
        while time.monotonic() < deadline:
            try:
                await self._ari.get_stored_recording(name)
                return round(time.monotonic() - started, 1)
            except AriRequestError:
                await asyncio.sleep(0.1)
        log.warning("recording %s was not stored after the caller hung up", name)
        return None

    async def fetch_recording(self, name: str) -> bytes:
        return await self._ari.fetch_recording(name)

    async def hangup(self) -> None:
        if self._ended:
            return
        self._ended = True
        with contextlib.suppress(AriError):
            await self._ari.hangup(self._channel_id)

    async def get_variable(self, name: str) -> str | None:
        try:
            return await self._ari.get_channel_var(self._channel_id, name)
        except AriRequestError:
            return None
