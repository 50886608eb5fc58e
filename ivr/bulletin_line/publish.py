"""Turning an accepted recording into a bulletin and a campaign, and starting scheduled sends.

Everything a send creates is written in one transaction: the bulletin (with its audio file),
the campaign with its groups and one target per member, the ``bulletin_sends`` row, the
transcription job and the audit line. A bad choice (an unknown group) raises before the
commit, so it leaves nothing behind.

Sent now, the campaign starts running in that same transaction. Scheduled, it waits as a
draft, and :func:`start_scheduled_send` starts it when its time comes. That function is
idempotent: the send row says whether it already ran, so a scheduler firing twice (a
restart in the wrong instant, a reconciliation) starts the campaign once. Members who
joined the groups since the send was scheduled are added when it starts.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ivr.bulletins import media
from ivr.campaigns.policy import CampaignSettings, Priority
from ivr.errors import GroupNotFound, InputError
from ivr.store import campaigns_repo, members_repo
from ivr.store import coordinators_repo as repo
from ivr.store.database import Database
from ivr.store.models import Bulletin, CampaignGroup, CampaignState
from ivr.store.models.coordinators import BulletinSend, EventKind, SendState

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NewBulletin:
    title: str
    created_by: str
    urgent: bool
    transcript: str | None = None
    transcript_approved: bool = False
    #: queue speech recognition of the audio (not needed when the text is the source)
    transcribe: bool = True


@dataclass(frozen=True)
class NewSend:
    groups: Sequence[str]
    urgent: bool
    #: None: start now
    run_at: datetime | None
    preset: str | None
    coordinator_id: int | None
    #: for the audit trail: "phone" or "api", and the caller ID or token name
    via: str
    source: str | None
    #: the campaign's policy; None: CampaignSettings' defaults
    policy: CampaignSettings | None = None


def send_job_id(send_id: int) -> str:
    return f"bulletin-send-{send_id}"


def send_id_of(job_id: str) -> int | None:
    prefix = "bulletin-send-"
    rest = job_id.removeprefix(prefix)
    return int(rest) if job_id.startswith(prefix) and rest.isdigit() else None


async def create_bulletin(
    s: AsyncSession, prepared: media.PreparedAudio, new: NewBulletin, *, data_dir: Path,
    now: datetime,
) -> Bulletin:  # fmt: skip
    if not new.title.strip():
        raise InputError("a bulletin needs a title")
    bulletin = await campaigns_repo.create_bulletin(
        s, title=new.title.strip()[:200], audio_path="", created_by=new.created_by[:200],
        now=now, transcript=new.transcript, urgent=new.urgent,
    )  # fmt: skip
    bulletin.transcript_approved = new.transcript_approved
    # written inside the transaction: if the commit fails, the file is an orphan that the
    # next bulletin with this id overwrites, never a bulletin without audio
    bulletin.audio_path = str(media.store(prepared, data_dir, bulletin.id))
    if new.transcribe:
        await repo.request_transcription(s, bulletin.id, now=now)
    return bulletin


async def create_send(
    s: AsyncSession, bulletin_id: int, send: NewSend, *, now: datetime
) -> BulletinSend:
    """A campaign of ``bulletin_id`` to the groups, running now or waiting for ``run_at``."""
    if not send.groups:
        raise InputError("choose at least one group")
    wanted = list(dict.fromkeys(send.groups))
    groups = await members_repo.groups_by_name(s, wanted)
    missing = [name for name in wanted if name not in groups]
    if missing:
        raise GroupNotFound(missing[0])
    priority = Priority.URGENT if send.urgent else Priority.NORMAL
    campaign = await campaigns_repo.create_campaign(
        s, bulletin_id=bulletin_id, now=now, priority=priority, settings=send.policy
    )
    s.add_all(CampaignGroup(campaign_id=campaign.id, group_id=g.id) for g in groups.values())
    targets = await campaigns_repo.create_targets_for_campaign(
        s, campaign.id, [g.id for g in groups.values()], now=now
    )
    started = send.run_at is None
    if started:
        campaign.state = CampaignState.RUNNING
        campaign.started_at = now
    row = BulletinSend(
        bulletin_id=bulletin_id, campaign_id=campaign.id, coordinator_id=send.coordinator_id,
        run_at=send.run_at, preset=send.preset, created_at=now,
        state=SendState.STARTED if started else SendState.PENDING,
        started_at=now if started else None,
    )  # fmt: skip
    s.add(row)
    await s.flush()
    when = "now" if send.run_at is None else f"at {send.run_at.isoformat(timespec='minutes')}"
    repo.audit(
        s, EventKind.SENT if started else EventKind.SCHEDULED, via=send.via, now=now,
        coordinator_id=send.coordinator_id, source=send.source,
        detail=(f"bulletin {bulletin_id}, campaign {campaign.id} to {', '.join(wanted)} "
                f"({targets} members, {priority.value}) {when}"),
    )  # fmt: skip
    log.info(
        "bulletin %d: campaign %d to %s, %d members, %s", bulletin_id, campaign.id, wanted,
        targets, when,
    )  # fmt: skip
    return row


@dataclass(frozen=True)
class Published:
    bulletin_id: int
    campaign_id: int
    send_id: int


async def publish(
    db: Database, prepared: media.PreparedAudio, new: NewBulletin, send: NewSend, *,
    data_dir: Path, now: datetime,
) -> Published:  # fmt: skip
    """A new bulletin and its send, in one transaction; if anything fails, the audio file
    written for it is removed too, so a failed send leaves nothing at all behind."""
    written: list[Path] = []
    try:
        async with db.session(write=True) as s:
            bulletin = await create_bulletin(s, prepared, new, data_dir=data_dir, now=now)
            written.append(Path(bulletin.audio_path))
            row = await create_send(s, bulletin.id, send, now=now)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return Published(bulletin.id, row.campaign_id, row.id)


class StartResult(StrEnum):
    STARTED = "started"
    #: this send had already run (a repeated firing): nothing changed
    ALREADY = "already"
    #: the campaign was cancelled before its time
    CANCELLED = "cancelled"
    #: no such send
    MISSING = "missing"


async def start_scheduled_send(db: Database, send_id: int, *, now: datetime) -> StartResult:
    """Start a scheduled send's campaign, once. Safe to call any number of times."""
    async with db.session(write=True) as s:
        row = await repo.lock_send(s, send_id)
        if row is None:
            return StartResult.MISSING
        if row.state is not SendState.PENDING:
            log.info("send %d already %s; ignoring a repeated start", send_id, row.state.value)
            return StartResult.ALREADY
        campaign = await campaigns_repo.get_campaign(s, row.campaign_id)
        if campaign.state is CampaignState.CANCELLED:
            row.state = SendState.CANCELLED
            log.info("send %d: campaign %d was cancelled; not starting", send_id, campaign.id)
            return StartResult.CANCELLED
        row.state = SendState.STARTED
        row.started_at = now
        if campaign.state is CampaignState.DRAFT:
            group_ids = list(
                await s.scalars(
                    select(CampaignGroup.group_id).where(CampaignGroup.campaign_id == campaign.id)
                )
            )
            added = await campaigns_repo.create_targets_for_campaign(
                s, campaign.id, group_ids, now=now
            )
            campaign.state = CampaignState.RUNNING
            campaign.started_at = now
            late = (now - row.run_at).total_seconds() if row.run_at else 0.0
            log.info(
                "scheduled send %d started campaign %d (%d members joined since; %.0f s late)",
                send_id, campaign.id, added, late,
            )  # fmt: skip
        else:  # started by hand (API) before its time: the schedule is spent
            log.info("send %d: campaign %d is already %s", send_id, campaign.id, campaign.state)
        repo.audit(
            s, EventKind.SENT, via="scheduler", now=now, coordinator_id=row.coordinator_id,
            detail=f"scheduled send {send_id} started campaign {campaign.id}",
        )  # fmt: skip
    return StartResult.STARTED
