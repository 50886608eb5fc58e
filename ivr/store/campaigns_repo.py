"""Queries on bulletins, campaigns, targets and attempts. Helpers take a session, never commit.

A campaign may have 100,000 targets, so nothing here loads a campaign's targets whole:
targets are created by one INSERT ... SELECT, and the engine pages through the due ones with
``due_targets(..., limit)``, served by the index ``ix_campaign_targets_due``.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    CursorResult,
    Integer,
    Select,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from ivr.campaigns.outcomes import Outcome
from ivr.campaigns.policy import CampaignSettings, Priority, may_dial
from ivr.errors import CampaignNotFound, ConflictError
from ivr.members.fields import MemberStatus
from ivr.store.base import UtcDateTime
from ivr.store.models import (
    Attempt,
    Bulletin,
    Campaign,
    CampaignState,
    CampaignTarget,
    Member,
    Membership,
    TargetState,
)


def _rowcount(result: Any) -> int:
    return cast(CursorResult[Any], result).rowcount


async def create_bulletin(
    session: AsyncSession,
    *,
    title: str,
    audio_path: str,
    created_by: str,
    now: datetime,
    transcript: str | None = None,
    urgent: bool = False,
) -> Bulletin:
    bulletin = Bulletin(
        title=title,
        audio_path=audio_path,
        created_by=created_by,
        transcript=transcript,
        urgent=urgent,
        created_at=now,
    )
    session.add(bulletin)
    await session.flush()
    return bulletin


async def create_campaign(
    session: AsyncSession,
    *,
    bulletin_id: int,
    now: datetime,
    priority: Priority = Priority.NORMAL,
    settings: CampaignSettings | None = None,
) -> Campaign:
    campaign = Campaign(
        bulletin_id=bulletin_id,
        priority=priority,
        settings=(settings or CampaignSettings()).model_dump(mode="json"),
        created_at=now,
    )
    session.add(campaign)
    await session.flush()
    return campaign


async def get_campaign(session: AsyncSession, campaign_id: int) -> Campaign:
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None:
        raise CampaignNotFound(campaign_id)
    return campaign


def campaign_settings(campaign: Campaign) -> CampaignSettings:
    return CampaignSettings.model_validate(campaign.settings)


async def create_targets_for_campaign(
    session: AsyncSession, campaign_id: int, group_ids: Collection[int], *, now: datetime
) -> int:
    """Create one pending target per callable member of ``group_ids``, due at ``now``.

    One INSERT ... SELECT, so 100k targets never pass through Python. A member in several of
    the groups gets one target, via the lowest group id (``policy.choose_targets`` is the same
    rule in Python); members opted out globally or of that group are left out. Members who
    already have a target in the campaign are skipped, so adding groups later is safe.
    Returns the number of targets created.
    """
    campaign = await get_campaign(session, campaign_id)
    if campaign.state in (CampaignState.COMPLETED, CampaignState.CANCELLED):
        raise ConflictError(f"campaign {campaign_id} is {campaign.state}")
    if not group_ids:
        return 0
    already = exists().where(
        CampaignTarget.campaign_id == campaign_id,
        CampaignTarget.member_id == Membership.member_id,
    )
    columns = CampaignTarget.__table__.c
    source = (
        select(
            literal(campaign_id, Integer),
            Membership.member_id,
            func.min(Membership.group_id),
            literal(TargetState.PENDING, columns.state.type),
            literal(0, Integer),
            literal(now, UtcDateTime()),
            literal(now, UtcDateTime()),
        )
        .join(Member, Member.id == Membership.member_id)
        .where(
            Membership.group_id.in_(sorted(group_ids)),
            Membership.opted_out.is_(False),
            Member.status == MemberStatus.ACTIVE,
            ~already,
        )
        .group_by(Membership.member_id)
    )
    names = ["campaign_id", "member_id", "group_id", "state", "attempts"]
    statement = insert(CampaignTarget).from_select(
        [*names, "next_attempt_at", "updated_at"], source
    )
    return _rowcount(await session.execute(statement))


def due_targets_query(campaign_id: int, now: datetime, limit: int) -> Select[CampaignTarget]:
    """The query behind ``due_targets``; tests check it is served by ix_campaign_targets_due."""
    return (
        select(CampaignTarget)
        .where(
            CampaignTarget.campaign_id == campaign_id,
            CampaignTarget.state == TargetState.PENDING,
            CampaignTarget.next_attempt_at <= now,
        )
        .order_by(CampaignTarget.next_attempt_at, CampaignTarget.id)
        .limit(limit)
    )


async def due_targets(
    session: AsyncSession, campaign_id: int, now: datetime, limit: int
) -> list[CampaignTarget]:
    """At most ``limit`` pending targets whose next attempt is due, earliest first.

    The engine pages: it marks the page dialling (``begin_attempt``) before asking again.
    """
    return list(await session.scalars(due_targets_query(campaign_id, now, limit)))


async def may_dial_target(session: AsyncSession, target: CampaignTarget) -> bool:
    """Re-check just before dialling: the member may have opted out since targets were made."""
    query = (
        select(Member.status, Membership.opted_out)
        .select_from(Member)
        .outerjoin(
            Membership,
            (Membership.member_id == Member.id) & (Membership.group_id == target.group_id),
        )
        .where(Member.id == target.member_id)
    )
    row = (await session.execute(query)).first()
    if row is None:
        return False
    status, group_opted_out = row
    return may_dial(status, bool(group_opted_out))


async def settle_opted_out_targets(session: AsyncSession, campaign_id: int, now: datetime) -> int:
    """End, as ``opted_out``, the pending targets whose member has opted out since; set-based."""
    member_out = exists().where(
        Member.id == CampaignTarget.member_id, Member.status == MemberStatus.OPTED_OUT
    )
    group_out = exists().where(
        Membership.member_id == CampaignTarget.member_id,
        Membership.group_id == CampaignTarget.group_id,
        Membership.opted_out.is_(True),
    )
    statement = (
        update(CampaignTarget)
        .where(
            CampaignTarget.campaign_id == campaign_id,
            CampaignTarget.state == TargetState.PENDING,
            or_(member_out, group_out),
        )
        .values(
            state=TargetState.DONE,
            outcome=Outcome.OPTED_OUT,
            next_attempt_at=None,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return _rowcount(await session.execute(statement))


async def begin_attempt(
    session: AsyncSession, target: CampaignTarget, *, channel_id: str, now: datetime
) -> Attempt:
    """Mark the target as dialling and record attempt number ``attempts + 1``."""
    if target.state is not TargetState.PENDING:
        raise ConflictError(f"target {target.id} is {target.state}, not pending")
    target.state = TargetState.DIALLING
    target.attempts += 1
    target.next_attempt_at = None
    target.updated_at = now
    attempt = Attempt(
        target_id=target.id, number=target.attempts, channel_id=channel_id, started_at=now
    )
    session.add(attempt)
    await session.flush()
    return attempt


async def end_attempt(
    session: AsyncSession,
    attempt: Attempt,
    result: Outcome,
    *,
    now: datetime,
    hangup_cause: int | None = None,
    amd_status: str | None = None,
    digits: str | None = None,
    detail: str | None = None,
) -> None:
    attempt.result = result
    attempt.ended_at = now
    attempt.hangup_cause = hangup_cause
    attempt.amd_status = amd_status
    attempt.digits = digits
    attempt.detail = detail
    await session.flush()


async def reschedule_target(
    session: AsyncSession, target: CampaignTarget, *, at: datetime, now: datetime, cause: str
) -> None:
    """Back to pending, due at ``at`` (a retry, or waiting for the member's call window)."""
    target.state = TargetState.PENDING
    target.next_attempt_at = at
    target.last_cause = cause
    target.updated_at = now
    await session.flush()


async def finish_target(
    session: AsyncSession,
    target: CampaignTarget,
    outcome: Outcome,
    *,
    now: datetime,
    cause: str | None = None,
) -> None:
    target.state = TargetState.DONE
    target.outcome = outcome
    target.next_attempt_at = None
    if cause is not None:
        target.last_cause = cause
    target.updated_at = now
    await session.flush()


async def target_counts(session: AsyncSession, campaign_id: int) -> dict[str, int]:
    """Targets per outcome (done) or per state (not done yet): the campaign's progress."""
    query = (
        select(CampaignTarget.state, CampaignTarget.outcome, func.count())
        .where(CampaignTarget.campaign_id == campaign_id)
        .group_by(CampaignTarget.state, CampaignTarget.outcome)
    )
    counts: dict[str, int] = {}
    for state, outcome, n in await session.execute(query):
        key = outcome.value if outcome is not None else state.value
        counts[key] = counts.get(key, 0) + n
    return counts
