"""The APScheduler adapter: jobs survive a restart, fire once at their time in the injected
clock's time, fire at start-up if their time passed while down, and can be cancelled."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ivr.clock import ShiftedClock
from ivr.errors import ConfigError
from ivr.scheduling.presets import this_evening_at
from ivr.scheduling.scheduler import JobScheduler, job_store_url


def clock_at(local: str) -> ShiftedClock:
    """A clock whose London time is now ``local`` (HH:MM:SS) today."""
    zone = ZoneInfo("Europe/London")
    today = datetime.now(zone).date()
    wanted = datetime.combine(today, datetime.strptime(local, "%H:%M:%S").time(), tzinfo=zone)
    return ShiftedClock((wanted - datetime.now(UTC)).total_seconds())


class Fired:
    def __init__(self) -> None:
        self.jobs: list[tuple[str, float]] = []
        self.event = asyncio.Event()

    async def __call__(self, job_id: str) -> None:
        self.jobs.append((job_id, time.monotonic()))
        self.event.set()


async def test_a_job_scheduled_before_a_restart_fires_once_at_its_time_after_it(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    clock = clock_at("18:59:58")
    evening = this_evening_at(clock.now())
    assert evening is not None and 1.5 < (evening - clock.now()).total_seconds() <= 2.0
    fired = Fired()
    async with JobScheduler(url, clock, fired) as first:
        first.schedule("send-1", evening)
        when = first.when("send-1")
        assert when is not None and abs((when - evening).total_seconds()) < 0.01
    started = time.monotonic()
    assert fired.jobs == []  # stopped before its time
    async with JobScheduler(url, clock, fired) as second:
        assert second.job_ids() == {"send-1"}
        async with asyncio.timeout(5):
            await fired.event.wait()
        await asyncio.sleep(0.5)  # a second firing would land here
        assert second.job_ids() == set()
    assert [j for j, _ in fired.jobs] == ["send-1"]
    assert 1.0 < fired.jobs[0][1] - started < 2.5  # at 19:00 by the clock, not at restart


async def test_a_job_whose_time_passed_while_stopped_fires_at_start(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    clock = ShiftedClock(0)
    fired = Fired()
    async with JobScheduler(url, clock, fired) as first:
        first.schedule("late", clock.now() + timedelta(seconds=0.3))
    await asyncio.sleep(0.6)  # down while it was due
    assert fired.jobs == []
    async with JobScheduler(url, clock, fired):
        async with asyncio.timeout(5):
            await fired.event.wait()
    assert [j for j, _ in fired.jobs] == ["late"]


async def test_a_cancelled_job_never_fires_and_rescheduling_replaces_a_job(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    clock = ShiftedClock(0)
    fired = Fired()
    async with JobScheduler(url, clock, fired) as scheduler:
        scheduler.schedule("a", clock.now() + timedelta(seconds=0.5))
        scheduler.schedule("b", clock.now() + timedelta(hours=1))
        scheduler.schedule("b", clock.now() + timedelta(seconds=0.3))  # replaces it
        assert scheduler.cancel("a") and not scheduler.cancel("missing")
        async with asyncio.timeout(5):
            await fired.event.wait()
        await asyncio.sleep(0.5)
    assert [j for j, _ in fired.jobs] == ["b"]


async def test_a_failing_callback_is_logged_and_the_scheduler_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    clock = ShiftedClock(0)
    fired = Fired()

    async def on_due(job_id: str) -> None:
        await fired(job_id)
        if job_id == "bad":
            raise RuntimeError("boom")

    async with JobScheduler(url, clock, on_due) as scheduler:
        scheduler.schedule("bad", clock.now())
        scheduler.schedule("good", clock.now() + timedelta(seconds=0.3))
        async with asyncio.timeout(5):
            while len(fired.jobs) < 2:
                await asyncio.sleep(0.05)
    assert [j for j, _ in fired.jobs] == ["bad", "good"]
    assert "scheduled job bad failed" in caplog.text


def test_the_job_store_is_a_sqlite_file_of_its_own_or_postgresql_through_psycopg() -> None:
    assert job_store_url("sqlite+aiosqlite:////var/lib/w/watchline.db") == (
        "sqlite:////var/lib/w/watchline-scheduler.db"
    )
    assert job_store_url("sqlite+aiosqlite:///:memory:") == "sqlite://"
    assert job_store_url("postgresql+asyncpg://u:p@db/watchline") == (
        "postgresql+psycopg://u:p@db/watchline"
    )
    with pytest.raises(ConfigError):
        job_store_url("mysql+aiomysql://u:p@db/watchline")


async def test_a_naive_time_is_refused(tmp_path: Path) -> None:
    async with JobScheduler(f"sqlite:///{tmp_path / 'j.db'}", ShiftedClock(0), Fired()) as s:
        with pytest.raises(ValueError, match="naive"):
            s.schedule("x", datetime(2030, 1, 1, 12, 0))
