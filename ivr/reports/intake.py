"""The report line's :class:`~ivr.flows.report_line.ReportSink`: where a call's answers go.

One ``ReportIntake`` per call. For each recording it fetches the audio from Asterisk over
ARI HTTP, writes it under ``<data_dir>/reports/<reference>/`` (fsynced, file and
directory), and records the answer and its transcription job in one transaction, before
the dialogue moves on. Transcription itself happens later, in the pool, so the caller
never waits for it; only spoken menu answers (and the urgency check when live transfer is
configured) are transcribed on the spot.

The report row is made with the first answer, so a caller who hangs up before saying
anything leaves no empty report behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ivr.clock import Clock
from ivr.config import ReportsSettings
from ivr.errors import SpeechError, TelephonyError
from ivr.flows.report_line import KeptAnswer, ReportFacts
from ivr.flows.report_menus import presented_number
from ivr.reports.categories import menu_context
from ivr.reports.states import AnswerKind, CallState
from ivr.reports.urgency import urgent_phrases_in
from ivr.speech.asr.base import Transcript
from ivr.speech.audio import Audio, is_silent, read_wav
from ivr.speech.transcription_pool import TranscriptionJob
from ivr.store import reports_repo as repo
from ivr.store.database import Database
from ivr.store.models.reports import ReportAnswer
from ivr.store.models.transcription import JobState
from ivr.store.transcription_jobs import insert_job, record_transcript
from ivr.telephony.call import Call, RecordingResult

log = logging.getLogger(__name__)

#: Attempts at fetching a recording from Asterisk, and the pause between them.
FETCH_ATTEMPTS = 3
FETCH_RETRY_S = 0.5

TranscribeNow = Callable[[Audio, Sequence[str] | None], Awaitable[Transcript]]


@dataclass(frozen=True)
class IntakeDeps:
    """What every call's intake shares; built once by the component."""

    db: Database
    clock: Clock
    data_dir: Path
    settings: ReportsSettings
    #: hand a stored job to the transcription pool (never blocks)
    feed: Callable[[TranscriptionJob], None]
    transcribe_now: TranscribeNow
    #: the report store is ready for new reports (interrupted calls recovered)
    ready: Callable[[], Awaitable[None]]
    transfer: Callable[[Call], Awaitable[None]]
    #: a report was filed: the outbox may have something to send
    filed: Callable[[], None]
    #: delete a recording from Asterisk once its audio is safely stored here
    delete_recording: Callable[[str], Awaitable[None]] | None = None

    @property
    def deliver(self) -> bool:
        return self.settings.backend_url is not None


def write_durably(path: Path, data: bytes) -> None:
    """Write ``data`` so that it survives a crash or power cut once this returns."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    with tmp.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _silent(data: bytes) -> bool:
    try:
        return is_silent(read_wav(data))
    except SpeechError:
        return False  # unreadable: let transcription fail on it and flag the report


class ReportIntake:
    def __init__(self, deps: IntakeDeps, call: Call) -> None:
        self._deps = deps
        self._call = call
        self._report_id: int | None = None
        self._reference: str | None = None
        self._live_urgent: tuple[str, ...] = ()

    @property
    def reference(self) -> str | None:
        return self._reference

    async def _ensure_report(self) -> tuple[int, str]:
        if self._report_id is None or self._reference is None:
            await self._deps.ready()
            async with self._deps.db.session(write=True) as session:
                report = await repo.create_report(
                    session,
                    channel_id=self._call.channel_id,
                    caller_number=presented_number(self._call.caller_number),
                    now=self._deps.clock.now(),
                )
                await session.flush()
                self._report_id, self._reference = report.id, report.reference
            log.info("report %s opened for channel %s", self._reference, self._call.channel_id)
        return self._report_id, self._reference

    async def _fetch(self, recording: RecordingResult) -> tuple[bytes | None, str | None]:
        error = "Asterisk reported the recording failed" if not recording.stored else None
        for attempt in range(FETCH_ATTEMPTS):
            try:
                data = await self._call.fetch_recording(recording.name)
                if data:
                    return data, None
                error = "Asterisk returned an empty recording"
            except TelephonyError as e:
                error = f"fetching the recording failed: {e}"
            if attempt + 1 < FETCH_ATTEMPTS:
                await asyncio.sleep(FETCH_RETRY_S)
        log.error("recording %s could not be fetched: %s", recording.name, error)
        return None, error

    async def _save(
        self,
        kind: AnswerKind,
        take: int,
        recording: RecordingResult,
        data: bytes | None,
        error: str | None,
    ) -> ReportAnswer:
        """Store the audio durably; the answer row to add (its job is the caller's part)."""
        report_id, reference = await self._ensure_report()
        relative = Path("reports") / reference / f"{kind.value}-{take}.wav"
        if data is not None:
            await asyncio.to_thread(write_durably, self._deps.data_dir / relative, data)
        answer = ReportAnswer(
            report_id=report_id,
            kind=kind,
            take=take,
            superseded=False,
            audio_path=str(relative) if data is not None else None,
            audio_bytes=len(data or b""),
            duration_s=recording.duration_s,
            ended_by=recording.ended_by,
            recorded_at=self._deps.clock.now(),
            fetch_error=error,
        )
        return answer

    async def _forget_in_asterisk(self, name: str) -> None:
        if self._deps.delete_recording is not None:
            with contextlib.suppress(TelephonyError):
                await self._deps.delete_recording(name)

    async def keep(self, kind: AnswerKind, recording: RecordingResult, *, take: int) -> KeptAnswer:
        data, error = await self._fetch(recording)
        answer = await self._save(kind, take, recording, data, error)
        job: TranscriptionJob | None = None
        async with self._deps.db.session(write=True) as session:
            session.add(answer)
            await session.flush()
            if answer.audio_path is not None:
                job = TranscriptionJob(
                    audio_path=self._deps.data_dir / answer.audio_path,
                    subject=repo.answer_subject(answer.id),
                )
                row = insert_job(
                    session, job, now=self._deps.clock.now(), base_dir=self._deps.data_dir
                )
                await session.flush()
                answer.job_id = row.id
        if job is not None:
            self._deps.feed(job)
            await self._forget_in_asterisk(recording.name)
        silent = data is not None and await asyncio.to_thread(_silent, data)
        log.info(
            "report %s: kept %s take %d (%s, %s bytes%s)",
            self._reference,
            kind.value,
            take,
            recording.ended_by,
            answer.audio_bytes,
            ", silent" if silent else "",
        )
        return KeptAnswer(answer.id, silent)

    async def hear(self, recording: RecordingResult, attempt: int) -> Transcript | None:
        data, _ = await self._fetch(recording)
        if data is None:
            return None
        try:
            audio = read_wav(data)
        except SpeechError:
            return None
        if is_silent(audio):
            await self._forget_in_asterisk(recording.name)
            return None  # nothing was said: nothing to keep
        transcript: Transcript | None = None
        error: str | None = None
        try:
            transcript = await self._deps.transcribe_now(audio, menu_context())
        except SpeechError as e:
            error = str(e)
            log.warning("spoken menu answer not transcribed: %s", e)
        answer = await self._save(AnswerKind.CATEGORY, attempt, recording, data, None)
        async with self._deps.db.session(write=True) as session:
            session.add(answer)
            await session.flush()
            now = self._deps.clock.now()
            job = TranscriptionJob(
                audio_path=self._deps.data_dir / (answer.audio_path or ""),
                context=menu_context(),
                subject=repo.answer_subject(answer.id),
            )
            row = insert_job(session, job, now=now, base_dir=self._deps.data_dir)
            if transcript is not None:
                record_transcript(row, transcript, now)
            else:
                row.state, row.finished_at, row.error = JobState.FAILED, now, error
            await session.flush()
            answer.job_id = row.id
        await self._forget_in_asterisk(recording.name)
        return transcript

    async def supersede(self, kept: KeptAnswer) -> None:
        async with self._deps.db.session(write=True) as session:
            answer = await session.get(ReportAnswer, kept.answer_id)
            if answer is not None:
                answer.superseded = True

    async def urgent_now(self) -> bool:
        """Transcribe the current "where" and "what" answers now and look for urgent words."""
        if self._report_id is None:
            return False
        async with self._deps.db.session() as session:
            pairs = await repo.answers_with_jobs(session, self._report_id)
        texts = []
        for answer, _job in pairs:
            if answer.superseded or answer.audio_path is None:
                continue
            try:
                audio = await asyncio.to_thread(read_wav, self._deps.data_dir / answer.audio_path)
                texts.append((await self._deps.transcribe_now(audio, None)).text)
            except SpeechError as e:
                log.warning("urgency check could not transcribe answer %s: %s", answer.id, e)
        self._live_urgent = tuple(urgent_phrases_in(texts, self._deps.settings.urgent_phrases))
        return bool(self._live_urgent)

    async def file(self, facts: ReportFacts, state: CallState) -> str | None:
        if self._report_id is None and state is CallState.HUNG_UP and not facts.kept:
            log.info(
                "caller on %s hung up before saying anything: no report", self._call.channel_id
            )
            return None
        report_id, reference = await self._ensure_report()
        choice = facts.category
        filing = repo.Filing(
            category=choice.category if choice else None,
            category_by=choice.by if choice else None,
            callback_number=facts.callback.number,
            callback_source=facts.callback.source,
            call_state=state,
            urgent_phrases=self._live_urgent,
        )
        async with self._deps.db.session(write=True) as session:
            await repo.file_report(
                session,
                report_id,
                filing,
                now=self._deps.clock.now(),
                urgent_phrases=self._deps.settings.urgent_phrases,
                deliver=self._deps.deliver,
            )
        self._deps.filed()
        log.info("report %s filed (%s)", reference, state.value)
        return reference

    async def transfer(self) -> None:
        await self._deps.transfer(self._call)
