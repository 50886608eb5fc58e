"""Transcription jobs: the durable list behind the transcription pool, and their results.

A job is written before its audio is queued for recognition and finished afterwards, so a
restart re-queues whatever was in flight (``ivr.store.transcription_jobs``). The result
(text, confidence, engine, no_speech) stays on the job row; whoever submitted the job
points at it (a report answer's ``job_id``).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ivr.store.base import Base, UtcDateTime, enum_column_type


class JobState(StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


class TranscriptionJobRow(Base):
    __tablename__ = "transcription_jobs"
    __table_args__ = (
        # pending() at start-up, and "is anything of this subject still pending?"
        Index("ix_transcription_jobs_state_id", "state", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: Who the result is for, e.g. ``report-answer:17``.
    subject: Mapped[str] = mapped_column(String(200), index=True)
    audio_path: Mapped[str] = mapped_column(String(500))
    #: Words the caller was likely to say, for the recogniser (a JSON list of strings).
    context: Mapped[list[str]] = mapped_column(JSON, default=list)
    state: Mapped[JobState] = mapped_column(
        enum_column_type(JobState, "state", 16), default=JobState.PENDING
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # --- the result (state done) ---
    text: Mapped[str | None] = mapped_column(Text)
    engine: Mapped[str | None] = mapped_column(String(64))
    confidence: Mapped[float | None] = mapped_column(Float)
    no_speech: Mapped[bool | None] = mapped_column(Boolean)
    duration_s: Mapped[float | None] = mapped_column(Float)
    #: [{"text", "start_s", "end_s", "confidence"}, ...]
    segments: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    # --- or why there is none (state failed) ---
    error: Mapped[str | None] = mapped_column(Text)
