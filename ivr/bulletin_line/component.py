"""The bulletin and replay lines in the controller: dialogues, API routes, background work.

Dialplan (``from-phones``): extension 2000 enters ``Stasis(watchline,bulletin)``, 2001
``Stasis(watchline,replay)``.

``run()`` owns, for as long as the controller runs:

- the scheduler of sends at preset times (APScheduler, persistent job store), reconciled
  with ``bulletin_sends`` when it starts;
- the transcription of new bulletins (Whisper, loaded on the first bulletin);
- voicing the names of coordinators' groups ahead of their calls.

None of them may end the controller: each logs its failure and the rest go on (without
scheduled sends, a coordinator can still send now; without recognition, bulletins wait
for a transcript until a restart with a working model).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Mapping
from typing import TYPE_CHECKING

from aiohttp import web
from sqlalchemy import select

from ivr.bulletin_line.admin import CoordinatorAdmin
from ivr.bulletin_line.bulletins import BulletinDesk
from ivr.bulletin_line.replay import ReplayService
from ivr.bulletin_line.service import BulletinLineService
from ivr.bulletin_line.transcripts import BulletinTranscriptStore, LazyAsrEngine
from ivr.errors import TelephonyError
from ivr.flows.bulletin_line import BulletinLineOptions, coordinator_line
from ivr.flows.bulletin_record import RecordOptions
from ivr.flows.delivery import sound
from ivr.flows.replay_line import replay_line
from ivr.scheduling.scheduler import JobScheduler, job_store_url
from ivr.speech.asr.base import AsrEngine
from ivr.speech.transcription_pool import TranscriptionPool
from ivr.speech.tts.engine import EngineChain
from ivr.speech.tts.ensure import engine_chain
from ivr.store.database import Database
from ivr.store.models import Bulletin, Group
from ivr.store.models.coordinators import CoordinatorGroup
from ivr.telephony.call import Call, CallEnded
from ivr.telephony.dispatcher import Dialogue

if TYPE_CHECKING:
    from ivr.app import Controller

log = logging.getLogger(__name__)


class BulletinLineComponent:
    name = "bulletin_line"

    def __init__(
        self,
        controller: Controller,
        *,
        asr: AsrEngine | None = None,
        tts: EngineChain | None = None,
    ) -> None:
        assert controller.db is not None and controller.asterisk is not None
        self._controller = controller
        s = controller.settings
        sounds = controller.asterisk.sounds_dir
        chain = tts if tts is not None else engine_chain(s.speech)
        ari = controller.ari
        self._feed: asyncio.Queue[int] = asyncio.Queue()
        self.service = BulletinLineService(
            controller.db, controller.clock, s.bulletin_line, data_dir=s.data_dir,
            sounds_dir=sounds, tts=chain,
            delete_recording=ari.delete_stored_recording if ari is not None else None,
            on_started=self._wake_campaigns, on_bulletin=self.transcribe_soon,
            policy=s.campaigns.default_policy,
        )  # fmt: skip
        self.replay = ReplayService(
            controller.db, controller.clock, sounds_dir=sounds,
            replay_days=s.bulletin_line.replay_days,
            max_bulletins=s.bulletin_line.replay_max_bulletins,
        )  # fmt: skip
        self.admin = CoordinatorAdmin(controller.db, controller.clock)
        self.bulletins = BulletinDesk(
            controller.db, controller.clock, data_dir=s.data_dir, sounds_dir=sounds, tts=chain
        )
        # the controller's shared recogniser, loaded by whoever needs it first
        self.asr: AsrEngine = asr or LazyAsrEngine(controller.speech_recogniser)
        #: set while scheduled sends can be made
        self.scheduler_ready = asyncio.Event()

    @property
    def _db(self) -> Database:
        assert self._controller.db is not None
        return self._controller.db

    def transcribe_soon(self, bulletin_id: int) -> None:
        """Hand a bulletin whose transcription is pending to the transcriber."""
        self._feed.put_nowait(bulletin_id)

    def _wake_campaigns(self) -> None:
        from ivr.campaigns.component import CampaignsComponent

        with contextlib.suppress(KeyError):
            campaigns = self._controller.component("campaigns")
            if isinstance(campaigns, CampaignsComponent):
                campaigns.engine.poke(campaigns_changed=True)
        # without the campaigns component here, its engine elsewhere polls within a second

    # ---- Component ---------------------------------------------------------------------

    def dialogues(self) -> Mapping[str, Dialogue]:
        return {"bulletin": self._bulletin_call, "replay": self._replay_call}

    def routes(self, app: web.Application) -> None:
        from ivr.web.bulletin_line_api import add_routes

        add_routes(app, self)

    async def run(self) -> None:
        cleared = await asyncio.to_thread(self.service.drafts.clear_leftovers)
        if cleared:
            log.info("removed %d draft recording(s) left by the last run", cleared)
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._scheduling(), name="bulletin-scheduler")
            tg.create_task(self._transcription(), name="bulletin-transcription")
            tg.create_task(self._voice_group_names(), name="bulletin-group-names")

    # ---- calls -----------------------------------------------------------------------------

    def options(self, call: Call) -> BulletinLineOptions:
        s = self._controller.settings.bulletin_line
        return BulletinLineOptions(
            RecordOptions(
                max_recording_s=s.max_recording_s, silence_s=s.recording_silence_s,
                max_takes=s.max_takes,
                recording_prefix="bulletin-" + call.channel_id.replace(".", "_"),
            )
        )  # fmt: skip

    async def _bulletin_call(self, call: Call, args: tuple[str, ...]) -> None:
        await self._guarded(call, coordinator_line(call, self.service, self.options(call)))

    async def _replay_call(self, call: Call, args: tuple[str, ...]) -> None:
        await self._guarded(call, replay_line(call, self.replay))

    async def _guarded(self, call: Call, dialogue: Awaitable[None]) -> None:
        try:
            await dialogue
        except CallEnded:
            raise
        except Exception:
            # a caller must not be left in silence: say so; the dispatcher then hangs up
            log.exception("bulletin/replay line failed on %s", call.channel_id)
            with contextlib.suppress(TelephonyError):
                await call.play([sound("common_technical_problem")], interruptible=False)

    # ---- background work -----------------------------------------------------------------

    async def _scheduling(self) -> None:
        settings = self._controller.settings
        try:
            url = job_store_url(settings.resolved_database_url)
            async with JobScheduler(url, self._controller.clock, self.service.on_due) as sched:
                self.service.scheduler = sched
                await self.service.reconcile(sched)
                self.scheduler_ready.set()
                await asyncio.Event().wait()  # until the controller stops
        except Exception:
            log.exception("scheduled sends are unavailable; coordinators can still send now")
        finally:
            self.service.scheduler = None
            self.scheduler_ready.clear()

    async def _transcription(self) -> None:
        store = BulletinTranscriptStore(self._db, self._controller.clock)
        try:
            async with TranscriptionPool(self.asr, store, workers=1) as pool:
                while True:
                    bulletin_id = await self._feed.get()
                    async with self._db.session() as s:
                        bulletin = await s.get(Bulletin, bulletin_id)
                    if bulletin is not None:
                        await pool.submit(store.job(bulletin))
        except Exception:
            log.exception("bulletin transcription stopped; pending ones resume at the next start")

    async def _voice_group_names(self) -> None:
        try:
            async with self._db.session() as s:
                names = list(
                    await s.scalars(
                        select(Group.name)
                        .join(CoordinatorGroup, CoordinatorGroup.group_id == Group.id)
                        .distinct()
                    )
                )
            for name in names:
                await self.service.group_sound(name)
        except Exception:
            log.exception("could not voice group names ahead of calls; they are voiced on demand")
