"""The transcription pool: durable jobs, a bounded queue that waits, failures that stay local."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from ivr.errors import TranscriptionError
from ivr.speech.asr.base import Transcript
from ivr.speech.asr.fake import FakeAsrEngine
from ivr.speech.audio import Audio, wav_bytes, write_wav
from ivr.speech.transcription_pool import (
    InMemoryJobStore,
    JobId,
    JobOutcome,
    PendingJob,
    TranscriptionJob,
    TranscriptionPool,
)


def speech_file(path: Path, seconds: float = 1.0) -> Path:
    rng = np.random.default_rng(1)
    write_wav(path, Audio.from_float(0.2 * rng.standard_normal(round(seconds * 8000)), 8000))
    return path


@pytest.fixture
def recording(tmp_path: Path) -> Path:
    return speech_file(tmp_path / "r.wav")


async def test_a_submitted_job_is_stored_before_it_runs_and_completed_after(
    recording: Path,
) -> None:
    """While the engine is busy the job is pending in the store; then it holds the transcript."""
    gate = threading.Event()
    store = InMemoryJobStore()
    outcomes: list[JobOutcome] = []

    async def on_done(outcome: JobOutcome) -> None:
        outcomes.append(outcome)

    async with TranscriptionPool(
        FakeAsrEngine(["my bike was stolen"], gate=gate), store, on_done=on_done
    ) as pool:
        try:
            job = TranscriptionJob(recording, context=("theft",), subject="report:A1")
            job_id = await pool.submit(job)
            assert await store.pending() == [PendingJob(job_id, job)]
        finally:
            gate.set()
        await pool.join()
    assert store.transcripts[job_id].text == "my bike was stolen"
    assert await store.pending() == []
    assert [o.id for o in outcomes] == [job_id]
    assert outcomes[0].transcript is not None


async def test_context_reaches_the_engine(recording: Path) -> None:
    engine = FakeAsrEngine(["yes"])
    async with TranscriptionPool(engine, InMemoryJobStore()) as pool:
        await pool.submit(TranscriptionJob(recording, context=("yes", "no")))
        await pool.join()
    assert engine.calls[0].context == ("yes", "no")


async def test_submit_waits_when_the_queue_is_full_and_drops_nothing(recording: Path) -> None:
    """With one worker busy and a queue of one, a third submit waits until there is room."""
    gate = threading.Event()
    store = InMemoryJobStore()
    async with TranscriptionPool(
        FakeAsrEngine(default="x", gate=gate), store, workers=1, queue_size=1
    ) as pool:
        try:
            await pool.submit(TranscriptionJob(recording))
            await asyncio.sleep(0.05)  # the worker takes job 1 and blocks at the gate
            await pool.submit(TranscriptionJob(recording))  # fills the queue
            third = asyncio.create_task(pool.submit(TranscriptionJob(recording)))
            await asyncio.sleep(0.05)
            assert not third.done()
            assert pool.queued == 1
        finally:
            gate.set()
        await third
        await pool.join()
    assert len(store.transcripts) == 3
    assert not store.errors


async def test_jobs_left_pending_by_a_previous_run_are_finished_on_start(
    recording: Path,
) -> None:
    """A restart re-queues what the store still lists as pending."""
    store = InMemoryJobStore()
    left_over = [await store.add(TranscriptionJob(recording, subject=f"r{i}")) for i in range(3)]
    async with TranscriptionPool(FakeAsrEngine(default="done"), store, queue_size=1) as pool:
        await asyncio.sleep(0.05)
        await pool.join()
    assert sorted(store.transcripts) == sorted(left_over)


async def test_stopping_the_pool_leaves_queued_jobs_pending_for_the_next_start(
    recording: Path,
) -> None:
    """Nothing queued is lost at shutdown; a second pool on the same store finishes it."""
    gate = threading.Event()
    store = InMemoryJobStore()
    async with TranscriptionPool(FakeAsrEngine(default="a", gate=gate), store) as pool:
        ids = [await pool.submit(TranscriptionJob(recording)) for _ in range(3)]
        await asyncio.sleep(0.05)
        gate.set()  # let the running one finish so shutdown does not wait on the gate
    finished_first = set(store.transcripts)
    assert {p.id for p in await store.pending()} == set(ids) - finished_first
    async with TranscriptionPool(FakeAsrEngine(default="b"), store) as pool:
        await asyncio.sleep(0.05)
        await pool.join()
    assert set(store.transcripts) == set(ids)


async def test_a_failing_transcription_fails_its_job_and_the_worker_carries_on(
    recording: Path,
) -> None:
    """The engine error is recorded, the audio file is untouched, the next job succeeds."""
    before = await asyncio.to_thread(recording.read_bytes)
    store = InMemoryJobStore()
    engine = FakeAsrEngine([TranscriptionError("decoder exploded"), ValueError("bug"), "fine"])
    async with TranscriptionPool(engine, store, workers=1) as pool:
        ids = [await pool.submit(TranscriptionJob(recording)) for _ in range(3)]
        await pool.join()
    assert store.errors[ids[0]] == "decoder exploded"
    assert store.errors[ids[1]] == "unexpected ValueError: bug"
    assert store.transcripts[ids[2]].text == "fine"
    assert await asyncio.to_thread(recording.read_bytes) == before


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty file"),
        (wav_bytes(Audio(np.ones(8000, dtype=np.int16), 8000))[:2000], "truncated"),
        (b"<html>not audio</html>", "not a WAV file"),
        (wav_bytes(Audio(np.zeros(0, dtype=np.int16), 8000)), "0 s"),
        (None, "cannot read"),
    ],
    ids=["empty", "truncated", "html", "zero-seconds", "missing"],
)
async def test_unusable_audio_fails_the_job_with_a_clear_reason(
    tmp_path: Path, content: bytes | None, message: str
) -> None:
    """Each bad input gives a failed job whose reason names the file and the problem."""
    path = tmp_path / "bad.wav"
    if content is not None:
        path.write_bytes(content)
    store = InMemoryJobStore()
    async with TranscriptionPool(FakeAsrEngine(default="never"), store) as pool:
        job_id = await pool.submit(TranscriptionJob(path))
        await pool.join()
    assert message in store.errors[job_id]
    assert "bad.wav" in store.errors[job_id]


async def test_ten_minutes_of_silence_completes_as_no_speech(tmp_path: Path) -> None:
    """Silence is not an error: the job completes with an empty no_speech transcript."""
    path = tmp_path / "quiet.wav"
    write_wav(path, Audio.silence(600, 8000))
    store = InMemoryJobStore()
    async with TranscriptionPool(FakeAsrEngine(default="ghost words"), store) as pool:
        job_id = await pool.submit(TranscriptionJob(path))
        await pool.join()
    transcript = store.transcripts[job_id]
    assert transcript.no_speech
    assert transcript.duration_s == 600


class FlakyStore(InMemoryJobStore):
    """Refuses the first ``complete`` call, as a database that is briefly away would."""

    def __init__(self) -> None:
        super().__init__()
        self.refusals = 1

    async def complete(self, job_id: JobId, transcript: Transcript) -> None:
        if self.refusals:
            self.refusals -= 1
            raise ConnectionError("database is away")
        await super().complete(job_id, transcript)


async def test_a_store_that_cannot_record_a_result_leaves_the_job_pending(
    recording: Path,
) -> None:
    """The worker survives; the job stays pending (so a restart redoes it); later jobs work."""
    store = FlakyStore()
    async with TranscriptionPool(FakeAsrEngine(default="ok"), store, workers=1) as pool:
        first = await pool.submit(TranscriptionJob(recording))
        second = await pool.submit(TranscriptionJob(recording))
        await pool.join()
    assert [p.id for p in await store.pending()] == [first]
    assert second in store.transcripts


async def test_submit_outside_the_context_is_refused(recording: Path) -> None:
    pool = TranscriptionPool(FakeAsrEngine(), InMemoryJobStore())
    with pytest.raises(RuntimeError, match="async with"):
        await pool.submit(TranscriptionJob(recording))


def test_pool_sizes_must_be_positive() -> None:
    with pytest.raises(ValueError):
        TranscriptionPool(FakeAsrEngine(), InMemoryJobStore(), workers=0)


class LongRecordingsBlock(FakeAsrEngine):
    """Holds anything longer than 5 s until ``hold`` is set; short answers pass straight."""

    def __init__(self, default: str) -> None:
        super().__init__(default=default)
        self.hold = threading.Event()

    def transcribe(self, audio: Audio, *, context: Sequence[str] | None = None) -> Transcript:
        if audio.duration_s > 5:
            self.hold.wait()
        return super().transcribe(audio, context=context)


async def test_transcribe_now_answers_while_every_worker_is_busy(tmp_path: Path) -> None:
    """A menu answer is transcribed at once even when the workers are held by recordings,
    and nothing about it is written to the store."""
    store = InMemoryJobStore()
    long = speech_file(tmp_path / "long.wav", seconds=30)
    engine = LongRecordingsBlock(default="yes")
    async with TranscriptionPool(engine, store, workers=1) as pool:
        try:
            await pool.submit(TranscriptionJob(long))
            await asyncio.sleep(0.05)
            answer = Audio.from_float(0.2 * np.random.default_rng(2).standard_normal(8000), 8000)
            heard = await asyncio.wait_for(pool.transcribe_now(answer, context=["yes"]), 2)
            assert store.transcripts == {}  # the recording is still being held
        finally:
            engine.hold.set()
        await pool.join()
    assert heard.text == "yes"
    assert len(store.jobs) == 1


async def test_transcribe_now_outside_the_context_is_refused() -> None:
    pool = TranscriptionPool(FakeAsrEngine(), InMemoryJobStore())
    with pytest.raises(RuntimeError, match="async with"):
        await pool.transcribe_now(Audio.silence(1, 8000))
