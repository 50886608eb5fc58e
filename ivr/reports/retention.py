"""Retention: answers' audio is deleted ``reports.retention_days`` after it was recorded.

The report itself, its transcripts and its audit trail stay (they are the record staff
work from); each purge is audited on the report it touched. Audio of a report still
waiting in the outbox is kept until it has been delivered or dead-lettered, so an inline
delivery never loses its audio to the purge.

``purge_expired_audio`` is one pass; the component runs it every
``reports.purge_interval_s`` and ``ivr reports purge`` runs it by hand.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from ivr.reports.states import DeliveryState
from ivr.store import reports_repo as repo
from ivr.store.database import Database
from ivr.store.models.reports import Report, ReportAnswer, ReportDelivery

log = logging.getLogger(__name__)

#: Answers handled per transaction.
BATCH = 200


def purge_cutoff(now: datetime, retention_days: int) -> datetime:
    """Audio recorded before this instant has outlived its retention."""
    if retention_days < 0:
        raise ValueError("retention_days cannot be negative")
    return now - timedelta(days=retention_days)


@dataclass(frozen=True)
class PurgeResult:
    files_deleted: int
    reports: tuple[str, ...]


def _delete(paths: list[Path]) -> int:
    deleted = 0
    for path in paths:
        try:
            path.unlink()
            deleted += 1
        except FileNotFoundError:
            pass  # already gone: the record is corrected below all the same
        with contextlib.suppress(OSError):
            path.parent.rmdir()  # the report's folder, once empty
    return deleted


async def purge_expired_audio(
    db: Database, data_dir: Path, *, now: datetime, retention_days: int
) -> PurgeResult:
    cutoff = purge_cutoff(now, retention_days)
    waiting = select(ReportDelivery.report_id).where(ReportDelivery.state == DeliveryState.PENDING)
    deleted = 0
    touched: list[str] = []
    for _ in range(10_000):  # bounded: each pass clears up to BATCH answers
        async with db.session(write=True) as session:
            rows = await session.execute(
                select(ReportAnswer, Report)
                .join(Report, Report.id == ReportAnswer.report_id)
                .where(ReportAnswer.audio_path.is_not(None))
                .where(ReportAnswer.audio_purged_at.is_(None))
                .where(ReportAnswer.recorded_at < cutoff)
                .where(ReportAnswer.report_id.not_in(waiting))
                .order_by(ReportAnswer.id)
                .limit(BATCH)
            )
            pairs = list(rows)
            if not pairs:
                break
            paths = [data_dir / (a.audio_path or "") for a, _ in pairs]
            deleted += await asyncio.to_thread(_delete, paths)
            by_report: dict[int, tuple[Report, int]] = {}
            for answer, report in pairs:
                answer.audio_purged_at = now
                _, n = by_report.get(report.id, (report, 0))
                by_report[report.id] = (report, n + 1)
            for report, n in by_report.values():
                repo.audit(
                    session,
                    report,
                    "audio_purged",
                    actor="retention",
                    now=now,
                    detail={"answers": n, "retention_days": retention_days},
                )
                touched.append(report.reference)
    if touched:
        log.info("retention: deleted %d audio file(s) of %d report(s)", deleted, len(touched))
    return PurgeResult(deleted, tuple(dict.fromkeys(touched)))
