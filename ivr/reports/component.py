"""The report line in the controller: its dialogue, its API routes and its background work.

``run()`` owns, for as long as the controller runs:

- the transcription pool (Whisper by default), fed from the database: every answer's job
  is stored with the answer, so jobs left by a crash are picked up at the next start;
- the feeder that hands newly stored jobs to the pool without making a caller wait;
- the outbox to the external backend (only when ``reports.backend_url`` is set);
- the retention purge.

Before anything else it closes reports whose call was cut off when the controller last
stopped (``reports_repo.recover_interrupted``); new reports wait for that, so a live call
is never mistaken for an interrupted one.

Nothing here may end the controller: failures are logged and the work goes on (without
speech recognition, if the model cannot be loaded: menus then take keys only, and the
stored jobs wait for a restart with a working model).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from aiohttp import web

from ivr.errors import SpeechError, TelephonyError
from ivr.flows.report_line import ReportLineOptions, take_report
from ivr.flows.report_menus import sound
from ivr.reports.delivery import Outbox
from ivr.reports.intake import IntakeDeps, ReportIntake
from ivr.reports.retention import purge_expired_audio
from ivr.speech.asr.base import AsrEngine, Transcript
from ivr.speech.audio import Audio
from ivr.speech.transcription_pool import JobOutcome, TranscriptionJob, TranscriptionPool
from ivr.store import reports_repo as repo
from ivr.store.database import Database
from ivr.store.models.transcription import TranscriptionJobRow
from ivr.store.transcription_jobs import SqlTranscriptionJobStore
from ivr.telephony.ari_call import AriCall
from ivr.telephony.call import Call, CallEnded
from ivr.telephony.dispatcher import Dialogue
from ivr.web.reports_api import add_report_routes

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from ivr.app import Controller

log = logging.getLogger(__name__)

#: How long a new report waits for start-up recovery before going ahead regardless.
READY_TIMEOUT_S = 30.0
#: How long a transferred channel gets to leave our application before we stop watching.
TRANSFER_LEAVE_S = 5.0


class ReportsComponent:
    name = "reports"

    def __init__(self, controller: Controller, *, engine: AsrEngine | None = None) -> None:
        self._controller = controller
        self._settings = controller.settings.reports
        self._engine = engine
        self._pool: TranscriptionPool | None = None
        self._ready = asyncio.Event()
        self._pool_up = asyncio.Event()
        self._feed: asyncio.Queue[TranscriptionJob] = asyncio.Queue()
        self._outbox: Outbox | None = None
        self._deps: IntakeDeps | None = None

    # ---- Component ---------------------------------------------------------------------

    def dialogues(self) -> Mapping[str, Dialogue]:
        return {"report": self._dialogue}

    def routes(self, app: web.Application) -> None:
        add_report_routes(app)

    async def run(self) -> None:
        db = self._db
        s = self._controller.settings
        if self._settings.backend_url is not None:
            self._outbox = Outbox(
                db,
                self._controller.clock,
                self._settings,
                data_dir=s.data_dir,
                public_base_url=lambda: self.public_base_url,
            )
        await self._recover()
        self._ready.set()
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._transcription(), name="reports-transcription")
            tg.create_task(self._purge_loop(), name="reports-retention")
            if self._outbox is not None:
                tg.create_task(self._outbox.run(), name="reports-outbox")

    # ---- the call ------------------------------------------------------------------------

    @property
    def _db(self) -> Database:
        assert self._controller.db is not None, "the controller opens the database first"
        return self._controller.db

    @property
    def public_base_url(self) -> str:
        web_settings = self._controller.settings.web
        port = self._controller.web_port or web_settings.port
        return self._settings.public_base_url or f"http://{web_settings.host}:{port}"

    def options(self, call: Call) -> ReportLineOptions:
        s = self._settings
        return ReportLineOptions(
            where_max_s=s.where_max_s,
            where_silence_s=s.where_silence_s,
            what_max_s=s.what_max_s,
            what_silence_s=s.what_silence_s,
            menu_answer_max_s=s.menu_answer_max_s,
            menu_answer_silence_s=s.menu_answer_silence_s,
            transfer_urgent=s.transfer_extension is not None,
            recording_prefix="report-" + call.channel_id.replace(".", "_"),
        )

    def intake_deps(self) -> IntakeDeps:
        if self._deps is None:
            ari = self._controller.ari
            self._deps = IntakeDeps(
                db=self._db,
                clock=self._controller.clock,
                data_dir=self._controller.settings.data_dir,
                settings=self._settings,
                feed=self._feed.put_nowait,
                transcribe_now=self._transcribe_now,
                ready=self._wait_ready,
                transfer=self._transfer,
                filed=self.wake_outbox,
                delete_recording=ari.delete_stored_recording if ari is not None else None,
            )
        return self._deps

    async def _dialogue(self, call: AriCall, args: tuple[str, ...]) -> None:
        intake = ReportIntake(self.intake_deps(), call)
        try:
            await take_report(call, intake, self.options(call))
        except CallEnded:
            log.info("report caller hung up (report %s)", intake.reference or "none")
            raise
        except Exception:
            # A caller must not be left in silence: say so; the dispatcher then hangs up.
            log.exception(
                "report line failed on %s (report %s)", call.channel_id, intake.reference or "none"
            )
            with contextlib.suppress(TelephonyError):
                await call.play([sound("common_technical_problem")], interruptible=False)

    async def _wait_ready(self) -> None:
        try:
            await asyncio.wait_for(self._ready.wait(), READY_TIMEOUT_S)
        except TimeoutError:
            log.error(
                "report store not ready after %s s; filing the report anyway", READY_TIMEOUT_S
            )

    async def _transcribe_now(self, audio: Audio, context: Sequence[str] | None) -> Transcript:
        try:
            await asyncio.wait_for(self._pool_up.wait(), 10.0)
        except TimeoutError:
            raise SpeechError("speech recognition is not available") from None
        assert self._pool is not None
        return await self._pool.transcribe_now(audio, context=context)

    async def _transfer(self, call: Call) -> None:
        s = self._settings
        ari = self._controller.ari
        assert ari is not None and s.transfer_extension is not None
        log.warning(
            "urgent report: transferring %s to %s@%s",
            call.channel_id,
            s.transfer_extension,
            s.transfer_context,
        )
        await ari.continue_in_dialplan(
            call.channel_id,
            context=s.transfer_context,
            extension=s.transfer_extension,
            priority=1,
        )
        # Wait for the channel to leave our application: the dispatcher hangs up calls
        # whose dialogue ends, unless it has seen them go (StasisEnd marks them ended).
        deadline = time.monotonic() + TRANSFER_LEAVE_S
        while not call.ended and time.monotonic() < deadline:
            with contextlib.suppress(CallEnded):
                await call.collect(
                    max_digits=32, timeout_s=deadline - time.monotonic(), terminators=""
                )

    # ---- background work ----------------------------------------------------------------

    async def _recover(self) -> None:
        try:
            async with self._db.session(write=True) as session:
                found = await repo.recover_interrupted(
                    session,
                    now=self._controller.clock.now(),
                    urgent_phrases=self._settings.urgent_phrases,
                    deliver=self._settings.backend_url is not None,
                )
        except Exception:
            log.exception("could not recover reports of interrupted calls")
            return
        if found:
            log.warning(
                "closed %d report(s) of calls cut off by the last stop: %s",
                len(found),
                ", ".join(found),
            )

    async def _after_job(self, session: AsyncSession, row: TranscriptionJobRow) -> None:
        await repo.settle_after_job(
            session,
            row,
            now=self._controller.clock.now(),
            urgent_phrases=self._settings.urgent_phrases,
            deliver=self._settings.backend_url is not None,
        )

    async def _job_done(self, outcome: JobOutcome) -> None:
        if outcome.error is not None:
            log.error("transcription of %s failed: %s", outcome.job.subject, outcome.error)
        self.wake_outbox()

    def wake_outbox(self) -> None:
        """Have the outbox look for due deliveries now (a report was filed or requeued)."""
        if self._outbox is not None:
            self._outbox.wake()

    async def _transcription(self) -> None:
        speech = self._controller.settings.speech
        try:
            engine = self._engine
            if engine is None:
                # the controller's shared recogniser, loaded now (off the loop)
                engine = await asyncio.to_thread(self._controller.speech_recogniser)
        except SpeechError:
            log.exception(
                "no speech recognition: reports are kept and transcribed after a "
                "restart with a working model"
            )
            return
        store = SqlTranscriptionJobStore(
            self._db,
            self._controller.clock,
            base_dir=self._controller.settings.data_dir,
            after_finish=self._after_job,
        )
        pool = TranscriptionPool(
            engine,
            store,
            workers=speech.asr_workers,
            queue_size=speech.asr_queue_size,
            on_done=self._job_done,
        )
        try:
            await pool.__aenter__()
        except Exception:
            log.exception("the transcription pool could not start; jobs wait for a restart")
            return
        self._pool = pool
        self._pool_up.set()
        try:
            while True:
                job = await self._feed.get()
                try:
                    await pool.submit(job)
                except Exception:  # it stays pending in the store: redone at the next start
                    log.exception("could not queue transcription of %s", job.subject)
        finally:
            self._pool_up.clear()
            self._pool = None
            await pool.__aexit__(None, None, None)

    async def _purge_loop(self) -> None:
        s = self._settings
        while True:
            try:
                await purge_expired_audio(
                    self._db,
                    self._controller.settings.data_dir,
                    now=self._controller.clock.now(),
                    retention_days=s.retention_days,
                )
            except Exception:
                log.exception("retention purge failed; trying again at the next interval")
            await asyncio.sleep(s.purge_interval_s)
