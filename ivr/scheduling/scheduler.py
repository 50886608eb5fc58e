"""A thin adapter over APScheduler 3: call back at a wall-clock time, across restarts.

    async with JobScheduler(store_url, clock, on_due) as scheduler:
        scheduler.schedule("bulletin-send-7", at)      # at: aware, in ``clock`` time
        ...                                            # on_due("bulletin-send-7") at that time

Why this shape:

- **Persistent.** Jobs live in APScheduler's SQLAlchemy job store, so a job scheduled before
  a restart fires after it (and fires at once if its time passed while we were down:
  ``misfire_grace_time=None``; a late bulletin beats a lost one, and the campaign engine
  still keeps members' quiet hours).
- **No global state.** APScheduler 3 persists a job as a textual reference to a
  module-level function plus pickled arguments, so that function could only reach the
  running controller through a module-level registry. Instead the stored job is a marker
  (:func:`job_marker`, which does nothing) and this adapter, which is alive, acts on the
  scheduler's "job submitted" event for it: ``on_due(job_id)`` runs in a task the adapter
  owns.
- **Controllable clock.** APScheduler reads the system clock. Times given here are in the
  injected :class:`~ivr.clock.Clock`'s time and are translated by its offset from the system
  clock, so a :class:`~ivr.clock.ShiftedClock` moves "now" for our code and the scheduler
  alike (tests freeze a preset time a few seconds ahead, then restart before it).
- **The caller's record is the truth.** A job removed from the store as it fires is lost
  if the process dies in that instant, and a clock shifted between runs would leave stored
  system times stale. So callers keep their own record of what is due and what has run
  (``bulletin_sends``), schedule every pending item again at start-up (``schedule``
  replaces a job of the same id; see ``BulletinLineService.reconcile``), and make
  ``on_due`` idempotent.

The store is a SQLite file of its own beside the main database (``job_store_url``):
APScheduler's store is synchronous and runs on the event loop, so sharing the main file
could make it wait on a write lock held by one of our own async transactions, which cannot
finish while the loop is blocked. With PostgreSQL the table sits in the main database and
needs the psycopg driver (``pip install psycopg``), which is not a default dependency.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

from apscheduler.events import EVENT_JOB_SUBMITTED
from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from sqlalchemy.engine import make_url

from ivr.clock import Clock
from ivr.errors import ConfigError

log = logging.getLogger(__name__)

OnDue = Callable[[str], Awaitable[None]]
#: SQLite waits this long for a lock before failing (only this process uses the file).
_SQLITE_TIMEOUT_S = 5


async def job_marker() -> None:
    """What APScheduler stores and runs for every job; the work happens in ``on_due``."""


def job_store_url(database_url: str) -> str:
    """A synchronous SQLAlchemy URL for the job store, derived from the async database URL.

    SQLite: a file of its own beside the database (``watchline-scheduler.db``). PostgreSQL:
    the same database through psycopg (install it to schedule sends on PostgreSQL).
    """
    url = make_url(database_url)
    backend = url.get_backend_name()
    if backend == "sqlite":
        database = url.database or ""
        if database in ("", ":memory:") or database.startswith("file:"):
            return "sqlite://"
        path = Path(database)
        store = path.with_name(f"{path.stem}-scheduler{path.suffix or '.db'}")
        return f"sqlite:///{store}"
    if backend == "postgresql":
        return url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    raise ConfigError(f"scheduled sends need SQLite or PostgreSQL, not {backend}")


class JobScheduler:
    def __init__(self, store_url: str, clock: Clock, on_due: OnDue) -> None:
        self._store_url = store_url
        self._clock = clock
        self._on_due = on_due
        self._scheduler: Any = None
        self._running: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> JobScheduler:
        options: dict[str, Any] = {}
        if self._store_url.startswith("sqlite"):
            options["connect_args"] = {"timeout": _SQLITE_TIMEOUT_S}
        try:
            store = SQLAlchemyJobStore(url=self._store_url, engine_options=options)
        except ImportError as e:  # the sync driver for PostgreSQL is optional
            raise ConfigError(f"the job store needs a database driver: {e}") from e
        scheduler = AsyncIOScheduler(
            timezone=UTC,
            jobstores={"default": store},
            job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
        )
        scheduler.add_listener(self._submitted, EVENT_JOB_SUBMITTED)
        scheduler.start()  # creates the table if needed; due jobs fire on the next loop turn
        self._scheduler = scheduler
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        scheduler, self._scheduler = self._scheduler, None
        if scheduler is not None and scheduler.running:
            scheduler.shutdown(wait=False)
            await asyncio.sleep(0)  # AsyncIOScheduler shuts down on the next loop turn
        for task in list(self._running):
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*self._running, return_exceptions=True)

    # ---- clock ----------------------------------------------------------------------------

    def _offset(self) -> timedelta:
        return self._clock.now() - datetime.now(UTC)

    def _to_system(self, at: datetime) -> datetime:
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError(f"naive datetime {at!r}: pass an aware time")
        system: datetime = (at - self._offset()).astimezone(UTC)
        return system

    # ---- jobs -----------------------------------------------------------------------------

    def _live(self) -> Any:
        if self._scheduler is None:
            raise RuntimeError("JobScheduler used outside 'async with'")
        return self._scheduler

    def schedule(self, job_id: str, at: datetime) -> None:
        """Call ``on_due(job_id)`` at ``at`` (clock time); replaces a job of the same id."""
        self._live().add_job(
            job_marker, trigger=DateTrigger(run_date=self._to_system(at)), id=job_id,
            name=job_id, replace_existing=True,
        )  # fmt: skip
        log.info("scheduled %s for %s", job_id, at.isoformat())

    def cancel(self, job_id: str) -> bool:
        """Forget a job; False if there was none."""
        try:
            self._live().remove_job(job_id)
        except JobLookupError:
            return False
        return True

    def job_ids(self) -> set[str]:
        return {job.id for job in self._live().get_jobs()}

    def when(self, job_id: str) -> datetime | None:
        """When a job will fire, in clock time; None if there is no such job."""
        job = self._live().get_job(job_id)
        if job is None or job.next_run_time is None:
            return None
        fire: datetime = job.next_run_time
        ours: datetime = (fire + self._offset()).astimezone(UTC)
        return ours

    def _submitted(self, event: Any) -> None:
        # Called by APScheduler on the event loop thread, inside its own processing: start a
        # task rather than awaiting anything here.
        job_id = str(event.job_id)
        task = asyncio.get_running_loop().create_task(self._run(job_id), name=f"due-{job_id}")
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _run(self, job_id: str) -> None:
        try:
            await self._on_due(job_id)
        except Exception:  # one failing job must not stop the others (reconciled at start)
            log.exception("scheduled job %s failed", job_id)
