"""The bulletin line: coordinators, their groups and audit trail, sends, transcripts, replays.

- ``coordinators``: who may record bulletins by phone. Only an argon2 hash of the PIN is
  kept, beside the lockout state (wrong PINs in a row, lockouts so far, locked until), so a
  restart never resets a lockout.
- ``coordinator_events``: the audit trail of sign-ins and sends. No column holds a PIN.
- ``bulletin_sends``: a bulletin sent through the bulletin line (or its API), now or at a
  preset time. A scheduled send is ``pending`` until its time comes; starting it happens
  once (this row is the proof), however often the scheduler fires after restarts.
- ``bulletin_transcriptions``: speech recognition of a bulletin's audio, as a durable job.
- ``replay_confirmations``: members who pressed 1 on the replay line.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ivr.store.base import Base, UtcDateTime, enum_column_type
from ivr.store.models.members import PHONE_LENGTH


class EventKind(StrEnum):
    """What a coordinator event records."""

    SIGNED_IN = "signed_in"
    WRONG_PIN = "wrong_pin"
    #: the wrong PIN that locked the account
    LOCKED = "locked"
    #: a call (or API check) refused because the account is locked
    REFUSED_LOCKED = "refused_locked"
    #: too many failures from one line, whichever coordinator they were for
    RATE_LIMITED = "rate_limited"
    UNKNOWN_COORDINATOR = "unknown_coordinator"
    SENT = "sent"
    SCHEDULED = "scheduled"
    #: the call ended after a recording was made and before it was sent
    NOT_SENT = "not_sent"
    CREATED = "created"
    PIN_CHANGED = "pin_changed"
    GROUPS_CHANGED = "groups_changed"
    UNLOCKED = "unlocked"


class Notice(StrEnum):
    """Something to tell a coordinator at their next sign-in."""

    NOT_SENT = "not_sent"


class SendState(StrEnum):
    PENDING = "pending"
    STARTED = "started"
    #: the campaign was cancelled before its time came
    CANCELLED = "cancelled"


class TranscriptionState(StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


class Coordinator(Base):
    """A watch coordinator. ``id`` is also the "coordinator number" keyed when the caller ID
    is withheld or unknown."""

    __tablename__ = "coordinators"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    #: E.164; the caller ID that identifies them
    phone: Mapped[str] = mapped_column(String(PHONE_LENGTH), unique=True)
    #: argon2id PHC string; never the PIN itself
    pin_hash: Mapped[str] = mapped_column(String(200))
    #: wrong PINs in a row since the last sign-in or lockout
    failed_pins: Mapped[int] = mapped_column(Integer, default=0)
    #: lockouts since the last sign-in: each one lasts longer
    lockouts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    notice: Mapped[Notice | None] = mapped_column(enum_column_type(Notice, "notice", 16))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)

    def __repr__(self) -> str:
        return f"<Coordinator {self.id} {self.phone}>"


class CoordinatorGroup(Base):
    """A group a coordinator may send bulletins to."""

    __tablename__ = "coordinator_groups"

    coordinator_id: Mapped[int] = mapped_column(
        ForeignKey("coordinators.id", ondelete="CASCADE"), primary_key=True
    )
    group_id: Mapped[int] = mapped_column(
        ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True
    )


class CoordinatorEvent(Base):
    """One line of the audit trail. ``detail`` is written by our code, never from keyed digits."""

    __tablename__ = "coordinator_events"
    __table_args__ = (Index("ix_coordinator_events_coordinator_id_id", "coordinator_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: None when the caller never matched a coordinator
    coordinator_id: Mapped[int | None] = mapped_column(
        ForeignKey("coordinators.id", ondelete="SET NULL")
    )
    kind: Mapped[EventKind] = mapped_column(enum_column_type(EventKind, "kind", 32))
    #: "phone", "api" or "cli"
    via: Mapped[str] = mapped_column(String(16))
    #: the presented caller ID (None when withheld), or the API token's name
    source: Mapped[str | None] = mapped_column(String(200))
    detail: Mapped[str | None] = mapped_column(String(500))
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class BulletinSend(Base):
    """A bulletin sent, or to be sent at ``run_at``, through the bulletin line."""

    __tablename__ = "bulletin_sends"
    __table_args__ = (Index("ix_bulletin_sends_state_run_at", "state", "run_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bulletin_id: Mapped[int] = mapped_column(
        ForeignKey("bulletins.id", ondelete="RESTRICT"), index=True
    )
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), unique=True
    )
    coordinator_id: Mapped[int | None] = mapped_column(
        ForeignKey("coordinators.id", ondelete="SET NULL"), index=True
    )
    #: None: sent at once
    run_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    #: the preset chosen ("this_evening", "tomorrow_morning"), for people reading the list
    preset: Mapped[str | None] = mapped_column(String(32))
    state: Mapped[SendState] = mapped_column(enum_column_type(SendState, "state", 16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class BulletinTranscription(Base):
    """Speech recognition of one bulletin; the text is copied onto the bulletin when done."""

    __tablename__ = "bulletin_transcriptions"
    __table_args__ = (Index("ix_bulletin_transcriptions_state_id", "state", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bulletin_id: Mapped[int] = mapped_column(
        ForeignKey("bulletins.id", ondelete="CASCADE"), index=True
    )
    state: Mapped[TranscriptionState] = mapped_column(
        enum_column_type(TranscriptionState, "state", 16)
    )
    text: Mapped[str | None] = mapped_column(Text)
    engine: Mapped[str | None] = mapped_column(String(64))
    confidence: Mapped[float | None] = mapped_column(Float)
    no_speech: Mapped[bool | None] = mapped_column(Boolean)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class ReplayConfirmation(Base):
    """A member pressed 1 ("heard") for a bulletin on the replay line."""

    __tablename__ = "replay_confirmations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    bulletin_id: Mapped[int] = mapped_column(ForeignKey("bulletins.id", ondelete="CASCADE"))
    #: deliveries (campaign targets) this turned into ``confirmed``
    targets_confirmed: Mapped[int] = mapped_column(Integer)
    caller_number: Mapped[str | None] = mapped_column(String(32))
    #: "caller_id" or "keyed"
    matched_by: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
