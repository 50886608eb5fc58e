"""The database job store behind the transcription pool: jobs survive a restart, results
stay put, and whatever depends on a result commits with it. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ivr.clock import ShiftedClock
from ivr.speech.asr.base import Segment, Transcript
from ivr.speech.asr.fake import FakeAsrEngine
from ivr.speech.audio import Audio, write_wav
from ivr.speech.transcription_pool import TranscriptionJob, TranscriptionPool
from ivr.store.database import Database
from ivr.store.models.transcription import JobState, TranscriptionJobRow
from ivr.store.transcription_jobs import SqlTranscriptionJobStore, insert_job, transcript_of

NOW = datetime(2025, 2, 1, 9, 0, tzinfo=UTC)


def speech(path: Path) -> Path:
    rng = np.random.default_rng(3)
    write_wav(path, Audio.from_float(0.2 * rng.standard_normal(8000), 8000))
    return path


def heard(text: str) -> Transcript:
    return Transcript.from_segments([Segment(text, 0, 1, 0.7)], engine="fake", duration_s=1)


async def test_jobs_are_pending_until_finished_and_keep_their_result(
    db: Database, tmp_path: Path
) -> None:
    store = SqlTranscriptionJobStore(db, ShiftedClock(), base_dir=tmp_path)
    a = await store.add(TranscriptionJob(tmp_path / "a.wav", ("theft",), "report-answer:1"))
    b = await store.add(TranscriptionJob(tmp_path / "b.wav", (), "report-answer:2"))
    pending = await store.pending()
    assert [p.id for p in pending] == [a, b]
    assert pending[0].job == TranscriptionJob(tmp_path / "a.wav", ("theft",), "report-answer:1")
    await store.complete(a, heard("my bike"))
    await store.fail(b, "no audio")
    assert await store.pending() == []
    async with db.session() as session:
        rows = {r.id: r for r in await session.scalars(select(TranscriptionJobRow))}
    done = transcript_of(rows[int(a)])
    assert done is not None and done.text == "my bike" and done.engine == "fake"
    assert done.confidence == pytest.approx(0.7)
    assert rows[int(a)].audio_path == "a.wav"  # relative: the data directory may move
    assert rows[int(b)].state is JobState.FAILED and rows[int(b)].error == "no audio"
    assert transcript_of(rows[int(b)]) is None


async def test_a_finished_job_keeps_its_first_result(db: Database, tmp_path: Path) -> None:
    """At-least-once: a job redone after a restart must not overwrite what was stored."""
    store = SqlTranscriptionJobStore(db, ShiftedClock(), base_dir=tmp_path)
    job_id = await store.add(TranscriptionJob(tmp_path / "a.wav", (), "s"))
    await store.complete(job_id, heard("first"))
    await store.complete(job_id, heard("second"))
    await store.fail(job_id, "late failure")
    async with db.session() as session:
        row = await session.get(TranscriptionJobRow, int(job_id))
    assert row is not None and row.text == "first" and row.state is JobState.DONE


async def test_a_job_written_with_its_owner_is_found_again_by_subject(
    db: Database, tmp_path: Path
) -> None:
    """insert_job() inside the owner's transaction; add() of that subject finds the row."""
    job = TranscriptionJob(tmp_path / "a.wav", (), "report-answer:7")
    async with db.session(write=True) as session:
        row = insert_job(session, job, now=NOW, base_dir=tmp_path)
        await session.flush()
        inserted = row.id
    store = SqlTranscriptionJobStore(db, ShiftedClock(), base_dir=tmp_path)
    assert await store.add(job) == str(inserted)
    assert len(await store.pending()) == 1


async def test_what_depends_on_a_result_commits_with_it(db: Database, tmp_path: Path) -> None:
    seen: list[tuple[str, JobState]] = []

    async def after(session: AsyncSession, row: TranscriptionJobRow) -> None:
        seen.append((row.subject, row.state))
        # a failing dependent rolls the result back too: the job stays pending
        if row.subject == "boom":
            raise RuntimeError("dependent failed")

    store = SqlTranscriptionJobStore(db, ShiftedClock(), base_dir=tmp_path, after_finish=after)
    ok = await store.add(TranscriptionJob(tmp_path / "a.wav", (), "fine"))
    bad = await store.add(TranscriptionJob(tmp_path / "b.wav", (), "boom"))
    await store.complete(ok, heard("x"))
    with pytest.raises(RuntimeError):
        await store.complete(bad, heard("y"))
    assert seen == [("fine", JobState.DONE), ("boom", JobState.DONE)]
    assert [p.id for p in await store.pending()] == [bad]


async def test_a_restarted_pool_finishes_the_jobs_a_stopped_one_left(
    db: Database, tmp_path: Path
) -> None:
    store = SqlTranscriptionJobStore(db, ShiftedClock(), base_dir=tmp_path)
    for name in ("a", "b", "c"):
        await store.add(TranscriptionJob(speech(tmp_path / f"{name}.wav"), (), f"s-{name}"))
    # a new pool (as after a restart) re-queues everything still pending
    async with TranscriptionPool(FakeAsrEngine(default="words"), store) as pool:
        for _ in range(100):
            if not await store.pending():
                break
            await pool.join()
            await asyncio.sleep(0.02)
    assert await store.pending() == []
    async with db.session() as session:
        texts = list(await session.scalars(select(TranscriptionJobRow.text)))
    assert texts == ["words", "words", "words"]
