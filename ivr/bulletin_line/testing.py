"""Helpers for tests and the demo of the bulletin and replay lines.

- :class:`FixedClock`: a clock that stands still until told to move (pure policy tests
  use plain datetimes; this is for the desk and the dialogues);
- :class:`RecordingCall`: a :class:`~ivr.telephony.scripted_call.ScriptedCall` whose
  recordings hold audio (speech-like noise, silence, or given WAV bytes);
- :class:`LineHost`: the parts of the controller the component uses, without Asterisk, so
  unit tests drive the real component, desk, database and API with scripted calls;
- :func:`add_coordinator`, :func:`add_members`: fixtures in the database;
- :func:`coordinator_line`: all of the above for one test, with groups, members and a
  coordinator (PIN ``2468``) in place.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from aiohttp import web
from sqlalchemy import func, select

from ivr.auth.limiter import FailureLimiter
from ivr.bulletin_line.admin import Actor, CoordinatorAdmin
from ivr.clock import Clock
from ivr.config import Settings
from ivr.speech.asr.base import AsrEngine
from ivr.speech.audio import Audio, wav_bytes
from ivr.speech.tts.engine import EngineChain
from ivr.store import members_repo
from ivr.store.database import Database
from ivr.store.models.coordinators import CoordinatorEvent
from ivr.telephony.call import CallEnded
from ivr.telephony.scripted_call import ScriptedCall

if TYPE_CHECKING:
    from ivr.app import Controller
    from ivr.bulletin_line.component import BulletinLineComponent


class FixedClock:
    """Wall time that moves only when told to; monotonic time moves with it."""

    def __init__(self, now: datetime) -> None:
        if now.tzinfo is None:
            raise ValueError("FixedClock needs an aware time")
        self._now = now.astimezone(UTC)
        self._mono = 1000.0

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)
        self._mono += seconds


def speech_like(seconds: float = 3.0, *, seed: int = 1) -> bytes:
    """Noise at speech level: passes the silence and length checks as a voice would."""
    samples = 0.2 * np.random.default_rng(seed).standard_normal(int(8000 * seconds))
    return wav_bytes(Audio.from_float(samples, 8000))


def silence(seconds: float = 3.0) -> bytes:
    return wav_bytes(Audio.silence(seconds, 8000))


@dataclass
class RecordingCall(ScriptedCall):
    """Recordings named in ``audio`` hold those bytes; any other holds speech-like noise."""

    audio: Mapping[str, bytes] = field(default_factory=dict)
    fetched: list[str] = field(default_factory=list)

    async def fetch_recording(self, name: str) -> bytes:
        self.fetched.append(name)
        return self.audio.get(name) or speech_like(seed=len(self.fetched))


@dataclass(frozen=True)
class _Sandbox:
    sounds_dir: Path


class LineHost:
    """What :class:`BulletinLineComponent` and the web app use of the controller, without
    Asterisk. ``serve()`` runs the component (scheduler, transcription) and the API."""

    def __init__(self, settings: Settings, db: Database, clock: Clock, *, sounds_dir: Path) -> None:
        self.settings = settings
        self.db = db
        self.clock = clock
        self.asterisk = _Sandbox(sounds_dir)
        self.ari = None
        self.web_port: int | None = None
        self.auth_limiter = FailureLimiter(max_failures=10, window_s=60)
        self.components: list[Any] = []

    def component(self, name: str) -> Any:
        for c in self.components:
            if c.name == name:
                return c
        raise KeyError(name)

    def health(self) -> dict[str, Any]:
        return {"ami": True, "ari": True, "active_calls": 0}

    def make(self, asr: AsrEngine, tts: EngineChain | None) -> BulletinLineComponent:
        from ivr.bulletin_line.component import BulletinLineComponent

        component = BulletinLineComponent(cast("Controller", self), asr=asr, tts=tts)
        self.components = [component]
        return component

    @contextlib.asynccontextmanager
    async def serve(
        self, asr: AsrEngine, tts: EngineChain | None = None, *, web_api: bool = True
    ) -> AsyncIterator[BulletinLineComponent]:
        """With ``web_api``, the campaigns API is served too (its service without an
        engine), as the bulletin line's API works beside it."""
        from ivr.campaigns.component import SERVICE
        from ivr.campaigns.service import CampaignService
        from ivr.web.app import create_app
        from ivr.web.campaigns_api import add_routes

        self.settings.data_dir.mkdir(parents=True, exist_ok=True)  # as the controller does
        component = self.make(asr, tts)
        runner: web.AppRunner | None = None
        if web_api:
            app = create_app(cast("Controller", self))
            app[SERVICE] = CampaignService(
                self.db, self.clock, data_dir=self.settings.data_dir,
                sounds_dir=self.asterisk.sounds_dir,
            )  # fmt: skip
            add_routes(app)
            component.routes(app)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            self.web_port = runner.addresses[0][1]
        task = asyncio.create_task(component.run(), name="bulletin-line-under-test")
        try:
            async with asyncio.timeout(10):
                await component.scheduler_ready.wait()
            yield component
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            if runner is not None:
                await runner.cleanup()


async def add_members(
    db: Database, group: str, phones: Sequence[str], *, create_group: bool = True
) -> list[int]:
    """Members with these numbers in ``group`` (created first unless it exists)."""
    async with db.session(write=True) as s:
        g = (
            await members_repo.create_group(s, group)
            if create_group
            else await members_repo.get_group(s, group)
        )
        rows = [{"name": f"Member {p[-3:]}", "phone": p} for p in phones]
        ids = await members_repo.insert_members(s, rows) if rows else {}
        await members_repo.add_memberships(s, [(i, g.id) for i in ids.values()])
    return list(ids.values())


async def add_coordinator(
    db: Database, clock: Clock, *, phone: str, pin: str, groups: Sequence[str],
    name: str = "Ann Lee",
) -> int:  # fmt: skip
    view = await CoordinatorAdmin(db, clock).add(
        name=name, phone=phone, pin=pin, groups=groups, actor=Actor("cli", "test")
    )
    return int(view["id"])


# ---- one coordinator's line, ready to call -----------------------------------------------------

COORDINATOR_PHONE = "+441632960100"
COORDINATOR_PIN = "2468"
#: Rows and files a send creates: all zero means nothing was half-made.
NOTHING_CREATED = {
    "bulletins": 0, "campaigns": 0, "campaign_groups": 0, "campaign_targets": 0,
    "bulletin_sends": 0, "bulletin_transcriptions": 0, "draft files": 0, "bulletin files": 0,
}  # fmt: skip


@dataclass
class Line:
    db: Database
    clock: FixedClock
    component: BulletinLineComponent
    sounds: Path
    data: Path

    async def call(self, call: RecordingCall) -> RecordingCall:
        """Run the bulletin line's dialogue on ``call`` until it ends."""
        with contextlib.suppress(CallEnded):
            await self.component.dialogues()["bulletin"](call, ())  # type: ignore[arg-type]
        return call

    async def count(self, model: Any) -> int:
        async with self.db.session() as s:
            return int(await s.scalar(select(func.count()).select_from(model)) or 0)

    async def created(self) -> dict[str, int]:
        """What a send creates, counted (compare with NOTHING_CREATED)."""
        from ivr.store.models import Bulletin, Campaign, CampaignGroup, CampaignTarget
        from ivr.store.models.coordinators import BulletinSend, BulletinTranscription

        models = (Bulletin, Campaign, CampaignGroup, CampaignTarget, BulletinSend,
                  BulletinTranscription)  # fmt: skip
        found = {m.__tablename__: await self.count(m) for m in models}
        found["draft files"] = len(list((self.sounds / "drafts").glob("*")))
        found["bulletin files"] = len(list((self.data / "bulletins").glob("*")))
        return found

    async def events(self) -> list[CoordinatorEvent]:
        async with self.db.session() as s:
            return list(await s.scalars(select(CoordinatorEvent).order_by(CoordinatorEvent.id)))


@contextlib.asynccontextmanager
async def coordinator_line(tmp_path: Path, now: datetime) -> AsyncIterator[Line]:
    """A running line on SQLite in ``tmp_path`` at ``now``: groups elm-road (1 member),
    kings-arms (2) and riverside (2), and coordinator 1 who may send to all three."""
    from ivr.speech.asr.fake import FakeAsrEngine
    from ivr.speech.tts.fake import FakeTtsEngine
    from ivr.store.testing import backend_url, open_test_database

    url = backend_url("sqlite", tmp_path)
    assert url is not None
    clock = FixedClock(now)
    settings = Settings(data_dir=tmp_path / "var", database_url=url)
    async with open_test_database(url) as db:
        host = LineHost(settings, db, clock, sounds_dir=tmp_path / "sounds")
        tts = EngineChain([FakeTtsEngine()])
        asr = FakeAsrEngine(default="lock your garden sheds")
        async with host.serve(asr, tts, web_api=False) as component:
            await add_members(db, "elm-road", ["+441632960201"])
            await add_members(db, "kings-arms", ["+441632960202", "+441632960203"])
            await add_members(db, "riverside", ["+441632960204", "+441632960205"])
            await add_coordinator(
                db, clock, phone=COORDINATOR_PHONE, pin=COORDINATOR_PIN,
                groups=["riverside", "kings-arms", "elm-road"],
            )  # fmt: skip
            yield Line(db, clock, component, tmp_path / "sounds", tmp_path / "var")
