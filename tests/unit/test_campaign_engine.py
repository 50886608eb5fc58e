"""The campaign engine's decisions, on real SQLite and PostgreSQL databases with a scripted
delivery port. (The engine's transactions run on a thread of their own on SQLite, and on the
async driver elsewhere: see Database.run_write.)

The same paths run through Asterisk and rig phones in tests/e2e/test_broadcast.py.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest

from ivr.campaigns.engine import CampaignEngine
from ivr.campaigns.fake_port import FakeDeliveryPort
from ivr.campaigns.policy import CampaignSettings, Priority
from ivr.campaigns.service import CampaignService, ReportRow
from ivr.clock import SystemClock
from ivr.store import campaigns_repo as repo
from ivr.store import members_repo
from ivr.store.database import Database
from ivr.store.models import Attempt, CampaignTarget, Member, TargetState
from tests.daytime import quiet_fields

FAST = CampaignSettings(
    retry_delays_s=(0,), failed_retry_delays_s=(0,), max_attempts=3, failed_max_attempts=2,
    concurrency=3, calls_per_second=100, burst=10, give_up_after_s=60,
)  # fmt: skip


async def _members(db: Database, groups: dict[str, list[str]], **extra: object) -> None:
    async with db.session(write=True) as s:
        ids = {}
        for name in groups:
            ids[name] = (await members_repo.create_group(s, name)).id
        phones = sorted({p for ps in groups.values() for p in ps})
        # callable at any hour unless the test sets quiet hours itself (tests/daytime.py)
        rows = [{"name": f"Member {p[-3:]}", "phone": p, **quiet_fields(), **extra} for p in phones]
        member_ids = await members_repo.insert_members(s, rows)
        await members_repo.add_memberships(
            s, [(member_ids[p], ids[g]) for g, ps in groups.items() for p in ps]
        )


async def _campaign(
    db: Database,
    groups: list[str],
    settings: CampaignSettings = FAST,
    priority: Priority = Priority.NORMAL,
) -> tuple[CampaignService, int]:
    service = CampaignService(db, SystemClock(), data_dir=Path("/nonexistent"), sounds_dir=None)
    async with db.session(write=True) as s:
        bulletin = await repo.create_bulletin(
            s, title="t", audio_path="", created_by="test", now=datetime.now(UTC)
        )
    cid = await service.create(bulletin.id, groups, settings=settings, priority=priority)
    return service, cid


async def _run_until_done(
    engine: CampaignEngine, service: CampaignService, cid: int
) -> dict[str, ReportRow]:
    task = asyncio.create_task(engine.run())
    try:
        async with asyncio.timeout(20):
            while (await service.summary(cid)).state != "completed":
                await asyncio.sleep(0.05)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    return {r.phone: r async for r in service.report_rows(cid)}


P = [f"+4416329601{i:02d}" for i in range(20)]


async def test_every_outcome_is_settled_once_with_retries_where_the_policy_says(
    db: Database,
) -> None:
    await _members(db, {"north": P[:6]})
    port = FakeDeliveryPort({
        P[0]: ["confirm"],
        P[1]: ["busy", "busy", "confirm"],   # retried, confirms on the third attempt
        P[2]: ["opt_out"],
        P[3]: ["no_answer"],                 # retried up to max_attempts, stays no_answer
        P[4]: ["invalid"],                   # never retried
        P[5]: ["unregistered"],              # failed: retried failed_max_attempts times
    })  # fmt: skip
    service, cid = await _campaign(db, ["north"])
    await service.start(cid)
    report = await _run_until_done(CampaignEngine(db, port, SystemClock()), service, cid)
    assert {p: r.outcome for p, r in report.items()} == {
        P[0]: "confirmed", P[1]: "confirmed", P[2]: "opted_out", P[3]: "no_answer",
        P[4]: "invalid_number", P[5]: "failed",
    }  # fmt: skip
    assert [port.attempts_to(p) for p in P[:6]] == [1, 3, 1, 3, 1, 2]
    attempts = await service.attempts(cid, report[P[1]].member_id)
    assert [a.result for a in attempts] == ["busy", "busy", "confirmed"]


async def test_key_9_opts_the_member_out_of_that_group_only(db: Database) -> None:
    await _members(db, {"north": [P[0]], "south": [P[1]]})
    service, cid = await _campaign(db, ["north"])
    await service.start(cid)
    await _run_until_done(
        CampaignEngine(db, FakeDeliveryPort({P[0]: ["opt_out"]}), SystemClock()), service, cid
    )
    async with db.session() as s:
        member = await members_repo.find_member_by_phone(s, P[0])
        assert member is not None and member.status == "active"
        facts = await members_repo.existing_memberships(s, [member.id])
        assert facts  # still in the group, but opted out of it:
    _, again = await _campaign(db, ["north"])
    async with db.session() as s:
        assert (await repo.target_counts(s, again)) == {}  # never called again


async def test_a_member_in_two_chosen_groups_is_called_once(db: Database) -> None:
    await _members(db, {"north": P[:3], "pubs": P[2:5]})
    port = FakeDeliveryPort({})
    service, cid = await _campaign(db, ["north", "pubs"])
    await service.start(cid)
    report = await _run_until_done(CampaignEngine(db, port, SystemClock()), service, cid)
    assert len(report) == 5
    assert sorted(p.number for p in port.calls) == sorted(P[:5])


async def test_opted_out_members_are_never_called(db: Database) -> None:
    await _members(db, {"north": P[:3]})
    async with db.session(write=True) as s:
        member = await members_repo.find_member_by_phone(s, P[1])
        assert member is not None
        await members_repo.set_member_status(s, member.id, "opted_out", datetime.now(UTC))  # type: ignore[arg-type]
    port = FakeDeliveryPort({})
    service, cid = await _campaign(db, ["north"])
    await service.start(cid)
    report = await _run_until_done(CampaignEngine(db, port, SystemClock()), service, cid)
    assert P[1] not in {p.number for p in port.calls}
    assert P[1] not in report


async def test_quiet_hours_now_end_as_outside_window_unless_urgent(db: Database) -> None:
    now_local = datetime.now(UTC).astimezone()
    start = (now_local - timedelta(hours=1)).time().replace(second=0, microsecond=0)
    end = (now_local + timedelta(hours=2)).time().replace(second=0, microsecond=0)
    await _members(
        db,
        {"north": [P[0]]},
        quiet_start=start,
        quiet_end=end,
        timezone=str(now_local.tzinfo) if str(now_local.tzinfo) != "UTC" else "UTC",
    )
    port = FakeDeliveryPort({})
    service, cid = await _campaign(db, ["north"])
    await service.start(cid)
    report = await _run_until_done(CampaignEngine(db, port, SystemClock()), service, cid)
    assert report[P[0]].outcome == "outside_window" and not port.calls
    urgent_service, urgent = await _campaign(db, ["north"], priority=Priority.URGENT)
    await urgent_service.start(urgent)
    report = await _run_until_done(CampaignEngine(db, port, SystemClock()), urgent_service, urgent)
    assert report[P[0]].outcome == "confirmed"
    assert isinstance(start, time)


async def test_calls_in_flight_never_exceed_the_campaign_and_trunk_caps(db: Database) -> None:
    await _members(db, {"north": P})
    port = FakeDeliveryPort({}, call_seconds=0.05)
    service, cid = await _campaign(db, ["north"])  # concurrency=3
    await service.start(cid)
    await _run_until_done(CampaignEngine(db, port, SystemClock(), max_concurrent=2), service, cid)
    assert port.max_in_flight == 2
    assert len(port.calls) == len(P)


async def test_calls_per_second_is_respected(db: Database) -> None:
    await _members(db, {"north": P[:8]})
    port = FakeDeliveryPort({})
    paced = FAST.model_copy(update={"calls_per_second": 10.0, "burst": 1, "concurrency": 8})
    service, cid = await _campaign(db, ["north"], paced)
    await service.start(cid)
    t0 = asyncio.get_running_loop().time()
    await _run_until_done(CampaignEngine(db, port, SystemClock()), service, cid)
    assert asyncio.get_running_loop().time() - t0 >= 0.6  # 8 starts at 10/s, burst 1


async def test_a_crashing_delivery_is_recorded_and_retried_not_lost(db: Database) -> None:
    await _members(db, {"north": [P[0]]})
    port = FakeDeliveryPort({P[0]: ["crash", "confirm"]})
    service, cid = await _campaign(db, ["north"])
    await service.start(cid)
    report = await _run_until_done(CampaignEngine(db, port, SystemClock()), service, cid)
    assert report[P[0]].outcome == "confirmed" and report[P[0]].attempts == 2


async def test_restart_retries_interrupted_attempts_but_never_recalls_the_confirmed(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """A controller died mid-campaign: one member had confirmed (persisted during the call),
    one call was in flight without a result. Only the second is called again, and logged."""
    await _members(db, {"north": P[:2]})
    service, cid = await _campaign(db, ["north"])
    await service.start(cid)
    now = datetime.now(UTC)
    async with db.session(write=True) as s:
        targets = await repo.due_targets(s, cid, now, 10)
        by_member = {t.member_id: t for t in targets}
        members = {m.phone: m.id for m in await s.scalars(repo.select(Member))}
        done = by_member[members[P[0]]]
        await repo.begin_attempt(s, done, channel_id="dead-1", now=now)
        await repo.finish_target(s, done, "confirmed", now=now, cause="pressed 1")  # type: ignore[arg-type]
        done.state = TargetState.DONE
        await repo.begin_attempt(s, by_member[members[P[1]]], channel_id="dead-2", now=now)
    port = FakeDeliveryPort({})
    with caplog.at_level("WARNING"):
        report = await _run_until_done(CampaignEngine(db, port, SystemClock()), service, cid)
    assert [p.number for p in port.calls] == [P[1]]
    assert report[P[0]].outcome == "confirmed" and report[P[0]].attempts == 1
    assert report[P[1]].outcome == "confirmed" and report[P[1]].attempts == 2
    assert "may hear the bulletin twice" in caplog.text
    async with db.session() as s:
        first = await s.scalar(repo.select(Attempt).where(Attempt.channel_id == "dead-2"))
        assert (
            first is not None and first.result == "failed" and "interrupted" in (first.detail or "")
        )
        assert not list(
            await s.scalars(
                repo.select(CampaignTarget).where(CampaignTarget.state == TargetState.DIALLING)
            )
        )


async def test_pause_stops_new_calls_and_cancel_settles_the_rest(db: Database) -> None:
    await _members(db, {"north": P})
    port = FakeDeliveryPort({}, call_seconds=0.2)
    service, cid = await _campaign(db, ["north"], FAST.model_copy(update={"concurrency": 2}))
    engine = CampaignEngine(db, port, SystemClock())
    # as in the controller: state changes made through the service wake the engine at once
    service._on_change = lambda: engine.poke(campaigns_changed=True)
    await service.start(cid)
    task = asyncio.create_task(engine.run())
    try:
        async with asyncio.timeout(10):
            while len(port.calls) < 2:
                await asyncio.sleep(0.01)
        await service.pause(cid)
        await asyncio.sleep(0.6)
        paused_calls = len(port.calls)
        await asyncio.sleep(0.5)
        assert len(port.calls) == paused_calls < len(P)
        await service.cancel(cid)
        async with asyncio.timeout(5):
            while engine.in_flight:
                await asyncio.sleep(0.01)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    counts = (await service.summary(cid)).counts
    assert counts.get("cancelled", 0) == len(P) - paused_calls
    assert sum(counts.values()) == len(P) and "pending" not in counts and "dialling" not in counts
