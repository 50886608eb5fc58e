"""The database :class:`~ivr.speech.transcription_pool.TranscriptionJobStore`.

Jobs survive a restart: ``pending()`` gives the pool back whatever was queued or running
when the process stopped, and the pool runs them again (at least once).

Two additions to the protocol, both for callers that must not lose a result:

- ``insert_job(session, ...)`` writes a job inside the caller's own transaction, so a
  report answer and the job that transcribes it exist together or not at all. Handing the
  same subject to ``add()`` later finds that pending row instead of making a second one.
- ``after_finish(session, row)`` runs inside the transaction that stores a result, so
  whatever depends on it (a report becoming complete, its outbox entry) commits with it.

Finishing is idempotent: a job already done or failed (by an earlier run) keeps its result.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ivr.clock import Clock
from ivr.speech.asr.base import Segment, Transcript
from ivr.speech.transcription_pool import JobId, PendingJob, TranscriptionJob
from ivr.store.database import Database
from ivr.store.models.transcription import JobState, TranscriptionJobRow

FinishHook = Callable[[AsyncSession, TranscriptionJobRow], Awaitable[None]]


def _stored_path(path: Path, base_dir: Path | None) -> str:
    """Relative to ``base_dir`` when under it, so the data directory can move."""
    if base_dir is not None:
        try:
            return str(path.resolve().relative_to(base_dir.resolve()))
        except ValueError:
            pass
    return str(path)


def _job_of(row: TranscriptionJobRow, base_dir: Path | None) -> TranscriptionJob:
    path = Path(row.audio_path)
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    return TranscriptionJob(audio_path=path, context=tuple(row.context or ()), subject=row.subject)


def insert_job(
    session: AsyncSession, job: TranscriptionJob, *, now: datetime, base_dir: Path | None
) -> TranscriptionJobRow:
    """Add a pending job to the caller's transaction (flush to get its id)."""
    row = TranscriptionJobRow(
        subject=job.subject,
        audio_path=_stored_path(job.audio_path, base_dir),
        context=list(job.context),
        state=JobState.PENDING,
        created_at=now,
    )
    session.add(row)
    return row


def transcript_of(row: TranscriptionJobRow) -> Transcript | None:
    """The stored result as a Transcript; None unless the job is done."""
    if row.state is not JobState.DONE:
        return None
    segments = tuple(
        Segment(s["text"], s["start_s"], s["end_s"], s["confidence"]) for s in row.segments or ()
    )
    return Transcript(
        text=row.text or "",
        engine=row.engine or "",
        duration_s=row.duration_s or 0.0,
        segments=segments,
        no_speech=bool(row.no_speech),
    )


def record_transcript(row: TranscriptionJobRow, transcript: Transcript, now: datetime) -> None:
    """Store a result on a job row (also used for menu answers transcribed during the call)."""
    row.state = JobState.DONE
    row.finished_at = now
    row.text = transcript.text
    row.engine = transcript.engine
    row.confidence = transcript.confidence
    row.no_speech = transcript.no_speech
    row.duration_s = transcript.duration_s
    row.segments = [
        {"text": s.text, "start_s": s.start_s, "end_s": s.end_s, "confidence": s.confidence}
        for s in transcript.segments
    ]
    row.error = None


class SqlTranscriptionJobStore:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        base_dir: Path | None = None,
        after_finish: FinishHook | None = None,
    ) -> None:
        self._db = db
        self._clock = clock
        self._base_dir = base_dir
        self._after_finish = after_finish

    async def add(self, job: TranscriptionJob) -> JobId:
        async with self._db.session(write=True) as session:
            if job.subject:
                existing = await session.scalar(
                    select(TranscriptionJobRow.id)
                    .where(TranscriptionJobRow.subject == job.subject)
                    .where(TranscriptionJobRow.state == JobState.PENDING)
                    .order_by(TranscriptionJobRow.id)
                    .limit(1)
                )
                if existing is not None:
                    return str(existing)
            row = insert_job(session, job, now=self._clock.now(), base_dir=self._base_dir)
            await session.flush()
            return str(row.id)

    async def pending(self) -> list[PendingJob]:
        async with self._db.session() as session:
            rows = await session.scalars(
                select(TranscriptionJobRow)
                .where(TranscriptionJobRow.state == JobState.PENDING)
                .order_by(TranscriptionJobRow.id)
            )
            return [PendingJob(str(r.id), _job_of(r, self._base_dir)) for r in rows]

    async def complete(self, job_id: JobId, transcript: Transcript) -> None:
        async with self._db.session(write=True) as session:
            row = await self._pending_row(session, job_id)
            if row is None:
                return
            record_transcript(row, transcript, self._clock.now())
            if self._after_finish is not None:
                await self._after_finish(session, row)

    async def fail(self, job_id: JobId, error: str) -> None:
        async with self._db.session(write=True) as session:
            row = await self._pending_row(session, job_id)
            if row is None:
                return
            row.state = JobState.FAILED
            row.finished_at = self._clock.now()
            row.error = error[:2000]
            if self._after_finish is not None:
                await self._after_finish(session, row)

    async def _pending_row(
        self, session: AsyncSession, job_id: JobId
    ) -> TranscriptionJobRow | None:
        row = await session.get(TranscriptionJobRow, int(job_id), with_for_update=True)
        return row if row is not None and row.state is JobState.PENDING else None
