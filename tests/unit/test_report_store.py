"""Report storage: unique references, completion in either order, recovery after a crash,
audited status changes, filters, retention. SQLite and PostgreSQL."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from ivr.errors import ConflictError, InputError, ReportNotFound
from ivr.reports import reference as refs
from ivr.reports.categories import Category
from ivr.reports.delivery import requeue
from ivr.reports.retention import purge_expired_audio
from ivr.reports.states import AnswerKind, CallState, DeliveryState, ReportStatus
from ivr.speech.asr.base import Segment, Transcript
from ivr.speech.transcription_pool import TranscriptionJob
from ivr.store import reports_repo as repo
from ivr.store.database import Database
from ivr.store.models.reports import Report, ReportAnswer, ReportDelivery
from ivr.store.models.transcription import TranscriptionJobRow
from ivr.store.transcription_jobs import insert_job, record_transcript

NOW = datetime(2025, 2, 1, 9, 0, tzinfo=UTC)
PHRASES = ("knife", "gun")


def heard(text: str) -> Transcript:
    return Transcript.from_segments([Segment(text, 0, 1, 0.8)], engine="fake", duration_s=1)


async def new_report(
    db: Database, answers: int = 2, *, now: datetime = NOW
) -> tuple[str, list[int]]:
    """A report in a call, with ``answers`` recorded answers whose jobs are pending."""
    async with db.session(write=True) as session:
        report = await repo.create_report(
            session, channel_id="ch-1", caller_number="+441632960100", now=now
        )
        await session.flush()
        jobs = []
        for n in range(answers):
            kind = (AnswerKind.WHERE, AnswerKind.WHAT)[n % 2]
            answer = ReportAnswer(
                report_id=report.id,
                kind=kind,
                take=1,
                audio_path=f"reports/{report.reference}/{kind.value}-1.wav",
                audio_bytes=100,
                duration_s=1.0,
                ended_by="key",
                recorded_at=now,
            )
            session.add(answer)
            await session.flush()
            job = insert_job(
                session,
                TranscriptionJob(Path(answer.audio_path or ""), (), repo.answer_subject(answer.id)),
                now=now,
                base_dir=None,
            )
            await session.flush()
            answer.job_id = job.id
            jobs.append(job.id)
        return report.reference, jobs


FILING = repo.Filing(Category.THEFT, "key", "+441632960100", "caller_id", CallState.COMPLETED)


async def file(db: Database, reference: str, *, deliver: bool = True) -> None:
    async with db.session(write=True) as session:
        report = await repo.get_report(session, reference)
        await repo.file_report(
            session, report.id, FILING, now=NOW, urgent_phrases=PHRASES, deliver=deliver
        )


async def finish(db: Database, job_id: int, text: str, *, deliver: bool = True) -> bool:
    async with db.session(write=True) as session:
        row = await session.get(TranscriptionJobRow, job_id)
        assert row is not None
        record_transcript(row, heard(text) if text else Transcript.nothing_heard("fake", 1), NOW)
        return await repo.settle_after_job(
            session, row, now=NOW, urgent_phrases=PHRASES, deliver=deliver
        )


async def load(db: Database, reference: str) -> tuple[Report, ReportDelivery | None]:
    async with db.session() as session:
        report = await repo.get_report(session, reference)
        return report, await repo.delivery_of(session, report.id)


async def test_references_are_unique_even_when_a_draw_clashes(db: Database) -> None:
    async with db.session(write=True) as session:
        first = await repo.create_report(
            session, channel_id="a", caller_number=None, now=NOW, rng=random.Random(5)
        )
        second = await repo.create_report(
            session, channel_id="b", caller_number=None, now=NOW, rng=random.Random(5)
        )
        await session.flush()
        assert first.reference != second.reference
    async with db.session() as session:
        assert len(list(await session.scalars(select(Report)))) == 2


async def test_a_report_filed_first_completes_when_its_last_transcript_arrives(
    db: Database,
) -> None:
    reference, (where, what) = await new_report(db)
    await file(db, reference)
    report, delivery = await load(db, reference)
    assert report.call_state is CallState.COMPLETED and report.transcribed_at is None
    assert delivery is None  # nothing is sent before the transcripts exist
    assert not await finish(db, where, "Mill Lane")
    assert await finish(db, what, "he had a knife")
    report, delivery = await load(db, reference)
    assert report.transcribed_at == NOW and report.urgent and report.urgent_phrases == ["knife"]
    assert not report.no_speech and not report.transcription_failed
    assert delivery is not None and delivery.state is DeliveryState.PENDING


async def test_a_report_transcribed_first_completes_when_it_is_filed(db: Database) -> None:
    reference, (where, what) = await new_report(db)
    assert not await finish(db, where, "")
    assert not await finish(db, what, "")  # the call is still going on
    await file(db, reference)
    report, delivery = await load(db, reference)
    assert report.transcribed_at == NOW and report.no_speech and not report.urgent
    assert delivery is not None


async def test_without_a_backend_nothing_is_queued_for_delivery(db: Database) -> None:
    reference, (where, what) = await new_report(db)
    await finish(db, where, "x", deliver=False)
    await finish(db, what, "y", deliver=False)
    await file(db, reference, deliver=False)
    report, delivery = await load(db, reference)
    assert report.transcribed_at is not None and delivery is None


async def test_calls_cut_off_by_a_crash_are_closed_at_the_next_start(db: Database) -> None:
    reference, (where, what) = await new_report(db)
    await finish(db, where, "x")
    await finish(db, what, "y")
    async with db.session(write=True) as session:
        found = await repo.recover_interrupted(
            session, now=NOW, urgent_phrases=PHRASES, deliver=True
        )
    assert found == [reference]
    report, delivery = await load(db, reference)
    assert report.call_state is CallState.INTERRUPTED and report.transcribed_at is not None
    assert delivery is not None
    async with db.session(write=True) as session:
        assert (
            await repo.recover_interrupted(session, now=NOW, urgent_phrases=(), deliver=True) == []
        )


async def test_status_changes_need_a_note_follow_the_rules_and_are_audited(db: Database) -> None:
    reference, _ = await new_report(db, 0)
    async with db.session(write=True) as session:
        with pytest.raises(InputError, match="note"):
            await repo.change_status(
                session, reference, ReportStatus.TRIAGED, note=" ", actor="a", now=NOW
            )
        await repo.change_status(
            session, reference, ReportStatus.TRIAGED, note="seen", actor="token:1 Sgt Lee", now=NOW
        )
        await repo.change_status(
            session, reference, ReportStatus.CLOSED, note="done", actor="token:1 Sgt Lee", now=NOW
        )
        with pytest.raises(ConflictError, match="cannot become new"):
            await repo.change_status(
                session, reference, ReportStatus.NEW, note="x", actor="a", now=NOW
            )
    async with db.session() as session:
        report = await repo.get_report(session, reference)
        events = await repo.events_of(session, report.id)
    assert report.status is ReportStatus.CLOSED
    changes = [
        (e.actor, e.from_status, e.to_status, e.note)
        for e in events
        if e.action == "status_changed"
    ]
    assert changes == [
        ("token:1 Sgt Lee", "new", "triaged", "seen"),
        ("token:1 Sgt Lee", "triaged", "closed", "done"),
    ]
    assert events[0].action == "created"


async def test_a_mistyped_reference_is_told_apart_from_an_unknown_one(db: Database) -> None:
    reference, _ = await new_report(db, 0)
    typo = reference[:-1] + str((int(reference[-1]) + 1) % 10)
    async with db.session() as session:
        assert (
            await repo.get_report(session, reference.replace("", " ").strip())
        ).reference == reference
        with pytest.raises(InputError, match="check digits"):
            await repo.get_report(session, typo)
        with pytest.raises(ReportNotFound):
            await repo.get_report(session, "10000000" + refs.check_digits("10000000"))


async def test_reports_are_listed_newest_first_and_filtered(db: Database) -> None:
    old, (w1, w2) = await new_report(db, now=NOW - timedelta(days=2))
    new, _ = await new_report(db, 0)
    await finish(db, w1, "a gun")
    await finish(db, w2, "")
    await file(db, old)
    async with db.session() as session:
        everything = await repo.list_reports(session, repo.ReportFilter())
        urgent = await repo.list_reports(session, repo.ReportFilter(urgent=True))
        waiting = await repo.list_reports(
            session, repo.ReportFilter(delivery=DeliveryState.PENDING)
        )
        recent = await repo.count_reports(session, repo.ReportFilter(since=NOW - timedelta(days=1)))
        theft = await repo.count_reports(session, repo.ReportFilter(category=Category.THEFT))
    assert [r.reference for r, _ in everything] == [new, old]
    assert [r.reference for r, _ in urgent] == [old] == [r.reference for r, _ in waiting]
    assert (recent, theft) == (1, 1)


async def test_audio_past_retention_is_deleted_and_the_record_kept(
    db: Database, tmp_path: Path
) -> None:
    old, (o1, o2) = await new_report(db, now=NOW - timedelta(days=91))
    new, _ = await new_report(db, now=NOW - timedelta(days=89))
    waiting, (p1, p2) = await new_report(db, now=NOW - timedelta(days=91))
    for reference in (old, new, waiting):
        for kind in ("where", "what"):
            path = tmp_path / "reports" / reference / f"{kind}-1.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"RIFF")
    for job in (o1, o2):
        await finish(db, job, "x", deliver=False)
    await file(db, old, deliver=False)
    for job in (p1, p2):
        await finish(db, job, "x")
    await file(db, waiting)  # still in the outbox: its audio must stay
    result = await purge_expired_audio(db, tmp_path, now=NOW, retention_days=90)
    assert result.files_deleted == 2 and result.reports == (old,)
    assert not (tmp_path / "reports" / old).exists()
    assert (tmp_path / "reports" / new / "what-1.wav").exists()
    assert (tmp_path / "reports" / waiting / "what-1.wav").exists()
    async with db.session() as session:
        report = await repo.get_report(session, old)
        answers = await repo.answers_with_jobs(session, report.id)
        events = await repo.events_of(session, report.id)
    assert all(a.audio_purged_at == NOW for a, _ in answers)
    assert [j.text for _, j in answers if j] == ["x", "x"]  # transcripts stay
    assert events[-1].action == "audio_purged" and events[-1].actor == "retention"
    again = await purge_expired_audio(db, tmp_path, now=NOW, retention_days=90)
    assert again.files_deleted == 0


async def test_a_dead_lettered_report_can_be_sent_again(db: Database) -> None:
    reference, (w1, w2) = await new_report(db)
    await finish(db, w1, "x")
    await finish(db, w2, "y")
    await file(db, reference)
    async with db.session(write=True) as session:
        report = await repo.get_report(session, reference)
        delivery = await repo.delivery_of(session, report.id)
        assert delivery is not None
        delivery.state, delivery.attempts = DeliveryState.DEAD, 15
    later = NOW + timedelta(hours=6)
    await requeue(db, reference, actor="token:2 PC Ray", now=later)
    report, delivery = await load(db, reference)
    assert delivery is not None
    assert (delivery.state, delivery.attempts, delivery.next_attempt_at) == (
        DeliveryState.PENDING,
        0,
        later,
    )
    async with db.session() as session:
        events = await repo.events_of(session, report.id)
    assert events[-1].action == "delivery_requeued" and events[-1].actor == "token:2 PC Ray"
