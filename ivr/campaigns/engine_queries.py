"""The campaign engine's reads at start-up and for recovery (ORM, rarely run).

The statements it runs for every call are in :mod:`ivr.campaigns.hot_path`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.engine import Connection
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


_RUNNING_IDS = (
    select(Campaign.id).where(Campaign.state == CampaignState.RUNNING).order_by(Campaign.id)
)


def running_campaign_ids(conn: Connection) -> list[int]:
    """Ids only, through Database.run_read: the engine asks every second, and knows the
    rest of each campaign already."""
    return list(conn.execute(_RUNNING_IDS).scalars())


async def running_campaigns(
    session: AsyncSession, ids: list[int] | None = None
) -> list[RunningCampaign]:
    """The running campaigns (of ``ids``, if given), with what the engine needs of each."""
    query = select(Campaign).where(Campaign.state == CampaignState.RUNNING)
    if ids is not None:
        query = query.where(Campaign.id.in_(ids))
    rows = await session.scalars(query.order_by(Campaign.id))
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
