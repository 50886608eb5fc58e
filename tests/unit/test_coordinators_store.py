"""The bulletin line's storage on SQLite and PostgreSQL: lockouts survive a restart, bad
changes write nothing, scheduled sends start once, transcripts respect approval."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from ivr.auth.limiter import FailureLimiter
from ivr.bulletin_line import publish
from ivr.bulletin_line.admin import Actor, CoordinatorAdmin
from ivr.bulletin_line.lockout import LockoutPolicy
from ivr.bulletin_line.signin import SignIn
from ivr.bulletin_line.testing import FixedClock, add_members, speech_like
from ivr.bulletin_line.transcripts import BulletinTranscriptStore
from ivr.bulletins import media
from ivr.errors import ConflictError, GroupNotFound
from ivr.flows.bulletin_ports import CoordinatorRef, PinCheck
from ivr.speech.asr.base import Segment, Transcript
from ivr.store import campaigns_repo
from ivr.store.database import Database
from ivr.store.models import Bulletin, CampaignState, CampaignTarget
from ivr.store.models.coordinators import BulletinSend, Coordinator, CoordinatorEvent

NOW = datetime(2025, 1, 15, 15, 0, tzinfo=UTC)
ACTOR = Actor("cli", "test")


def sign_in(db: Database, clock: FixedClock) -> SignIn:
    """A fresh SignIn, as after a restart: nothing is remembered in memory."""
    limiter = FailureLimiter(max_failures=100, window_s=60)
    return SignIn(db, clock, policy=LockoutPolicy(), line_limiter=limiter)


async def test_a_lockout_survives_a_restart_and_ends_on_time(db: Database) -> None:
    clock = FixedClock(NOW)
    admin = CoordinatorAdmin(db, clock)
    made = await admin.add(name="Ann", phone="+441632960100", pin="2468", groups=[], actor=ACTOR)
    who = CoordinatorRef(made["id"], "Ann")
    first = sign_in(db, clock)
    assert await first.check_pin(who, "1357", "+441632960100") is PinCheck.WRONG
    assert await first.check_pin(who, "1358", "+441632960100") is PinCheck.WRONG
    restarted = sign_in(db, clock)
    assert await restarted.check_pin(who, "1359", "+441632960100") is PinCheck.LOCKED
    again = sign_in(db, clock)
    assert await again.refuse_if_locked(who, "+441632960100")
    assert await again.check_pin(who, "2468", None) is PinCheck.LOCKED  # not even checked
    clock.advance(15 * 60)
    assert not await again.refuse_if_locked(who, "+441632960100")
    assert await again.check_pin(who, "2468", "+441632960100") is PinCheck.RIGHT
    shown = await admin.show(who.id)
    assert (shown["failed_pins"], shown["lockouts"], shown["locked"]) == (0, 0, False)


async def test_a_second_coordinator_with_the_same_phone_is_refused_and_nothing_written(
    db: Database,
) -> None:
    admin = CoordinatorAdmin(db, FixedClock(NOW))
    await add_members(db, "riverside", [])
    await admin.add(name="Ann", phone="01632 960100", pin="2468", groups=["riverside"],
                    actor=ACTOR)  # fmt: skip
    with pytest.raises(ConflictError):
        await admin.add(name="Bob", phone="+441632960100", pin="2468", groups=[], actor=ACTOR)
    with pytest.raises(GroupNotFound):
        await admin.add(name="Cat", phone="+441632960101", pin="2468", groups=["nowhere"],
                        actor=ACTOR)  # fmt: skip
    async with db.session() as s:
        assert [c.name for c in await s.scalars(select(Coordinator))] == ["Ann"]
        assert len(list(await s.scalars(select(CoordinatorEvent)))) == 1


async def test_replacing_groups_with_an_unknown_one_keeps_the_old_ones(db: Database) -> None:
    admin = CoordinatorAdmin(db, FixedClock(NOW))
    await add_members(db, "riverside", [])
    made = await admin.add(name="Ann", phone="+441632960100", pin="2468",
                           groups=["riverside"], actor=ACTOR)  # fmt: skip
    with pytest.raises(GroupNotFound):
        await admin.set_groups(made["id"], ["riverside", "nowhere"], actor=ACTOR)
    assert (await admin.show(made["id"]))["groups"] == ["riverside"]


async def _scheduled(db: Database, tmp_path: Path) -> int:
    await add_members(db, "riverside", ["+441632960201", "+441632960202"])
    spec = publish.NewBulletin(title="t", created_by="test", urgent=False)
    async with db.session(write=True) as s:
        bulletin = await publish.create_bulletin(s, media.prepare(speech_like()), spec,
                                                 data_dir=tmp_path, now=NOW)  # fmt: skip
        send = publish.NewSend(["riverside"], False, NOW + timedelta(hours=4), "this_evening",
                               None, "api", "test")  # fmt: skip
        row = await publish.create_send(s, bulletin.id, send, now=NOW)
    return row.id


async def test_a_scheduled_send_starts_its_campaign_exactly_once(
    db: Database, tmp_path: Path
) -> None:
    send_id = await _scheduled(db, tmp_path)
    later = NOW + timedelta(hours=4)
    results = [await publish.start_scheduled_send(db, send_id, now=later) for _ in range(3)]
    assert [r.value for r in results] == ["started", "already", "already"]
    assert (await publish.start_scheduled_send(db, 999, now=later)).value == "missing"
    async with db.session() as s:
        (row,) = await s.scalars(select(BulletinSend))
        campaign = await campaigns_repo.get_campaign(s, row.campaign_id)
        targets = list(await s.scalars(select(CampaignTarget)))
    assert row.state.value == "started" and row.started_at == later
    assert campaign.state is CampaignState.RUNNING and campaign.started_at == later
    assert len(targets) == 2


async def test_a_send_whose_campaign_was_cancelled_meanwhile_does_not_start_it(
    db: Database, tmp_path: Path
) -> None:
    send_id = await _scheduled(db, tmp_path)
    async with db.session(write=True) as s:
        row = await s.get(BulletinSend, send_id)
        assert row is not None
        campaign = await campaigns_repo.get_campaign(s, row.campaign_id)
        campaign.state = CampaignState.CANCELLED
    result = await publish.start_scheduled_send(db, send_id, now=NOW + timedelta(hours=4))
    assert result.value == "cancelled"
    async with db.session() as s:
        row = await s.get(BulletinSend, send_id)
        assert row is not None and row.state.value == "cancelled"
        assert (await campaigns_repo.get_campaign(s, row.campaign_id)).state.value == "cancelled"


def _said(text: str) -> Transcript:
    return Transcript.from_segments([Segment(text, 0, 1, 0.8)], engine="fake", duration_s=1)


async def test_a_transcript_never_overwrites_an_approved_one_and_finishes_once(
    db: Database, tmp_path: Path
) -> None:
    clock = FixedClock(NOW)
    store = BulletinTranscriptStore(db, clock)
    spec = publish.NewBulletin(title="t", created_by="test", urgent=False)
    async with db.session(write=True) as s:
        first = await publish.create_bulletin(s, media.prepare(speech_like()), spec,
                                              data_dir=tmp_path, now=NOW)  # fmt: skip
        second = await publish.create_bulletin(s, media.prepare(speech_like(seed=2)), spec,
                                               data_dir=tmp_path, now=NOW)  # fmt: skip
    jobs = {p.job.subject: p.id for p in await store.pending()}
    assert set(jobs) == {f"bulletin:{first.id}", f"bulletin:{second.id}"}
    assert await store.add(store.job(first)) == jobs[f"bulletin:{first.id}"]  # no duplicate
    async with db.session(write=True) as s:
        approved = await s.get(Bulletin, second.id)
        assert approved is not None
        approved.transcript, approved.transcript_approved = "Typed by Ann.", True
    await store.complete(jobs[f"bulletin:{first.id}"], _said("lock your sheds"))
    await store.complete(jobs[f"bulletin:{first.id}"], _said("something else"))  # a rerun
    await store.complete(jobs[f"bulletin:{second.id}"], _said("heard differently"))
    async with db.session() as s:
        one, two = await s.get(Bulletin, first.id), await s.get(Bulletin, second.id)
    assert one is not None and one.transcript == "lock your sheds"
    assert two is not None and two.transcript == "Typed by Ann."
    assert await store.pending() == []


async def test_a_send_that_fails_leaves_neither_rows_nor_an_audio_file(
    db: Database, tmp_path: Path
) -> None:
    spec = publish.NewBulletin(title="t", created_by="test", urgent=False)
    send = publish.NewSend(["nowhere"], False, None, None, None, "api", "test")
    with pytest.raises(GroupNotFound):
        await publish.publish(db, media.prepare(speech_like()), spec, send, data_dir=tmp_path,
                              now=NOW)  # fmt: skip
    async with db.session() as s:
        assert list(await s.scalars(select(Bulletin))) == []
    assert list((tmp_path / "bulletins").glob("*")) == []
