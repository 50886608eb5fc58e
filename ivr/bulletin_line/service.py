"""The bulletin line's desk: what the coordinator dialogue and the API ask of the controller.

:class:`BulletinLineService` implements :class:`~ivr.flows.bulletin_ports.CoordinatorDesk`
over the database, the sounds folder and the scheduler. Signing in is delegated to
``signin.py``, drafts to ``drafts.py``, the transaction that sends to ``publish.py``.

Blocking work (argon2, audio processing, file copies, speech synthesis) runs in threads, so
one caller's recording never delays another caller's prompt.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from ivr.auth.limiter import FailureLimiter
from ivr.bulletin_line import publish
from ivr.bulletin_line.drafts import DraftStore
from ivr.bulletin_line.lockout import LockoutPolicy
from ivr.bulletin_line.menus import WhenMenu, summary_numbers, when_menu
from ivr.bulletin_line.signin import SignIn
from ivr.bulletins import media
from ivr.campaigns.policy import CampaignSettings
from ivr.clock import Clock
from ivr.config import BulletinLineSettings
from ivr.errors import BulletinNotFound, ConflictError, InputError, WatchlineError
from ivr.flows.bulletin_ports import (
    CoordinatorRef,
    Draft,
    GroupOption,
    LastSummary,
    PinCheck,
    Rejection,
    SendChoice,
    SendOutcome,
)
from ivr.scheduling.presets import Preset, default_presets, find_preset, preset_time
from ivr.scheduling.scheduler import JobScheduler
from ivr.speech import say
from ivr.speech.tts.build import render_phrase
from ivr.speech.tts.engine import EngineChain
from ivr.store import campaigns_repo
from ivr.store import coordinators_repo as repo
from ivr.store.database import Database
from ivr.store.models import Bulletin
from ivr.store.models.coordinators import EventKind, Notice, SendState

log = logging.getLogger(__name__)

#: A recording may run a little past the limit before Asterisk stops it.
_LENGTH_SLACK_S = 5


class BulletinLineService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        settings: BulletinLineSettings,
        *,
        data_dir: Path,
        sounds_dir: Path | None,
        tts: EngineChain | None,
        delete_recording: Callable[[str], Awaitable[None]] | None = None,
        on_started: Callable[[], None] | None = None,
        on_bulletin: Callable[[int], None] | None = None,
        policy: CampaignSettings | None = None,
    ) -> None:
        #: the policy of campaigns sent from here (campaigns.default_policy)
        self.campaign_policy = policy
        self.db = db
        self.clock = clock
        self.settings = settings
        self.data_dir = data_dir
        self.sounds_dir = sounds_dir
        self.tts = tts
        self._delete_recording = delete_recording
        #: a campaign started: wake the campaign engine
        self._on_started = on_started or (lambda: None)
        #: a bulletin was made whose transcription is pending: feed the transcriber
        self._on_bulletin = on_bulletin or (lambda _: None)
        self.policy = LockoutPolicy(
            max_failures=settings.pin_max_failures, first_lock_s=settings.lockout_first_s,
            max_lock_s=max(settings.lockout_max_s, settings.lockout_first_s),
            growth=settings.lockout_growth,
        )  # fmt: skip
        self.signin = SignIn(
            db, clock, policy=self.policy,
            line_limiter=FailureLimiter(max_failures=settings.line_max_failures,
                                        window_s=settings.line_window_s),
        )  # fmt: skip
        self.drafts = DraftStore(sounds_dir, max_seconds=settings.max_recording_s + _LENGTH_SLACK_S)
        self.presets: list[Preset] = default_presets(
            settings.evening_send_at, settings.morning_send_at
        )
        #: set by the component while its scheduler runs
        self.scheduler: JobScheduler | None = None
        self._names: dict[str, str | None] = {}

    # ---- signing in (CoordinatorDesk) -------------------------------------------------------

    async def line_open(self, caller: str | None) -> bool:
        return await self.signin.line_open(caller)

    async def identify(self, caller: str | None) -> CoordinatorRef | None:
        return await self.signin.identify(caller)

    async def identify_keyed(self, number: str, caller: str | None) -> CoordinatorRef | None:
        return await self.signin.identify_keyed(number, caller)

    async def refuse_if_locked(self, who: CoordinatorRef, caller: str | None) -> bool:
        return await self.signin.refuse_if_locked(who, caller)

    async def check_pin(self, who: CoordinatorRef, pin: str, caller: str | None) -> PinCheck:
        return await self.signin.check_pin(who, pin, caller)

    async def take_notice(self, who: CoordinatorRef) -> Notice | None:
        async with self.db.session(write=True) as s:
            c = await repo.get_coordinator(s, who.id)
            notice, c.notice = c.notice, None
        return notice

    async def note_not_sent(self, who: CoordinatorRef, caller: str | None) -> None:
        now = self.clock.now()
        async with self.db.session(write=True) as s:
            c = await repo.get_coordinator(s, who.id)
            c.notice = Notice.NOT_SENT
            repo.audit(
                s, EventKind.NOT_SENT, via="phone", now=now, coordinator_id=who.id,
                source=caller, detail="call ended before the recording was sent",
            )  # fmt: skip
        log.info("bulletin line: coordinator %d left without sending their recording", who.id)

    # ---- the menu ---------------------------------------------------------------------------

    async def group_sound(self, name: str) -> str | None:
        """The group's name as audio, rendered once (about half a second with Piper)."""
        if name not in self._names:
            uri: str | None = None
            if self.tts is not None and self.sounds_dir is not None:
                try:
                    found = await asyncio.to_thread(render_phrase, name, self.sounds_dir, self.tts)
                    uri = f"sound:watchline/{found}"
                except (WatchlineError, ValueError, OSError):
                    log.exception(
                        "could not voice the group name %r; its key is read instead", name
                    )
            self._names[name] = uri
        return self._names[name]

    async def group_sounds(self, names: Sequence[str]) -> None:
        """Voice group names now (when they are assigned), not during a coordinator's call."""
        for name in names:
            await self.group_sound(name)

    async def groups(self, who: CoordinatorRef) -> list[GroupOption]:
        async with self.db.session() as s:
            names = [g.name for g in await repo.groups_of(s, who.id)]
        return [GroupOption(n, await self.group_sound(n)) for n in names]

    async def _bulletin_uri(self, bulletin_id: int) -> str:
        async with self.db.session() as s:
            bulletin = await s.get(Bulletin, bulletin_id)
        assert bulletin is not None, "a send keeps its bulletin (RESTRICT)"
        if self.sounds_dir is not None:
            sounds = self.sounds_dir
            target = sounds / "bulletins" / f"{bulletin_id}.wav"
            if not target.exists():
                await asyncio.to_thread(
                    media.install, Path(bulletin.audio_path), sounds, bulletin_id
                )
        return media.media_uri(bulletin_id)

    async def last_bulletin(self, who: CoordinatorRef) -> str | None:
        async with self.db.session() as s:
            last = await repo.last_send(s, who.id)
        return await self._bulletin_uri(last.bulletin_id) if last is not None else None

    async def last_summary(self, who: CoordinatorRef) -> LastSummary | None:
        async with self.db.session() as s:
            last = await repo.last_send(s, who.id)
            if last is None:
                return None
            if last.state is SendState.PENDING:
                return LastSummary(pending=True, numbers=None)
            counts = await campaigns_repo.target_counts(s, last.campaign_id)
        return LastSummary(pending=False, numbers=summary_numbers(counts))

    # ---- recording and sending ---------------------------------------------------------------

    async def make_draft(self, audio: bytes, recording: str) -> Draft | Rejection:
        made = await asyncio.to_thread(self.drafts.make, audio)
        if isinstance(made, Rejection):
            log.info("bulletin line: recording %s rejected: %s", recording, made.value)
        return made

    async def discard_draft(self, draft: Draft) -> None:
        await asyncio.to_thread(self.drafts.discard, draft)

    async def forget_recording(self, recording: str) -> None:
        if self._delete_recording is not None:
            with contextlib.suppress(WatchlineError):
                await self._delete_recording(recording)

    def when_menu(self) -> WhenMenu:
        return when_menu(self.presets, self.clock.now(), self.settings.timezone)

    def spoken_when(self, at: datetime) -> list[str]:
        zone = ZoneInfo(self.settings.timezone)
        return say.when(at.astimezone(zone), self.clock.now().astimezone(zone))

    def run_at(self, preset_name: str | None) -> datetime | None:
        """When a send with this preset goes (None: now); InputError for an unknown preset
        or one whose time has passed, ConflictError while scheduling is unavailable."""
        if preset_name is None:
            return None
        preset = find_preset(self.presets, preset_name)
        if preset is None:
            names = ", ".join(p.name for p in self.presets)
            raise InputError(f"unknown send time {preset_name!r}; choose now or one of {names}")
        at = preset_time(preset, self.clock.now(), self.settings.timezone)
        if at is None:
            raise InputError(f"{preset_name.replace('_', ' ')} has passed; choose another time")
        if self.scheduler is None:
            raise ConflictError("scheduled sends are not available right now; send it now")
        return at

    async def send(
        self, who: CoordinatorRef, draft: Draft, choice: SendChoice, caller: str | None
    ) -> SendOutcome:
        async with self.db.session() as s:
            allowed = {g.name for g in await repo.groups_of(s, who.id)}
        if not set(choice.groups) <= allowed:
            raise InputError("a coordinator may send only to their own groups")
        run_at = self.run_at(choice.preset)
        now = self.clock.now()
        local = now.astimezone(ZoneInfo(self.settings.timezone))
        new = publish.NewBulletin(
            title=f"By phone from {who.name}, {local:%d %b %Y %H:%M}",
            created_by=f"coordinator {who.id} ({who.name})", urgent=choice.urgent,
        )  # fmt: skip
        prepared = self.drafts.prepared(draft)
        spec = publish.NewSend(choice.groups, choice.urgent, run_at, choice.preset, who.id,
                               "phone", caller, self.campaign_policy)  # fmt: skip
        made = await publish.publish(self.db, prepared, new, spec, data_dir=self.data_dir, now=now)
        return await self._after_send(
            made.bulletin_id, made.send_id, made.campaign_id, run_at, transcribe=True
        )

    async def _after_send(
        self, bulletin_id: int, send_id: int, campaign_id: int, run_at: datetime | None,
        *, transcribe: bool,
    ) -> SendOutcome:  # fmt: skip
        if transcribe:
            self._on_bulletin(bulletin_id)
        if run_at is None:
            self._on_started()
        elif self.scheduler is not None:
            self.scheduler.schedule(publish.send_job_id(send_id), run_at)
        # otherwise the pending row is scheduled when the scheduler (re)starts
        return SendOutcome(bulletin_id, campaign_id, run_at)

    async def send_existing(
        self, bulletin_id: int, groups: Sequence[str], *, urgent: bool, preset: str | None,
        source: str,
    ) -> SendOutcome:  # fmt: skip
        """The API's send: an existing bulletin to any groups, now or at a preset."""
        run_at = self.run_at(preset)
        now = self.clock.now()
        async with self.db.session(write=True) as s:
            if await s.get(Bulletin, bulletin_id) is None:
                raise BulletinNotFound(bulletin_id)
            spec = publish.NewSend(
                groups, urgent, run_at, preset, None, "api", source, self.campaign_policy
            )
            row = await publish.create_send(s, bulletin_id, spec, now=now)
        return await self._after_send(
            bulletin_id, row.id, row.campaign_id, run_at, transcribe=False
        )

    # ---- scheduled sends ------------------------------------------------------------------

    async def start_send(self, send_id: int) -> publish.StartResult:
        result = await publish.start_scheduled_send(self.db, send_id, now=self.clock.now())
        if result is publish.StartResult.STARTED:
            self._on_started()
        return result

    async def on_due(self, job_id: str) -> None:
        send_id = publish.send_id_of(job_id)
        if send_id is None:
            log.warning("scheduler fired unknown job %r; ignoring it", job_id)
            return
        await self.start_send(send_id)

    async def reconcile(self, scheduler: JobScheduler) -> None:
        """Make the scheduler agree with ``bulletin_sends``, the record of what is due.

        Every pending send is scheduled again from its ``run_at``: a job lost in a crash,
        or a send made while the scheduler was down, gets one, and the job store's system
        times follow the clock as it is now (a test's shifted clock, or a corrected one).
        A send whose time has passed starts now; a job whose send is no longer pending is
        dropped.
        """
        async with self.db.session() as s:
            pending = await repo.pending_sends(s)
        wanted = {publish.send_job_id(p.id) for p in pending}
        for job_id in scheduler.job_ids() - wanted:
            if publish.send_id_of(job_id) is not None:
                scheduler.cancel(job_id)
        now = self.clock.now()
        for send in pending:
            job_id = publish.send_job_id(send.id)
            if send.run_at is None or send.run_at <= now:
                log.warning(
                    "send %d became due while the controller was down; starting it", send.id
                )
                scheduler.cancel(job_id)
                await self.start_send(send.id)
            else:
                scheduler.schedule(job_id, send.run_at)
