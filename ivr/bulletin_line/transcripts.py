"""Speech recognition of bulletins: a durable job per bulletin, run by the transcription pool.

A send writes the job (``bulletin_transcriptions``, state pending) in the transaction that
creates the bulletin, so no bulletin can miss its transcript; the pool re-queues pending
jobs at start-up, so a restart finishes what was in flight. The result is copied onto the
bulletin (``bulletins.transcript``) in the transaction that completes the job, unless
someone has approved a transcript already (their text wins), and waits there for approval
in the API: fax members get only approved text.

Why a store of our own rather than the report line's ``transcription_jobs``: each pool
re-queues every pending row of its store at start-up, and each finishes a job with its own
hook (a report answer, a bulletin). Two pools sharing one table would take each other's
jobs and finish them without the right hook.

The Whisper model (250 MB) is loaded on the first bulletin to transcribe, not at start-up:
a controller that never records a bulletin by phone never pays for it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from ivr.clock import Clock
from ivr.speech.asr.base import AsrEngine, Transcript
from ivr.speech.audio import Audio
from ivr.speech.transcription_pool import JobId, PendingJob, TranscriptionJob
from ivr.store import coordinators_repo as repo
from ivr.store.database import Database
from ivr.store.models import Bulletin
from ivr.store.models.coordinators import BulletinTranscription, TranscriptionState

log = logging.getLogger(__name__)

SUBJECT = "bulletin:"


class LazyAsrEngine:
    """An :class:`AsrEngine` that builds the real one on first use (thread-safe)."""

    def __init__(self, factory: Callable[[], AsrEngine], name: str = "whisper") -> None:
        self._factory = factory
        self._name = name
        self._engine: AsrEngine | None = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self._engine.name if self._engine is not None else self._name

    @property
    def loaded(self) -> bool:
        return self._engine is not None

    def transcribe(self, audio: Audio, *, context: Sequence[str] | None = None) -> Transcript:
        with self._lock:
            if self._engine is None:
                log.info("loading the speech recogniser for bulletin transcripts")
                self._engine = self._factory()
        return self._engine.transcribe(audio, context=context)


def _bulletin_of(subject: str) -> int | None:
    rest = subject.removeprefix(SUBJECT)
    return int(rest) if subject.startswith(SUBJECT) and rest.isdigit() else None


class BulletinTranscriptStore:
    """The :class:`~ivr.speech.transcription_pool.TranscriptionJobStore` of bulletins."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    @staticmethod
    def job(bulletin: Bulletin) -> TranscriptionJob:
        return TranscriptionJob(Path(bulletin.audio_path), subject=f"{SUBJECT}{bulletin.id}")

    async def add(self, job: TranscriptionJob) -> JobId:
        """The bulletin's pending job (made with the bulletin, usually), or a new one."""
        bulletin_id = _bulletin_of(job.subject)
        if bulletin_id is None:
            raise ValueError(f"not a bulletin transcription: {job.subject!r}")
        async with self._db.session(write=True) as s:
            row = await repo.request_transcription(s, bulletin_id, now=self._clock.now())
            return str(row.id)

    async def pending(self) -> list[PendingJob]:
        async with self._db.session() as s:
            rows = await repo.pending_transcriptions(s)
        return [PendingJob(str(t.id), self.job(b)) for t, b in rows]

    async def complete(self, job_id: JobId, transcript: Transcript) -> None:
        now = self._clock.now()
        async with self._db.session(write=True) as s:
            row = await s.get(BulletinTranscription, int(job_id), with_for_update=True)
            if row is None or row.state is not TranscriptionState.PENDING:
                return  # finished by an earlier run: keep its result
            row.state = TranscriptionState.DONE
            row.finished_at = now
            row.text = transcript.text
            row.engine = transcript.engine
            row.confidence = transcript.confidence
            row.no_speech = transcript.no_speech
            bulletin = await s.get(Bulletin, row.bulletin_id)
            if bulletin is not None and not bulletin.transcript_approved:
                bulletin.transcript = transcript.text
        log.info(
            "bulletin %d transcribed (%d words, confidence %.2f)",
            row.bulletin_id, len(transcript.text.split()), transcript.confidence,
        )  # fmt: skip

    async def fail(self, job_id: JobId, error: str) -> None:
        async with self._db.session(write=True) as s:
            row = await s.get(BulletinTranscription, int(job_id), with_for_update=True)
            if row is None or row.state is not TranscriptionState.PENDING:
                return
            row.state = TranscriptionState.FAILED
            row.finished_at = self._clock.now()
            row.error = error[:2000]
        log.error("transcription of bulletin %d failed: %s", row.bulletin_id, error)
