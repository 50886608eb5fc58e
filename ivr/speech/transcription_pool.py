"""Transcription off the event loop: a durable job list, a bounded queue, worker threads.

    submit(job) ──store.add()──> queue (bounded; submit waits when full, never drops)
                                   │
                   worker task ×N ─┴─> thread pool: read_wav + engine.transcribe
                                   │
                 store.complete(id, transcript) or store.fail(id, reason)

Every job is written to the :class:`TranscriptionJobStore` *before* it is queued, and
finished there afterwards; on start the pool re-queues ``store.pending()``, so a restart
(or a crash) finishes whatever was in flight. Delivery is at least once: a job that was
running when the process stopped runs again.

Why threads and not processes: ctranslate2 (faster-whisper) releases the GIL while it
decodes, so threads run transcriptions in parallel and keep the event loop responsive.
Measured on 2 shared cores, 10 phone-line sentences (36 s): one thread 5.5 s, two threads
sharing one model 3.3 s; the event loop's worst lag meanwhile was 9-14 ms. One shared
model serves every thread (``WhisperOptions.num_workers``), where a process pool would load
a 250 MB model per process and pickle every recording across. Size ``workers`` x
``cpu_threads`` to the cores available.

Menu answers, where a caller is waiting, skip the queue and the store: ``transcribe_now``
runs them on a thread of their own.

A failing transcription marks its job failed with a readable reason and leaves the audio
file alone; the worker carries on. Unusable audio (empty, truncated, not WAV) fails the job
with the AudioFormatError text; silence completes it with a ``no_speech`` transcript.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Protocol

from ivr.errors import SpeechError
from ivr.speech.asr.base import AsrEngine, Transcript
from ivr.speech.audio import Audio, read_wav

log = logging.getLogger(__name__)

#: Opaque to the pool; the store chooses it (a database row id as text, a UUID...).
JobId = str


@dataclass(frozen=True)
class TranscriptionJob:
    """A recording to transcribe. ``subject`` ties the result to its owner (``report:WL-7K2F``)."""

    audio_path: Path
    context: tuple[str, ...] = ()
    subject: str = ""


@dataclass(frozen=True)
class PendingJob:
    id: JobId
    job: TranscriptionJob


@dataclass(frozen=True)
class JobOutcome:
    """What became of a job: exactly one of ``transcript`` and ``error`` is set."""

    id: JobId
    job: TranscriptionJob
    transcript: Transcript | None = None
    error: str | None = None


class TranscriptionJobStore(Protocol):
    """Where jobs live between submit and result. The database implementation is the real one."""

    async def add(self, job: TranscriptionJob) -> JobId: ...

    async def pending(self) -> list[PendingJob]: ...

    async def complete(self, job_id: JobId, transcript: Transcript) -> None: ...

    async def fail(self, job_id: JobId, error: str) -> None: ...


class InMemoryJobStore:
    """A :class:`TranscriptionJobStore` in a dict: for tests, and to simulate a restart by
    handing the same store to a second pool."""

    def __init__(self) -> None:
        self.jobs: dict[JobId, TranscriptionJob] = {}
        self.transcripts: dict[JobId, Transcript] = {}
        self.errors: dict[JobId, str] = {}
        self._ids = itertools.count(1)

    async def add(self, job: TranscriptionJob) -> JobId:
        job_id = str(next(self._ids))
        self.jobs[job_id] = job
        return job_id

    async def pending(self) -> list[PendingJob]:
        done = self.transcripts.keys() | self.errors.keys()
        return [PendingJob(i, j) for i, j in self.jobs.items() if i not in done]

    async def complete(self, job_id: JobId, transcript: Transcript) -> None:
        self.transcripts[job_id] = transcript

    async def fail(self, job_id: JobId, error: str) -> None:
        self.errors[job_id] = error


OnDone = Callable[[JobOutcome], Awaitable[None]]


class TranscriptionPool:
    """Use as ``async with TranscriptionPool(engine, store) as pool: await pool.submit(job)``.

    Leaving the block stops the workers; queued jobs stay pending in the store, and a
    transcription already running in a thread is allowed to finish (its result is dropped
    and redone at the next start, which is cheaper than a half-written one).
    """

    def __init__(
        self,
        engine: AsrEngine,
        store: TranscriptionJobStore,
        *,
        workers: int = 1,
        queue_size: int = 16,
        on_done: OnDone | None = None,
    ) -> None:
        if workers < 1 or queue_size < 1:
            raise ValueError("workers and queue_size must be at least 1")
        self._engine = engine
        self._store = store
        self._workers = workers
        self._queue: asyncio.Queue[PendingJob] = asyncio.Queue(maxsize=queue_size)
        self._on_done = on_done
        self._executor: ThreadPoolExecutor | None = None
        self._interactive: ThreadPoolExecutor | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> TranscriptionPool:
        self._executor = ThreadPoolExecutor(self._workers, thread_name_prefix="transcribe")
        self._interactive = ThreadPoolExecutor(1, thread_name_prefix="transcribe-now")
        pending = await self._store.pending()
        if pending:
            log.info("re-queueing %d unfinished transcription job(s)", len(pending))
        self._tasks = [
            asyncio.create_task(self._work(), name=f"transcribe-{i}") for i in range(self._workers)
        ]
        # Re-queueing may block on a full queue, so it runs beside the workers, not before.
        self._tasks.append(asyncio.create_task(self._requeue(pending), name="transcribe-requeue"))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        for executor in (self._executor, self._interactive):
            if executor is not None:
                await asyncio.to_thread(executor.shutdown, wait=True, cancel_futures=True)
        self._executor = self._interactive = None

    async def submit(self, job: TranscriptionJob) -> JobId:
        """Persist the job, then queue it, waiting while the queue is full. Returns its id.

        If the caller is cancelled while waiting, the job is already stored and will be
        picked up at the next start.
        """
        if self._executor is None:
            raise RuntimeError("TranscriptionPool.submit() outside 'async with'")
        job_id = await self._store.add(job)
        await self._queue.put(PendingJob(job_id, job))
        return job_id

    async def transcribe_now(
        self, audio: Audio, *, context: Sequence[str] | None = None
    ) -> Transcript:
        """Transcribe a short answer (a menu choice) at once, not persisted, not queued.

        It runs on its own thread so a caller waiting on the line never queues behind
        recordings; give Whisper ``num_workers = workers + 1`` so it can decode in parallel.
        Raises the engine's SpeechError.
        """
        if self._interactive is None:
            raise RuntimeError("TranscriptionPool.transcribe_now() outside 'async with'")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._interactive, functools.partial(self._engine.transcribe, audio, context=context)
        )

    async def join(self) -> None:
        """Wait until every queued job has been processed."""
        await self._queue.join()

    @property
    def queued(self) -> int:
        return self._queue.qsize()

    async def _requeue(self, pending: list[PendingJob]) -> None:
        for item in pending:
            await self._queue.put(item)

    async def _work(self) -> None:
        while True:
            item = await self._queue.get()
            try:
                await self._process(item)
            finally:
                self._queue.task_done()

    async def _process(self, item: PendingJob) -> None:
        loop = asyncio.get_running_loop()
        assert self._executor is not None
        try:
            transcript = await loop.run_in_executor(self._executor, self._transcribe, item.job)
            outcome = JobOutcome(item.id, item.job, transcript=transcript)
        except SpeechError as e:
            outcome = JobOutcome(item.id, item.job, error=str(e))
        except Exception as e:  # an engine bug must fail one job, not the worker
            log.exception("transcription job %s crashed", item.id)
            outcome = JobOutcome(item.id, item.job, error=f"unexpected {type(e).__name__}: {e}")
        await self._record(outcome)

    def _transcribe(self, job: TranscriptionJob) -> Transcript:
        audio = read_wav(job.audio_path)
        return self._engine.transcribe(audio, context=job.context or None)

    async def _record(self, outcome: JobOutcome) -> None:
        try:
            if outcome.transcript is not None:
                await self._store.complete(outcome.id, outcome.transcript)
            else:
                await self._store.fail(outcome.id, outcome.error or "unknown error")
        except Exception:
            # The job stays pending in the store and is redone at the next start.
            log.exception("could not record the outcome of transcription job %s", outcome.id)
            return
        if self._on_done is not None:
            try:
                await self._on_done(outcome)
            except Exception:
                log.exception("on_done callback failed for transcription job %s", outcome.id)
