"""API tokens for the web API: only their SHA-256 is stored."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ivr.store.base import Base, UtcDateTime, enum_column_type


class Role(StrEnum):
    #: everything, including tokens and coordinators
    ADMIN = "admin"
    #: police staff: reports (triage) and campaign reports
    STAFF = "staff"
    #: watch coordinators: members, groups, bulletins and campaigns
    COORDINATOR = "coordinator"


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(enum_column_type(Role, "role", 16))
    #: hex SHA-256 of the token; tokens are 256-bit random, so a slow hash adds nothing
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: the first characters, shown in listings so a person can tell tokens apart
    prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
