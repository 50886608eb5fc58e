"""The campaign engine's reads at start-up and for recovery (ORM, rarely run).

The statements it runs for every call are in :mod:`ivr.campaigns.hot_path`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ivr.campaigns.policy import CampaignSettings, Priority
from ivr.store.models import Attempt, Campaign, CampaignState, CampaignTarget, TargetState


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
