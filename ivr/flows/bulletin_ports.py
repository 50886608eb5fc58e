"""What the bulletin line's dialogues need from the rest of the controller, as one interface.

The dialogues (``bulletin_line.py``, ``bulletin_record.py``) only play, collect and record;
everything that touches the database, the files or the scheduler is behind
:class:`CoordinatorDesk`. The real desk is :class:`ivr.bulletin_line.service.BulletinLineService`;
unit tests run the dialogues on a :class:`~ivr.telephony.scripted_call.ScriptedCall` against
that real desk on a real database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from ivr.bulletin_line.menus import SummaryNumbers, WhenMenu
from ivr.store.models.coordinators import Notice


@dataclass(frozen=True)
class CoordinatorRef:
    id: int
    name: str


class PinCheck(StrEnum):
    RIGHT = "right"
    WRONG = "wrong"
    #: wrong, and it locked the account
    LOCKED = "locked"


@dataclass(frozen=True)
class GroupOption:
    name: str
    #: the group's name as audio (``sound:watchline/dyn_...``); None if it could not be made
    sound: str | None


@dataclass(frozen=True)
class Draft:
    """A recording that passed the checks, installed for playback (not yet a bulletin)."""

    token: str
    #: media URI that plays it (the phone-ready audio members would hear)
    media: str
    duration_s: float


class Rejection(StrEnum):
    """Why a recording cannot be a bulletin; each has its own spoken explanation."""

    SILENT = "silent"
    TOO_SHORT = "too_short"
    UNUSABLE = "unusable"


@dataclass(frozen=True)
class SendChoice:
    groups: tuple[str, ...]
    urgent: bool
    #: None: now; else the name of a preset ("this_evening")
    preset: str | None


@dataclass(frozen=True)
class SendOutcome:
    bulletin_id: int
    campaign_id: int
    #: None when sent at once
    run_at: datetime | None


@dataclass(frozen=True)
class LastSummary:
    #: the last campaign is scheduled and has not started
    pending: bool
    numbers: SummaryNumbers | None


class CoordinatorDesk(Protocol):
    # ---- signing in ----
    async def line_open(self, caller: str | None) -> bool:
        """False when this line has failed too often lately (audited as rate limited)."""
        ...

    async def identify(self, caller: str | None) -> CoordinatorRef | None:
        """The coordinator whose phone is ``caller``."""
        ...

    async def identify_keyed(self, number: str, caller: str | None) -> CoordinatorRef | None:
        """The coordinator with this coordinator number (an unknown one is audited)."""
        ...

    async def refuse_if_locked(self, who: CoordinatorRef, caller: str | None) -> bool:
        """True (and audited) when the account is locked: the call must end."""
        ...

    async def check_pin(self, who: CoordinatorRef, pin: str, caller: str | None) -> PinCheck: ...

    async def take_notice(self, who: CoordinatorRef) -> Notice | None:
        """Something to tell the coordinator now (then forgotten)."""
        ...

    # ---- the menu ----
    async def groups(self, who: CoordinatorRef) -> list[GroupOption]: ...

    async def last_bulletin(self, who: CoordinatorRef) -> str | None:
        """Media URI of the coordinator's last bulletin."""
        ...

    async def last_summary(self, who: CoordinatorRef) -> LastSummary | None: ...

    # ---- recording and sending ----
    async def make_draft(self, audio: bytes, recording: str) -> Draft | Rejection: ...

    async def discard_draft(self, draft: Draft) -> None: ...

    async def forget_recording(self, recording: str) -> None:
        """Delete Asterisk's stored copy of a recording (ours is in the draft)."""
        ...

    def when_menu(self) -> WhenMenu: ...

    async def send(
        self, who: CoordinatorRef, draft: Draft, choice: SendChoice, caller: str | None
    ) -> SendOutcome: ...

    def spoken_when(self, at: datetime) -> list[str]:
        """Prompt ids saying when ``at`` is, seen from now ("today at seven in the evening")."""
        ...

    async def note_not_sent(self, who: CoordinatorRef, caller: str | None) -> None:
        """The call ended after recording and before sending: say so at the next sign-in."""
        ...
