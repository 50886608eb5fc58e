"""The statements the campaign engine runs for every call: Core, prepared once.

The ORM's unit of work and statement building cost milliseconds per call; here each
statement is built once, with bind parameters, and run on a plain connection (settles in
batches, with executemany, by group commit). Rows come back as small dataclasses.

The functions are synchronous: the engine runs each of its transactions whole through
:meth:`ivr.store.database.Database.run_write`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

from sqlalchemy import bindparam, case, insert, select, update
from sqlalchemy.engine import Connection

from ivr.campaigns.outcomes import Outcome
from ivr.campaigns.policy import CalleeSchedule
from ivr.members.fields import Channel, MemberStatus, QuietHours
from ivr.store.models import (
    Attempt,
    Campaign,
    CampaignState,
    CampaignTarget,
    Member,
    Membership,
    TargetState,
)

_T = CampaignTarget.__table__.c


@dataclass(frozen=True)
class DueRow:
    """A due target and what dialling it needs to know about the member."""

    target_id: int
    attempts: int
    group_id: int | None
    member_id: int
    name: str
    phone: str
    fax: str | None
    channel: Channel
    status: MemberStatus
    timezone: str
    quiet_start: time | None
    quiet_end: time | None
    #: the member has opted out of this target's group since the targets were made
    group_opted_out: bool

    @property
    def schedule(self) -> CalleeSchedule:
        quiet = (
            QuietHours(self.quiet_start, self.quiet_end)
            if self.quiet_start is not None and self.quiet_end is not None
            else None
        )
        return CalleeSchedule(self.timezone, quiet)

    @property
    def number(self) -> str:
        return self.fax if self.channel is Channel.FAX and self.fax else self.phone


_DUE_PAGE = (
    select(
        CampaignTarget.id, CampaignTarget.attempts, CampaignTarget.group_id, Member.id,
        Member.name, Member.phone, Member.fax, Member.channel, Member.status, Member.timezone,
        Member.quiet_start, Member.quiet_end, Membership.opted_out,
    )
    .join(Member, Member.id == CampaignTarget.member_id)
    .outerjoin(
        Membership,
        (Membership.member_id == CampaignTarget.member_id)
        & (Membership.group_id == CampaignTarget.group_id),
    )
    .where(
        CampaignTarget.campaign_id == bindparam("b_campaign"),
        CampaignTarget.state == TargetState.PENDING,
        CampaignTarget.next_attempt_at <= bindparam("b_now", type_=_T.next_attempt_at.type),
    )
    .order_by(CampaignTarget.next_attempt_at, CampaignTarget.id)
    .limit(bindparam("b_limit"))
)  # fmt: skip


def due_page(conn: Connection, campaign_id: int, now: datetime, limit: int) -> list[DueRow]:
    """A page of due targets, earliest first, served by ix_campaign_targets_due."""
    rows = conn.execute(_DUE_PAGE, {"b_campaign": campaign_id, "b_now": now,
                                          "b_limit": limit})  # fmt: skip
    return [
        DueRow(
            target_id=r[0],
            attempts=r[1],
            group_id=r[2],
            member_id=r[3],
            name=r[4],
            phone=r[5],
            fax=r[6],
            channel=Channel(r[7]),
            status=MemberStatus(r[8]),
            timezone=r[9],
            quiet_start=r[10],
            quiet_end=r[11],
            group_opted_out=bool(r[12]),
        )
        for r in rows
    ]


_NEXT_DUE = (
    select(CampaignTarget.next_attempt_at)
    .where(CampaignTarget.campaign_id == bindparam("b_campaign"),
           CampaignTarget.state == TargetState.PENDING)
    .order_by(CampaignTarget.next_attempt_at)
    .limit(1)
)  # fmt: skip


def next_due_at(conn: Connection, campaign_id: int) -> datetime | None:
    return (conn.execute(_NEXT_DUE, {"b_campaign": campaign_id})).scalar()


_OPEN_TARGET = (
    select(CampaignTarget.id)
    .where(CampaignTarget.campaign_id == bindparam("b_campaign"),
           CampaignTarget.state.in_((TargetState.PENDING, TargetState.DIALLING)))
    .limit(1)
)  # fmt: skip


def is_finished(conn: Connection, campaign_id: int) -> bool:
    """No target is pending or being dialled."""
    return (conn.execute(_OPEN_TARGET, {"b_campaign": campaign_id})).first() is None


_LAST_RESULT = (
    select(Attempt.result)
    .where(Attempt.target_id == bindparam("b_target"), Attempt.result.is_not(None))
    .order_by(Attempt.number.desc())
    .limit(1)
)


def last_result(conn: Connection, target_id: int) -> Outcome | None:
    value = (conn.execute(_LAST_RESULT, {"b_target": target_id})).scalar()
    return Outcome(value) if value is not None else None


_RESCHEDULE = (
    update(CampaignTarget)
    .where(CampaignTarget.id == bindparam("b_target"))
    .values(state=TargetState.PENDING, next_attempt_at=bindparam("b_at"),
            last_cause=bindparam("b_cause"), updated_at=bindparam("b_now"))
)  # fmt: skip

_FINISH = (
    update(CampaignTarget)
    .where(CampaignTarget.id == bindparam("b_target"))
    .values(state=TargetState.DONE, outcome=bindparam("b_outcome"), next_attempt_at=None,
            last_cause=bindparam("b_cause"), updated_at=bindparam("b_now"))
)  # fmt: skip


def reschedule(
    conn: Connection, target_id: int, *, at: datetime, cause: str, now: datetime
) -> None:
    """Leave the target pending until ``at`` (a member's call window, a fax waiting)."""
    conn.execute(_RESCHEDULE, {"b_target": target_id, "b_at": at, "b_cause": cause[:200],
                                     "b_now": now})  # fmt: skip


def finish(
    conn: Connection, target_id: int, outcome: Outcome, *, cause: str, now: datetime
) -> None:
    conn.execute(_FINISH, {"b_target": target_id, "b_outcome": outcome,
                                 "b_cause": cause[:200], "b_now": now})  # fmt: skip


_START_TARGETS = (
    update(CampaignTarget)
    .where(CampaignTarget.id == bindparam("b_target"), CampaignTarget.state == TargetState.PENDING)
    .values(state=TargetState.DIALLING, attempts=bindparam("b_number"), next_attempt_at=None,
            updated_at=bindparam("b_now"))
)  # fmt: skip


#: One statement for any number of rows (SQLAlchemy's "insertmanyvalues" batches them), so
#: it is compiled once; a multi-row VALUES built per page would be compiled every time.
_INSERT_ATTEMPTS = insert(Attempt).returning(Attempt.target_id, Attempt.id)


def begin_attempts(
    conn: Connection, starts: list[tuple[int, int, str]], now: datetime
) -> dict[int, int]:
    """Mark pending targets dialling and record their attempts, for a whole page at once.

    ``starts`` holds (target id, attempt number, channel id); returns target id -> attempt
    id. Two statements whatever the page size.
    """
    conn.execute(
        _START_TARGETS,
        [{"b_target": t, "b_number": n, "b_now": now} for t, n, _ in starts],
    )
    rows = conn.execute(
        _INSERT_ATTEMPTS,
        [{"target_id": t, "number": n, "channel_id": cid, "started_at": now}
         for t, n, cid in starts],
    )  # fmt: skip
    return {target_id: attempt_id for target_id, attempt_id in rows}


_COMPLETE = (
    update(Campaign)
    .where(Campaign.id == bindparam("b_campaign"), Campaign.state == CampaignState.RUNNING)
    .values(state=CampaignState.COMPLETED, finished_at=bindparam("b_now"))
)


def complete_campaign(conn: Connection, campaign_id: int, now: datetime) -> None:
    conn.execute(_COMPLETE, {"b_campaign": campaign_id, "b_now": now})


def _cancelled_campaign() -> Any:
    return (
        select(Campaign.id)
        .where(Campaign.id == bindparam("b_campaign"), Campaign.state == CampaignState.CANCELLED)
        .exists()
    )


#: End an attempt's target (run with executemany by group commit): a retry at ``b_retry``
#: (pending), or outcome ``b_outcome`` (done). Only a target still 'dialling' changes: one
#: settled during the call, by a key press, stays as it is. If the campaign was cancelled
#: meanwhile, the target ends as cancelled.
SETTLE_TARGET = (
    update(CampaignTarget)
    .where(CampaignTarget.id == bindparam("b_target"), CampaignTarget.state == TargetState.DIALLING)
    .values(
        state=case((_cancelled_campaign(), TargetState.DONE),
                   else_=bindparam("b_state", type_=_T.state.type)),
        outcome=case((_cancelled_campaign(), Outcome.CANCELLED),
                     else_=bindparam("b_outcome", type_=_T.outcome.type)),
        next_attempt_at=case((_cancelled_campaign(), None),
                             else_=bindparam("b_retry", type_=_T.next_attempt_at.type)),
        last_cause=bindparam("b_cause"),
        updated_at=bindparam("b_now"),
    )
)  # fmt: skip

#: Record how an attempt ended.
END_ATTEMPT = (
    update(Attempt)
    .where(Attempt.id == bindparam("b_attempt"))
    .values(
        result=bindparam("b_result"), ended_at=bindparam("b_ended"),
        hangup_cause=bindparam("b_hangup"), amd_status=bindparam("b_amd"),
        digits=bindparam("b_digits"), detail=bindparam("b_detail"),
    )
)  # fmt: skip


def settle_writes(
    *,
    attempt_id: int,
    target_id: int,
    campaign_id: int,
    result: Outcome,
    hangup_cause: int | None,
    amd_status: str | None,
    digits: str | None,
    detail: str | None,
    step_outcome: Outcome | None,
    retry_at: datetime | None,
    settle: bool,
    cause: str,
    now: datetime,
) -> list[tuple[Any, dict[str, Any]]]:
    """The statements and parameters that settle one attempt (for group commit)."""
    writes: list[tuple[Any, dict[str, Any]]] = [
        (END_ATTEMPT, {
            "b_attempt": attempt_id, "b_result": result, "b_ended": now,
            "b_hangup": hangup_cause, "b_amd": (amd_status or None) and amd_status[:32],
            "b_digits": digits, "b_detail": (detail or None) and detail[:500],
        }),
    ]  # fmt: skip
    if settle:
        state = TargetState.PENDING if retry_at is not None else TargetState.DONE
        writes.append((SETTLE_TARGET, {
            "b_target": target_id, "b_campaign": campaign_id, "b_state": state,
            "b_outcome": step_outcome, "b_retry": retry_at, "b_cause": cause[:200],
            "b_now": now,
        }))  # fmt: skip
    return writes
