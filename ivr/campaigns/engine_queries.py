"""The campaign engine's reads and writes, each a small function over one session."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from ivr.campaigns.outcomes import Outcome
from ivr.campaigns.policy import CampaignSettings, Priority
from ivr.store.models import Attempt, Campaign, CampaignState, CampaignTarget, Member, TargetState


@dataclass(frozen=True)
class RunningCampaign:
    id: int
    bulletin_id: int
    priority: Priority
    settings: CampaignSettings
    started_at: datetime


async def running_campaigns(session: AsyncSession) -> list[RunningCampaign]:
    rows = await session.scalars(select(Campaign).where(Campaign.state == CampaignState.RUNNING))
    found = []
    for c in rows:
        found.append(
            RunningCampaign(
                id=c.id,
                bulletin_id=c.bulletin_id,
                priority=c.priority,
                settings=CampaignSettings.model_validate(c.settings),
                started_at=c.started_at or c.created_at,
            )
        )
    return found


async def due_with_members(
    session: AsyncSession, campaign_id: int, now: datetime, limit: int
) -> list[tuple[CampaignTarget, Member]]:
    """A page of due targets with their members, earliest first, by the due index."""
    query = (
        select(CampaignTarget, Member)
        .join(Member, Member.id == CampaignTarget.member_id)
        .where(
            CampaignTarget.campaign_id == campaign_id,
            CampaignTarget.state == TargetState.PENDING,
            CampaignTarget.next_attempt_at <= now,
        )
        .order_by(CampaignTarget.next_attempt_at, CampaignTarget.id)
        .limit(limit)
    )
    return [(t, m) for t, m in (await session.execute(query)).all()]


async def next_due_at(session: AsyncSession, campaign_id: int) -> datetime | None:
    """When the earliest pending target comes due (served by the due index)."""
    query = (
        select(CampaignTarget.next_attempt_at)
        .where(
            CampaignTarget.campaign_id == campaign_id,
            CampaignTarget.state == TargetState.PENDING,
        )
        .order_by(CampaignTarget.next_attempt_at)
        .limit(1)
    )
    return await session.scalar(query)


async def is_finished(session: AsyncSession, campaign_id: int) -> bool:
    """No target is pending or being dialled."""
    open_target = exists().where(
        CampaignTarget.campaign_id == campaign_id,
        CampaignTarget.state.in_((TargetState.PENDING, TargetState.DIALLING)),
    )
    return not await session.scalar(select(open_target))


async def last_result(session: AsyncSession, target_id: int) -> Outcome | None:
    query = (
        select(Attempt.result)
        .where(Attempt.target_id == target_id, Attempt.result.is_not(None))
        .order_by(Attempt.number.desc())
        .limit(1)
    )
    return await session.scalar(query)


async def open_attempt(session: AsyncSession, target_id: int) -> Attempt | None:
    query = (
        select(Attempt)
        .where(Attempt.target_id == target_id, Attempt.ended_at.is_(None))
        .order_by(Attempt.number.desc())
        .limit(1)
    )
    return await session.scalar(query)


async def interrupted_targets(session: AsyncSession) -> list[CampaignTarget]:
    """Targets left 'dialling' by a controller that stopped mid-call."""
    query = select(CampaignTarget).where(CampaignTarget.state == TargetState.DIALLING)
    return list(await session.scalars(query))
