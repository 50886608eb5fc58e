"""Report queries. Helpers take an ``AsyncSession`` and never commit (the caller's
``db.session()`` block is the transaction); every change of a report writes an audit event.

The one subtle rule is :func:`settle`: a report is complete once its call is over *and*
every answer has a transcript (or a failure). Those two facts arrive in separate
transactions (the flow files the report; the transcription pool finishes jobs), in either
order, so both lock the report row first and then look at the other. Whichever commits
second sees both facts and settles it; the outbox entry is made in the same transaction.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ivr.errors import InputError, ReportNotFound
from ivr.reports import reference as refs
from ivr.reports.categories import Category
from ivr.reports.states import (
    CallState,
    DeliveryState,
    ReportStatus,
    check_status_change,
)
from ivr.reports.urgency import AnswerFacts, assess
from ivr.store.models.reports import Report, ReportAnswer, ReportDelivery, ReportEvent
from ivr.store.models.transcription import JobState, TranscriptionJobRow

ANSWER_SUBJECT = "report-answer:"
#: Draws of a fresh reference before giving up (a clash is about 1 in 10^7 per draw).
_REFERENCE_DRAWS = 8


def audit(
    session: AsyncSession,
    report: Report,
    action: str,
    *,
    actor: str,
    now: datetime,
    note: str | None = None,
    detail: dict[str, Any] | None = None,
    from_status: ReportStatus | None = None,
    to_status: ReportStatus | None = None,
) -> None:
    session.add(
        ReportEvent(
            report_id=report.id,
            at=now,
            actor=actor,
            action=action,
            note=note,
            detail=detail,
            from_status=from_status.value if from_status else None,
            to_status=to_status.value if to_status else None,
        )
    )


async def create_report(
    session: AsyncSession,
    *,
    channel_id: str,
    caller_number: str | None,
    now: datetime,
    rng: random.Random | None = None,
) -> Report:
    """A new report in state ``in_call`` with a fresh, unique reference."""
    for _ in range(_REFERENCE_DRAWS):
        report = Report(
            reference=refs.make_reference(rng),
            channel_id=channel_id,
            caller_number=caller_number,
            call_state=CallState.IN_CALL,
            status=ReportStatus.NEW,
            urgent_phrases=[],
            created_at=now,
            updated_at=now,
        )
        try:
            async with session.begin_nested():
                session.add(report)
        except IntegrityError:
            continue  # the reference was taken: draw again
        audit(session, report, "created", actor="caller", now=now)
        return report
    raise RuntimeError(f"no free reference after {_REFERENCE_DRAWS} draws")


def answer_subject(answer_id: int) -> str:
    return f"{ANSWER_SUBJECT}{answer_id}"


@dataclass(frozen=True)
class Filing:
    """What the call established, stored when the report is filed."""

    category: Category | None
    category_by: str | None
    callback_number: str | None
    callback_source: str | None
    call_state: CallState
    #: urgent phrases already heard during the call (live transfer)
    urgent_phrases: tuple[str, ...] = ()


async def lock_report(session: AsyncSession, report_id: int) -> Report:
    report = await session.get(Report, report_id, with_for_update=True, populate_existing=True)
    if report is None:
        raise ReportNotFound(str(report_id))
    return report


async def file_report(
    session: AsyncSession,
    report_id: int,
    filing: Filing,
    *,
    now: datetime,
    urgent_phrases: Sequence[str],
    deliver: bool,
) -> Report:
    """Store what the call established and end the call's part; settle if it can."""
    report = await lock_report(session, report_id)
    report.category = filing.category
    report.category_by = filing.category_by
    report.callback_requested = filing.callback_number is not None
    report.callback_number = filing.callback_number
    report.callback_source = filing.callback_source
    if report.call_state is CallState.IN_CALL:
        report.call_state = filing.call_state
        report.ended_at = now
    if filing.urgent_phrases:
        report.urgent = True
        report.urgent_phrases = sorted(
            set(report.urgent_phrases or ()) | set(filing.urgent_phrases)
        )
    report.updated_at = now
    audit(
        session,
        report,
        "filed",
        actor="caller",
        now=now,
        detail={"call_state": report.call_state.value},
    )
    await settle(session, report, now=now, urgent_phrases=urgent_phrases, deliver=deliver)
    return report


async def answers_with_jobs(
    session: AsyncSession, report_id: int
) -> list[tuple[ReportAnswer, TranscriptionJobRow | None]]:
    rows = await session.execute(
        select(ReportAnswer, TranscriptionJobRow)
        .outerjoin(TranscriptionJobRow, ReportAnswer.job_id == TranscriptionJobRow.id)
        .where(ReportAnswer.report_id == report_id)
        .order_by(ReportAnswer.id)
    )
    return [(a, j) for a, j in rows]


async def answers_of_reports(
    session: AsyncSession, report_ids: Sequence[int]
) -> dict[int, list[tuple[ReportAnswer, TranscriptionJobRow | None]]]:
    """Answers with their jobs for many reports at once (exports), by report id."""
    found: dict[int, list[tuple[ReportAnswer, TranscriptionJobRow | None]]] = {}
    for start in range(0, len(report_ids), 500):
        rows = await session.execute(
            select(ReportAnswer, TranscriptionJobRow)
            .outerjoin(TranscriptionJobRow, ReportAnswer.job_id == TranscriptionJobRow.id)
            .where(ReportAnswer.report_id.in_(report_ids[start : start + 500]))
            .order_by(ReportAnswer.id)
        )
        for answer, job in rows:
            found.setdefault(answer.report_id, []).append((answer, job))
    return found


def _facts(answer: ReportAnswer, job: TranscriptionJobRow | None) -> AnswerFacts:
    if job is None:
        state = "missing"
    else:
        state = {JobState.DONE: "done", JobState.FAILED: "failed"}.get(job.state, "pending")
    return AnswerFacts(
        kind=answer.kind,
        superseded=answer.superseded,
        transcription=state,
        text=(job.text or "") if job else "",
        no_speech=bool(job and job.no_speech),
    )


async def settle(
    session: AsyncSession,
    report: Report,
    *,
    now: datetime,
    urgent_phrases: Sequence[str],
    deliver: bool,
) -> bool:
    """Complete ``report`` (locked by the caller) if its call is over and every answer is
    transcribed: set its flags and, if ``deliver``, queue it for the external backend."""
    if report.call_state is CallState.IN_CALL or report.transcribed_at is not None:
        return False
    facts = [_facts(a, j) for a, j in await answers_with_jobs(session, report.id)]
    if any(f.transcription == "pending" for f in facts):
        return False
    verdict = assess(facts, urgent_phrases)
    report.urgent = report.urgent or verdict.urgent
    report.urgent_phrases = sorted(set(report.urgent_phrases or ()) | set(verdict.urgent_phrases))
    report.no_speech = verdict.no_speech
    report.transcription_failed = verdict.transcription_failed
    report.transcribed_at = now
    report.updated_at = now
    audit(
        session,
        report,
        "transcribed",
        actor="system",
        now=now,
        detail={
            "urgent": report.urgent,
            "no_speech": report.no_speech,
            "transcription_failed": report.transcription_failed,
        },
    )
    if deliver:
        session.add(
            ReportDelivery(
                report_id=report.id,
                state=DeliveryState.PENDING,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )
    return True


async def settle_after_job(
    session: AsyncSession,
    job: TranscriptionJobRow,
    *,
    now: datetime,
    urgent_phrases: Sequence[str],
    deliver: bool,
) -> bool:
    """The transcription store's ``after_finish`` hook for report answers."""
    if not job.subject.startswith(ANSWER_SUBJECT):
        return False
    answer = await session.get(ReportAnswer, int(job.subject.removeprefix(ANSWER_SUBJECT)))
    if answer is None:
        return False
    report = await lock_report(session, answer.report_id)
    return await settle(session, report, now=now, urgent_phrases=urgent_phrases, deliver=deliver)


async def recover_interrupted(
    session: AsyncSession, *, now: datetime, urgent_phrases: Sequence[str], deliver: bool
) -> list[str]:
    """Reports whose call was in progress when the controller stopped: their call is over
    now (no call survives a restart), so end it, and settle what can be settled."""
    ids = await session.scalars(select(Report.id).where(Report.call_state == CallState.IN_CALL))
    found = []
    for report_id in list(ids):
        report = await lock_report(session, report_id)
        report.call_state = CallState.INTERRUPTED
        report.ended_at = now
        report.updated_at = now
        audit(
            session,
            report,
            "filed",
            actor="system",
            now=now,
            note="the controller stopped during the call",
        )
        await settle(session, report, now=now, urgent_phrases=urgent_phrases, deliver=deliver)
        found.append(report.reference)
    return found


async def get_report(session: AsyncSession, reference: str) -> Report:
    """The report with this reference; InputError if it fails its check digits (a typo),
    ReportNotFound if there is none."""
    wanted = refs.normalise(reference)
    if not refs.is_valid(wanted):
        raise InputError(f"{reference!r} is not a valid reference (check digits do not match)")
    report = await session.scalar(select(Report).where(Report.reference == wanted))
    if report is None:
        raise ReportNotFound(wanted)
    return report


@dataclass(frozen=True)
class ReportFilter:
    status: ReportStatus | None = None
    category: Category | None = None
    urgent: bool | None = None
    delivery: DeliveryState | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 100
    offset: int = 0


_Q = TypeVar("_Q", bound=Select[*tuple[Any, ...]])


def _filtered(query: _Q, f: ReportFilter) -> _Q:
    if f.status is not None:
        query = query.where(Report.status == f.status)
    if f.category is not None:
        query = query.where(Report.category == f.category)
    if f.urgent is not None:
        query = query.where(Report.urgent == f.urgent)
    if f.since is not None:
        query = query.where(Report.created_at >= f.since)
    if f.until is not None:
        query = query.where(Report.created_at < f.until)
    if f.delivery is not None:
        query = query.where(
            Report.id.in_(
                select(ReportDelivery.report_id).where(ReportDelivery.state == f.delivery)
            )
        )
    return query


async def list_reports(
    session: AsyncSession, f: ReportFilter
) -> list[tuple[Report, ReportDelivery | None]]:
    """Newest first, with each report's outbox entry (None when there is no backend)."""
    query = _filtered(
        select(Report, ReportDelivery).outerjoin(
            ReportDelivery, ReportDelivery.report_id == Report.id
        ),
        f,
    )
    rows = await session.execute(
        query.order_by(Report.created_at.desc(), Report.id.desc()).limit(f.limit).offset(f.offset)
    )
    return [(r, d) for r, d in rows]


async def count_reports(session: AsyncSession, f: ReportFilter) -> int:
    return int(await session.scalar(_filtered(select(func.count(Report.id)), f)) or 0)


async def delivery_of(session: AsyncSession, report_id: int) -> ReportDelivery | None:
    return await session.scalar(select(ReportDelivery).where(ReportDelivery.report_id == report_id))


async def events_of(session: AsyncSession, report_id: int) -> list[ReportEvent]:
    rows = await session.scalars(
        select(ReportEvent).where(ReportEvent.report_id == report_id).order_by(ReportEvent.id)
    )
    return list(rows)


async def change_status(
    session: AsyncSession,
    reference: str,
    wanted: ReportStatus,
    *,
    note: str,
    actor: str,
    now: datetime,
) -> Report:
    """Move a report to ``wanted`` with a note; audited. InputError without a note,
    ConflictError for a change the status rules do not allow."""
    if not note.strip():
        raise InputError("a status change needs a note saying why")
    found = await get_report(session, reference)
    report = await lock_report(session, found.id)
    check_status_change(report.status, wanted)
    before = report.status
    report.status = wanted
    report.updated_at = now
    audit(
        session,
        report,
        "status_changed",
        actor=actor,
        now=now,
        note=note.strip(),
        from_status=before,
        to_status=wanted,
    )
    return report
