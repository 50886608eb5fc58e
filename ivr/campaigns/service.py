"""Campaign actions for the CLI and the API: create, start, pause, resume, cancel, report.

Every action validates first and writes in one transaction, so a bad request (unknown
group, missing bulletin, wrong state) changes nothing. State changes wake the engine
through ``on_change`` when the engine runs in this process; otherwise the engine sees
them on its next poll (within a second).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ivr.bulletins import media
from ivr.campaigns.fax_delivery import fax_document
from ivr.campaigns.outcomes import Outcome
from ivr.campaigns.policy import CampaignSettings, Priority
from ivr.clock import Clock
from ivr.errors import BulletinNotFound, ConflictError, GroupNotFound, InputError
from ivr.fax.errors import EmptyBulletinText
from ivr.fax.render import FaxLayout, render_pages
from ivr.members.fields import Channel
from ivr.store import campaigns_repo as repo
from ivr.store import members_repo
from ivr.store.database import Database
from ivr.store.models import (
    Attempt,
    Bulletin,
    Campaign,
    CampaignGroup,
    CampaignState,
    CampaignTarget,
    Group,
    Member,
    Membership,
    TargetState,
)

log = logging.getLogger(__name__)

_TRANSITIONS: dict[str, tuple[set[CampaignState], CampaignState]] = {
    "start": ({CampaignState.DRAFT}, CampaignState.RUNNING),
    "pause": ({CampaignState.RUNNING}, CampaignState.PAUSED),
    "resume": ({CampaignState.PAUSED}, CampaignState.RUNNING),
    "cancel": (
        {CampaignState.DRAFT, CampaignState.RUNNING, CampaignState.PAUSED},
        CampaignState.CANCELLED,
    ),
}


@dataclass(frozen=True)
class CampaignSummary:
    id: int
    state: str
    bulletin_id: int
    bulletin_title: str
    priority: str
    groups: list[str]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    #: targets per outcome (settled) or per state (pending, dialling)
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class ReportRow:
    member_id: int
    name: str
    phone: str
    channel: str
    group: str | None
    state: str
    outcome: str | None
    attempts: int
    last_cause: str | None
    last_attempt_at: datetime | None
    hangup_cause: int | None


class CampaignService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        data_dir: Path,
        sounds_dir: Path | None,
        on_change: Callable[[], None] | None = None,
        fax_layout: FaxLayout | None = None,
        fax_logo: Path | None = None,
        default_policy: CampaignSettings | None = None,
    ) -> None:
        #: the policy of campaigns created without one (campaigns.default_policy)
        self.default_policy = default_policy
        self.fax_layout = fax_layout or FaxLayout()
        self.fax_logo = fax_logo
        self.db = db
        self.clock = clock
        self.data_dir = data_dir
        self.sounds_dir = sounds_dir
        self._on_change = on_change or (lambda: None)

    # ---- bulletins ------------------------------------------------------------------------

    async def add_bulletin(
        self, audio: Path | bytes, *, title: str, created_by: str, urgent: bool = False,
        transcript: str | None = None,
    ) -> int:  # fmt: skip
        """Check and convert the audio, then store the bulletin; InputError if unusable."""
        if not title.strip():
            raise InputError("a bulletin needs a title")
        prepared = media.prepare(audio)  # before any write: bad audio changes nothing
        async with self.db.session(write=True) as s:
            bulletin = await repo.create_bulletin(
                s, title=title.strip(), audio_path="", created_by=created_by,
                now=self.clock.now(), transcript=transcript, urgent=urgent,
            )  # fmt: skip
            path = media.store(prepared, self.data_dir, bulletin.id)
            bulletin.audio_path = str(path)
        if self.sounds_dir is not None:
            media.install(path, self.sounds_dir, bulletin.id)
        return bulletin.id

    async def set_bulletin_text(
        self, bulletin_id: int, text: str, *, approved: bool, by: str
    ) -> None:
        """The text fax members receive: typed, or the corrected transcript of the recording.

        Checked now (empty, or longer than the page limit) so a fax never fails later.
        """
        text = text.strip()
        if not text:
            raise EmptyBulletinText()
        await asyncio.to_thread(self._check_fax, text, "a scheme", 0)
        async with self.db.session(write=True) as s:
            bulletin = await s.get(Bulletin, bulletin_id)
            if bulletin is None:
                raise BulletinNotFound(bulletin_id)
            bulletin.transcript = text
            bulletin.transcript_approved = approved
        log.info("bulletin %d text set by %s (approved: %s)", bulletin_id, by, approved)
        self._on_change()

    async def approve_transcript(self, bulletin_id: int, *, by: str) -> None:
        async with self.db.session(write=True) as s:
            bulletin = await s.get(Bulletin, bulletin_id)
            if bulletin is None:
                raise BulletinNotFound(bulletin_id)
            if not (bulletin.transcript or "").strip():
                raise ConflictError(f"bulletin {bulletin_id} has no text to approve yet")
            bulletin.transcript_approved = True
        log.info("bulletin %d transcript approved by %s", bulletin_id, by)
        self._on_change()

    def _check_fax(self, text: str, scheme: str, campaign_id: int) -> None:
        """Render the pages (without writing them): page limit, logo. Raises FaxInputError."""
        document = fax_document(
            text, scheme=scheme, campaign_id=campaign_id, sent_at=self.clock.now(),
            title=None, logo=self.fax_logo,
        )  # fmt: skip
        render_pages(document, self.fax_layout)

    async def install_bulletin(self, bulletin_id: int) -> str:
        """Make sure Asterisk has the bulletin's audio (after a restart, or a new sandbox)."""
        async with self.db.session() as s:
            bulletin = await s.get(Bulletin, bulletin_id)
        if bulletin is None:
            raise BulletinNotFound(bulletin_id)
        if self.sounds_dir is not None:
            target = self.sounds_dir / "bulletins" / f"{bulletin_id}.wav"
            if not target.exists():
                media.install(Path(bulletin.audio_path), self.sounds_dir, bulletin_id)
        return media.media_uri(bulletin_id)

    # ---- campaigns ------------------------------------------------------------------------

    async def create(
        self,
        bulletin_id: int,
        group_names: Sequence[str],
        *,
        priority: Priority = Priority.NORMAL,
        settings: CampaignSettings | None = None,
        start: bool = False,
    ) -> int:
        """A campaign of one target per callable member of the groups (created in SQL)."""
        if not group_names:
            raise InputError("choose at least one group")
        now = self.clock.now()
        async with self.db.session(write=True) as s:
            if await s.get(Bulletin, bulletin_id) is None:
                raise BulletinNotFound(bulletin_id)
            wanted = list(dict.fromkeys(group_names))
            groups = await members_repo.groups_by_name(s, wanted)
            missing = [name for name in wanted if name not in groups]
            if missing:
                raise GroupNotFound(missing[0])
            bulletin = await s.get(Bulletin, bulletin_id)
            assert bulletin is not None
            if (
                bulletin.transcript_approved
                and bulletin.transcript
                and await _has_fax_members(s, [g.id for g in groups.values()])
            ):
                # a fax that cannot be rendered must fail now, before any call is placed
                await asyncio.to_thread(self._check_fax, bulletin.transcript, wanted[0], 0)
            campaign = await repo.create_campaign(
                s, bulletin_id=bulletin_id, now=now, priority=priority,
                settings=settings or self.default_policy,
            )  # fmt: skip
            s.add_all(
                CampaignGroup(campaign_id=campaign.id, group_id=g.id) for g in groups.values()
            )
            created = await repo.create_targets_for_campaign(
                s, campaign.id, [g.id for g in groups.values()], now=now
            )
            if start:
                campaign.state = CampaignState.RUNNING
                campaign.started_at = now
            campaign_id = campaign.id
        log.info("campaign %d created for %s: %d members", campaign_id, list(groups), created)
        if start:
            self._on_change()
        return campaign_id

    async def _transition(self, campaign_id: int, action: str) -> None:
        allowed, new = _TRANSITIONS[action]
        now = self.clock.now()
        async with self.db.session(write=True) as s:
            campaign = await repo.get_campaign(s, campaign_id)
            if campaign.state not in allowed:
                raise ConflictError(f"campaign {campaign_id} is {campaign.state}: cannot {action}")
            campaign.state = new
            if new is CampaignState.RUNNING and campaign.started_at is None:
                campaign.started_at = now
            if new is CampaignState.CANCELLED:
                campaign.finished_at = now
                # calls in flight finish normally; the rest will not be made
                await s.execute(
                    update(CampaignTarget)
                    .where(
                        CampaignTarget.campaign_id == campaign_id,
                        CampaignTarget.state == TargetState.PENDING,
                    )
                    .values(state=TargetState.DONE, outcome=Outcome.CANCELLED,
                            next_attempt_at=None, updated_at=now)
                    .execution_options(synchronize_session=False)
                )  # fmt: skip
        log.info("campaign %d: %s", campaign_id, action)
        self._on_change()

    async def start(self, campaign_id: int) -> None:
        await self._transition(campaign_id, "start")

    async def pause(self, campaign_id: int) -> None:
        await self._transition(campaign_id, "pause")

    async def resume(self, campaign_id: int) -> None:
        await self._transition(campaign_id, "resume")

    async def cancel(self, campaign_id: int) -> None:
        await self._transition(campaign_id, "cancel")

    # ---- progress and reports --------------------------------------------------------------

    async def summary(self, campaign_id: int) -> CampaignSummary:
        async with self.db.session() as s:
            campaign = await repo.get_campaign(s, campaign_id)
            return await self._summary(s, campaign)

    async def _summary(self, s: AsyncSession, campaign: Campaign) -> CampaignSummary:
        bulletin = await s.get(Bulletin, campaign.bulletin_id)
        groups = await s.scalars(
            select(Group.name)
            .join(CampaignGroup, CampaignGroup.group_id == Group.id)
            .where(CampaignGroup.campaign_id == campaign.id)
            .order_by(Group.name)
        )
        return CampaignSummary(
            id=campaign.id, state=campaign.state.value, bulletin_id=campaign.bulletin_id,
            bulletin_title=bulletin.title if bulletin else "", priority=campaign.priority.value,
            groups=list(groups), created_at=campaign.created_at, started_at=campaign.started_at,
            finished_at=campaign.finished_at,
            counts=await repo.target_counts(s, campaign.id),
        )  # fmt: skip

    async def wait_for_state(
        self, campaign_id: int, states: Sequence[str], *, poll_s: float = 1.0
    ) -> CampaignSummary:
        """The summary once the campaign is in one of ``states`` (bound it with a timeout).

        Polls, because the state lives in the database and another process (the CLI, a
        second controller) may change it.
        """
        while (summary := await self.summary(campaign_id)).state not in states:  # noqa: ASYNC110
            await asyncio.sleep(poll_s)
        return summary

    async def all_summaries(self) -> list[CampaignSummary]:
        async with self.db.session() as s:
            campaigns = await s.scalars(select(Campaign).order_by(Campaign.id.desc()))
            return [await self._summary(s, c) for c in campaigns]

    async def report_rows(
        self, campaign_id: int, *, batch: int = 1000, after_member_id: int = 0
    ) -> AsyncIterator[ReportRow]:
        """Every member of the campaign with their outcome, in member order, in batches."""
        async with self.db.session() as s:
            await repo.get_campaign(s, campaign_id)
        last_id = after_member_id  # paging: start after this member (by the target index)
        while True:
            async with self.db.session() as s:
                rows = (
                    await s.execute(
                        select(CampaignTarget, Member, Group.name)
                        .join(Member, Member.id == CampaignTarget.member_id)
                        .outerjoin(Group, Group.id == CampaignTarget.group_id)
                        .where(CampaignTarget.campaign_id == campaign_id,
                               CampaignTarget.member_id > last_id)
                        .order_by(CampaignTarget.member_id)
                        .limit(batch)
                    )
                ).all()  # fmt: skip
                last = await self._last_attempts(s, [t.id for t, _, _ in rows])
            if not rows:
                return
            for target, member, group in rows:
                attempt = last.get(target.id)
                yield ReportRow(
                    member_id=member.id, name=member.name, phone=member.phone,
                    channel=member.channel.value, group=group, state=target.state.value,
                    outcome=target.outcome.value if target.outcome else None,
                    attempts=target.attempts, last_cause=target.last_cause,
                    last_attempt_at=attempt.started_at if attempt else None,
                    hangup_cause=attempt.hangup_cause if attempt else None,
                )  # fmt: skip
            last_id = rows[-1][0].member_id

    async def _last_attempts(self, s: AsyncSession, target_ids: list[int]) -> dict[int, Attempt]:
        if not target_ids:
            return {}
        attempts = await s.scalars(
            select(Attempt).where(Attempt.target_id.in_(target_ids)).order_by(Attempt.number)
        )
        return {a.target_id: a for a in attempts}

    async def attempts(self, campaign_id: int, member_id: int) -> list[Attempt]:
        """A member's attempt history in a campaign (each call, its result and cause)."""
        async with self.db.session() as s:
            return list(
                await s.scalars(
                    select(Attempt)
                    .join(CampaignTarget, CampaignTarget.id == Attempt.target_id)
                    .where(CampaignTarget.campaign_id == campaign_id,
                           CampaignTarget.member_id == member_id)
                    .order_by(Attempt.number)
                )
            )  # fmt: skip


async def _has_fax_members(s: AsyncSession, group_ids: Sequence[int]) -> bool:
    query = (
        select(Member.id)
        .join(Membership, Membership.member_id == Member.id)
        .where(Membership.group_id.in_(group_ids), Member.channel == Channel.FAX)
        .limit(1)
    )
    return await s.scalar(query) is not None
