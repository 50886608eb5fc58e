"""The campaign engine's reads and writes, each a small function over one session."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, exists, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ivr.campaigns.outcomes import Outcome
from ivr.campaigns.policy import CampaignSettings, Priority
from ivr.store.models import (
    Attempt,
    Campaign,
    CampaignState,
    CampaignTarget,
    Member,
    Membership,
    TargetState,
)


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
) -> list[tuple[CampaignTarget, Member, bool]]:
    """A page of due targets with their members and whether the member has opted out of
    the target's group since (checked again just before dialling), earliest first."""
    query = (
        select(CampaignTarget, Member, Membership.opted_out)
        .join(Member, Member.id == CampaignTarget.member_id)
        .outerjoin(
            Membership,
            (Membership.member_id == CampaignTarget.member_id)
            & (Membership.group_id == CampaignTarget.group_id),
        )
        .where(
            CampaignTarget.campaign_id == campaign_id,
            CampaignTarget.state == TargetState.PENDING,
            CampaignTarget.next_attempt_at <= now,
        )
        .order_by(CampaignTarget.next_attempt_at, CampaignTarget.id)
        .limit(limit)
    )
    return [(t, m, bool(o)) for t, m, o in (await session.execute(query)).all()]


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


async def settle_target(
    session: AsyncSession,
    target_id: int,
    campaign_id: int,
    *,
    outcome: Outcome | None,
    retry_at: datetime | None,
    cause: str,
    now: datetime,
) -> None:
    """End an attempt's target in one statement: a retry at ``retry_at``, or ``outcome``.

    Only a target still 'dialling' changes (one settled during the call, by a key press,
    stays as it is). If the campaign was cancelled meanwhile, the target ends as cancelled.
    """
    cancelled = (
        select(Campaign.id)
        .where(Campaign.id == campaign_id, Campaign.state == CampaignState.CANCELLED)
        .exists()
    )
    done = (TargetState.DONE, outcome) if retry_at is None else (TargetState.PENDING, None)
    await session.execute(
        update(CampaignTarget)
        .where(CampaignTarget.id == target_id, CampaignTarget.state == TargetState.DIALLING)
        .values(
            state=case((cancelled, TargetState.DONE), else_=done[0]),
            outcome=case((cancelled, Outcome.CANCELLED), else_=done[1]),
            next_attempt_at=case((cancelled, None), else_=retry_at),
            last_cause=cause[:200],
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )


async def end_attempt(
    session: AsyncSession,
    attempt_id: int,
    *,
    result: Outcome,
    now: datetime,
    hangup_cause: int | None,
    amd_status: str | None,
    digits: str | None,
    detail: str | None,
) -> None:
    await session.execute(
        update(Attempt)
        .where(Attempt.id == attempt_id)
        .values(result=result, ended_at=now, hangup_cause=hangup_cause,
                amd_status=(amd_status or None) and amd_status[:32], digits=digits,
                detail=(detail or None) and detail[:500])
        .execution_options(synchronize_session=False)
    )  # fmt: skip


async def begin_attempts(
    session: AsyncSession, starts: list[tuple[int, int, str]], now: datetime
) -> dict[int, int]:
    """Mark pending targets dialling and record their attempts, for a whole page at once.

    ``starts`` holds (target id, attempt number, channel id); returns target id -> attempt
    id. Two statements whatever the page size: this runs for every call.
    """
    await session.execute(
        update(CampaignTarget)
        .where(
            CampaignTarget.id.in_([t for t, _, _ in starts]),
            CampaignTarget.state == TargetState.PENDING,
        )
        .values(
            state=TargetState.DIALLING,
            attempts=CampaignTarget.attempts + 1,
            next_attempt_at=None,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    rows = await session.execute(
        insert(Attempt)
        .values([
            {"target_id": t, "number": n, "channel_id": cid, "started_at": now}
            for t, n, cid in starts
        ])
        .returning(Attempt.target_id, Attempt.id)
    )  # fmt: skip
    return {target_id: attempt_id for target_id, attempt_id in rows}
