"""Members, watch groups and who belongs to which."""

from __future__ import annotations

from datetime import datetime, time

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Time,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from ivr.members.fields import (
    DEFAULT_LANGUAGE,
    DEFAULT_TIMEZONE,
    Channel,
    MemberStatus,
    QuietHours,
    Scheme,
)
from ivr.store.base import Base, UtcDateTime, enum_column_type, utcnow

# E.164 allows 15 digits after the "+".
PHONE_LENGTH = 16


class Member(Base):
    """A person who receives bulletins. ``phone`` (E.164) identifies them on import."""

    __tablename__ = "members"
    __table_args__ = (
        UniqueConstraint("phone"),
        # Quiet hours are a pair: half a pair would silently mean "no quiet hours".
        CheckConstraint(
            "(quiet_start IS NULL AND quiet_end IS NULL)"
            " OR (quiet_start IS NOT NULL AND quiet_end IS NOT NULL)",
            name="quiet_hours_pair",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str] = mapped_column(String(PHONE_LENGTH))
    fax: Mapped[str | None] = mapped_column(String(PHONE_LENGTH))
    email: Mapped[str | None] = mapped_column(String(254))
    channel: Mapped[Channel] = mapped_column(
        enum_column_type(Channel, "channel", 8), default=Channel.VOICE
    )
    language: Mapped[str] = mapped_column(String(16), default=DEFAULT_LANGUAGE)
    quiet_start: Mapped[time | None] = mapped_column(Time)
    quiet_end: Mapped[time | None] = mapped_column(Time)
    timezone: Mapped[str] = mapped_column(String(64), default=DEFAULT_TIMEZONE)
    status: Mapped[MemberStatus] = mapped_column(
        enum_column_type(MemberStatus, "status", 16), default=MemberStatus.ACTIVE
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)

    @property
    def quiet_hours(self) -> QuietHours | None:
        if self.quiet_start is None or self.quiet_end is None:
            return None
        return QuietHours(self.quiet_start, self.quiet_end)

    @quiet_hours.setter
    def quiet_hours(self, value: QuietHours | None) -> None:
        self.quiet_start = value.start if value else None
        self.quiet_end = value.end if value else None

    def __repr__(self) -> str:
        return f"<Member {self.id} {self.phone}>"


class Group(Base):
    """A watch scheme's group: the unit a coordinator sends a bulletin to."""

    __tablename__ = "groups"
    __table_args__ = (UniqueConstraint("name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    scheme: Mapped[Scheme] = mapped_column(
        enum_column_type(Scheme, "scheme", 32), default=Scheme.NEIGHBOURHOOD_WATCH
    )
    area: Mapped[str | None] = mapped_column(String(200))
    # A label for now; becomes a foreign key once coordinators are accounts.
    coordinator: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<Group {self.id} {self.name!r}>"


class Membership(Base):
    """A member in a group. ``opted_out``: they pressed 9 on a bulletin sent to this group."""

    __tablename__ = "memberships"
    __table_args__ = (
        # Target creation filters by group first; the primary key serves member-first lookups.
        Index("ix_memberships_group_id_opted_out", "group_id", "opted_out"),
    )

    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    group_id: Mapped[int] = mapped_column(
        ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True
    )
    opted_out: Mapped[bool] = mapped_column(Boolean, default=False)
    opted_out_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
