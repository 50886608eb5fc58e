"""What a dialogue can do with one live call, independent of how Asterisk is driven.

Dialogues (``ivr.flows``) are written against :class:`Call`; the ARI implementation runs
them on real calls and :class:`~ivr.telephony.scripted_call.ScriptedCall` in unit tests.

Keys pressed while a prompt plays stop the prompt (barge-in) and are kept as typeahead
for the next :meth:`Call.collect`: a member who knows the menu need not wait for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from ivr.errors import TelephonyError

DIGITS = "0123456789*#"


class CallEnded(TelephonyError):
    """The caller hung up (or the channel vanished) while the dialogue was using it."""

    def __init__(self, channel_id: str, cause: int | None = None) -> None:
        self.channel_id = channel_id
        self.cause = cause
        super().__init__(f"call {channel_id} ended (cause {cause})")


RecordingEnd = Literal["key", "silence", "max_duration", "hangup", "failed"]


@dataclass(frozen=True)
class RecordingResult:
    """A recording Asterisk stored under ``name`` (fetch it with ``Call.fetch_recording``)."""

    name: str
    ended_by: RecordingEnd
    #: Seconds recorded, as Asterisk reports it (None when unknown).
    duration_s: float | None

    @property
    def stored(self) -> bool:
        return self.ended_by != "failed"


class Call(Protocol):
    @property
    def channel_id(self) -> str: ...

    @property
    def caller_number(self) -> str | None:
        """The caller ID number, None when withheld or absent."""
        ...

    @property
    def ended(self) -> bool: ...

    async def answer(self) -> None: ...

    async def play(self, media: Sequence[str], *, interruptible: bool = True) -> str | None:
        """Play media URIs in order; return the key that interrupted them, or None.

        Raises CallEnded if the caller hangs up.
        """
        ...

    async def collect(
        self,
        *,
        max_digits: int = 1,
        timeout_s: float = 6.0,
        inter_digit_timeout_s: float = 4.0,
        terminators: str = "#",
    ) -> str:
        """Keys pressed (typeahead first), until ``max_digits``, a terminator or a timeout.

        The terminator is not included. An empty string means the caller pressed nothing.
        """
        ...

    async def record(
        self,
        name: str,
        *,
        max_duration_s: int,
        max_silence_s: int,
        beep: bool = True,
        terminate_on: str = "#",
    ) -> RecordingResult:
        """Record the caller. A hang-up ends the recording but keeps what was said."""
        ...

    async def fetch_recording(self, name: str) -> bytes: ...

    async def hangup(self) -> None: ...

    async def get_variable(self, name: str) -> str | None: ...
