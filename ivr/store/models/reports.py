"""Phone reports: the report, the recorded answers, its audit trail and its outbox entry."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ivr.reports.categories import Category
from ivr.reports.states import AnswerKind, CallState, DeliveryState, ReportStatus
from ivr.store.base import Base, UtcDateTime, enum_column_type


class Report(Base):
    __tablename__ = "reports"
    __table_args__ = (
        # the staff list: newest first, filtered by status
        Index("ix_reports_status_created_at", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: ten digits, MOD 97-10 checked (ivr.reports.reference)
    reference: Mapped[str] = mapped_column(String(16), unique=True)
    channel_id: Mapped[str] = mapped_column(String(64))
    #: the presented caller ID; None when withheld
    caller_number: Mapped[str | None] = mapped_column(String(32))
    category: Mapped[Category | None] = mapped_column(enum_column_type(Category, "category", 32))
    #: "key", "speech" or "default" (the caller never managed to choose)
    category_by: Mapped[str | None] = mapped_column(String(16))
    callback_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    callback_number: Mapped[str | None] = mapped_column(String(32))
    #: "caller_id" or "keyed"
    callback_source: Mapped[str | None] = mapped_column(String(16))
    call_state: Mapped[CallState] = mapped_column(
        enum_column_type(CallState, "call_state", 16), default=CallState.IN_CALL
    )
    status: Mapped[ReportStatus] = mapped_column(
        enum_column_type(ReportStatus, "status", 16), default=ReportStatus.NEW
    )
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    #: the configured phrases found in the transcripts
    urgent_phrases: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: no answer to "where" or "what" held any speech
    no_speech: Mapped[bool] = mapped_column(Boolean, default=False)
    #: some answer could not be transcribed (its audio is kept)
    transcription_failed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    #: when the call ended (or the report was filed, whichever came first)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    #: when every answer had its transcript (or its failure): the report is complete
    transcribed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ReportAnswer(Base):
    """One recording: a spoken menu answer, "where" or "what" (each take of it)."""

    __tablename__ = "report_answers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    kind: Mapped[AnswerKind] = mapped_column(enum_column_type(AnswerKind, "kind", 16))
    #: 1 for the first recording of this kind, 2 for a re-recording...
    take: Mapped[int] = mapped_column(Integer, default=1)
    #: replaced by a later take (kept: nothing a caller says is thrown away)
    superseded: Mapped[bool] = mapped_column(Boolean, default=False)
    #: under the data directory; None if it could not be fetched from Asterisk
    audio_path: Mapped[str | None] = mapped_column(String(500))
    audio_bytes: Mapped[int] = mapped_column(Integer, default=0)
    duration_s: Mapped[float | None] = mapped_column(Float)
    #: key, silence, max_duration, hangup or failed (ivr.telephony.call.RecordingEnd)
    ended_by: Mapped[str] = mapped_column(String(16))
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)
    fetch_error: Mapped[str | None] = mapped_column(Text)
    #: set when the retention job deleted the audio file
    audio_purged_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    job_id: Mapped[int | None] = mapped_column(
        ForeignKey("transcription_jobs.id", ondelete="SET NULL"), index=True
    )


class ReportEvent(Base):
    """The audit trail: who did what to a report, when, and why."""

    __tablename__ = "report_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    #: "caller", "system", "outbox", "retention" or "token:<id> <name>"
    actor: Mapped[str] = mapped_column(String(200))
    #: created, filed, transcribed, status_changed, delivered, delivery_failed,
    #: dead_lettered, delivery_requeued, audio_purged
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class ReportDelivery(Base):
    """The durable outbox entry of a report for the external backend (one per report)."""

    __tablename__ = "report_deliveries"
    __table_args__ = (
        Index("ix_report_deliveries_state_next_attempt_at", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(
        ForeignKey("reports.id", ondelete="CASCADE"), unique=True
    )
    state: Mapped[DeliveryState] = mapped_column(
        enum_column_type(DeliveryState, "state", 16), default=DeliveryState.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
