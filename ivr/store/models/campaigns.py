"""Bulletins, campaigns, their deliveries (one target per member) and every call attempt."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ivr.campaigns.outcomes import Outcome
from ivr.campaigns.policy import Priority
from ivr.store.base import Base, UtcDateTime, enum_column_type, utcnow


class CampaignState(StrEnum):
    DRAFT = "draft"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class TargetState(StrEnum):
    """``pending``: waiting for next_attempt_at; ``dialling``: an attempt is in flight."""

    PENDING = "pending"
    DIALLING = "dialling"
    DONE = "done"


class Bulletin(Base):
    """A recorded message; the transcript is what fax members receive once approved."""

    __tablename__ = "bulletins"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    audio_path: Mapped[str] = mapped_column(String(500))
    transcript: Mapped[str | None] = mapped_column(Text)
    transcript_approved: Mapped[bool] = mapped_column(Boolean, default=False)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Campaign(Base):
    """Sending one bulletin to the members of some groups. ``settings``: CampaignSettings JSON."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bulletin_id: Mapped[int] = mapped_column(
        ForeignKey("bulletins.id", ondelete="RESTRICT"), index=True
    )
    state: Mapped[CampaignState] = mapped_column(
        enum_column_type(CampaignState, "state", 16), default=CampaignState.DRAFT
    )
    priority: Mapped[Priority] = mapped_column(
        enum_column_type(Priority, "priority", 16), default=Priority.NORMAL
    )
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class CampaignGroup(Base):
    """The groups a campaign was sent to (targets keep the one each member came via)."""

    __tablename__ = "campaign_groups"

    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    group_id: Mapped[int] = mapped_column(
        ForeignKey("groups.id", ondelete="RESTRICT"), primary_key=True
    )


class CampaignTarget(Base):
    """One delivery: a member in a campaign, whichever and however many groups they came via."""

    __tablename__ = "campaign_targets"
    __table_args__ = (
        UniqueConstraint("campaign_id", "member_id"),
        # Serves due_targets(): equality on the first two columns, range + order on the
        # third, and id as the order's tie-breaker (SQLite gets it free as the rowid;
        # PostgreSQL needs it in the index, or it sorts every page).
        Index("ix_campaign_targets_due", "campaign_id", "state", "next_attempt_at", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    # RESTRICT: deleting a member must not silently erase who was called; do that explicitly.
    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="RESTRICT"), index=True
    )
    group_id: Mapped[int | None] = mapped_column(ForeignKey("groups.id", ondelete="SET NULL"))
    state: Mapped[TargetState] = mapped_column(
        enum_column_type(TargetState, "state", 16), default=TargetState.PENDING
    )
    outcome: Mapped[Outcome | None] = mapped_column(enum_column_type(Outcome, "outcome", 32))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_cause: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class Attempt(Base):
    """One call (or fax) to a target. ``channel_id`` is the uuid passed as AMI ChannelId."""

    __tablename__ = "attempts"
    __table_args__ = (UniqueConstraint("target_id", "number"), UniqueConstraint("channel_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("campaign_targets.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    channel_id: Mapped[str] = mapped_column(String(64))
    result: Mapped[Outcome | None] = mapped_column(enum_column_type(Outcome, "result", 32))
    hangup_cause: Mapped[int | None] = mapped_column(Integer)
    amd_status: Mapped[str | None] = mapped_column(String(32))
    digits: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(String(500))
