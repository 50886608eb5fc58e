"""The members' replay line without Asterisk: scripted calls against the real component,
desk and database (SQLite). The same dialogue runs on a real call in the e2e test."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from ivr.bulletin_line import publish
from ivr.bulletin_line.component import BulletinLineComponent
from ivr.bulletin_line.testing import FixedClock, LineHost, RecordingCall, add_members, speech_like
from ivr.bulletins import media
from ivr.campaigns.outcomes import Outcome
from ivr.campaigns.service import CampaignService
from ivr.config import Settings
from ivr.speech.asr.fake import FakeAsrEngine
from ivr.store import members_repo
from ivr.store.database import Database
from ivr.store.models import CampaignTarget, Membership, TargetState
from ivr.store.models.coordinators import ReplayConfirmation
from ivr.store.testing import backend_url, open_test_database
from ivr.telephony.call import CallEnded

NOW = datetime(2025, 1, 15, 15, 0, tzinfo=UTC)
ANN, BOB, CAT = "+441632960301", "+441632960302", "+441632960303"


@dataclass
class Replay:
    db: Database
    clock: FixedClock
    component: BulletinLineComponent
    data: Path

    async def call(self, **kw: Any) -> RecordingCall:
        call = RecordingCall(**kw)
        with contextlib.suppress(CallEnded):
            await self.component.dialogues()["replay"](call, ())  # type: ignore[arg-type]
        return call

    async def broadcast(self, groups: list[str], *, seed: int) -> tuple[int, int]:
        """A bulletin sent now to ``groups``: (bulletin id, campaign id)."""
        prepared = media.prepare(speech_like(seed=seed))
        spec = publish.NewBulletin(title=f"bulletin {seed}", created_by="test", urgent=False)
        async with self.db.session(write=True) as s:
            bulletin = await publish.create_bulletin(s, prepared, spec, data_dir=self.data,
                                                     now=self.clock.now())  # fmt: skip
            send = publish.NewSend(groups, False, None, None, None, "api", "test")
            row = await publish.create_send(s, bulletin.id, send, now=self.clock.now())
        return bulletin.id, row.campaign_id

    async def target(self, campaign_id: int, phone: str) -> CampaignTarget:
        async with self.db.session() as s:
            member = await members_repo.find_member_by_phone(s, phone)
            assert member is not None
            found = await s.scalar(select(CampaignTarget).where(
                CampaignTarget.campaign_id == campaign_id,
                CampaignTarget.member_id == member.id))  # fmt: skip
        assert found is not None
        return found

    async def settle(self, campaign_id: int, phone: str, **values: Any) -> None:
        target = await self.target(campaign_id, phone)
        async with self.db.session(write=True) as s:
            row = await s.get(CampaignTarget, target.id)
            assert row is not None
            for key, value in values.items():
                setattr(row, key, value)


@pytest.fixture
async def replay(tmp_path: Path) -> AsyncIterator[Replay]:
    url = backend_url("sqlite", tmp_path)
    assert url is not None
    clock = FixedClock(NOW)
    settings = Settings(data_dir=tmp_path / "var", database_url=url)
    async with open_test_database(url) as db:
        host = LineHost(settings, db, clock, sounds_dir=tmp_path / "sounds")
        async with host.serve(FakeAsrEngine(), None, web_api=False) as component:
            await add_members(db, "riverside", [ANN, BOB])
            await add_members(db, "kings-arms", [CAT])
            yield Replay(db, clock, component, tmp_path / "var")


async def test_a_member_who_was_busy_hears_the_bulletin_presses_1_and_is_confirmed(
    replay: Replay,
) -> None:
    """Busy during the campaign (a retry pending), rings in, hears it, presses 1: the
    delivery report says confirmed, on the replay line, and no retry is made."""
    bulletin_id, campaign_id = await replay.broadcast(["riverside"], seed=1)
    await replay.settle(campaign_id, ANN, state=TargetState.PENDING, attempts=1,
                        last_cause="busy (cause 17)",
                        next_attempt_at=NOW + timedelta(minutes=5))  # fmt: skip
    call = await replay.call(caller=ANN, presses={"replay_bulletin_menu": ["1"]})
    assert call.prompts() == [
        "replay_welcome", str(bulletin_id), "replay_bulletin_menu", "replay_confirmed",
        "replay_end",
    ]  # fmt: skip
    report = CampaignService(replay.db, replay.clock, data_dir=replay.data, sounds_dir=None)
    rows = {r.phone: r async for r in report.report_rows(campaign_id)}
    assert rows[ANN].outcome == "confirmed" and rows[ANN].state == "done"
    assert rows[ANN].last_cause == "confirmed on the replay line"
    assert rows[BOB].outcome is None  # someone else's delivery is untouched
    async with replay.db.session() as s:
        (confirmation,) = await s.scalars(select(ReplayConfirmation))
    assert (confirmation.matched_by, confirmation.targets_confirmed) == ("caller_id", 1)
    assert confirmation.caller_number == ANN


async def test_a_withheld_caller_enters_their_number_the_way_they_know_it(
    replay: Replay,
) -> None:
    await replay.broadcast(["riverside"], seed=1)
    call = await replay.call(caller=None, presses={
        "replay_enter_number": ["01632960302#"], "replay_bulletin_menu": ["1"]})  # fmt: skip
    assert call.prompts()[:2] == ["replay_welcome", "replay_enter_number"]
    assert call.prompts()[-2:] == ["replay_confirmed", "replay_end"]
    async with replay.db.session() as s:
        (confirmation,) = await s.scalars(select(ReplayConfirmation))
    assert confirmation.matched_by == "keyed" and confirmation.caller_number is None


async def test_an_unknown_number_is_asked_once_more_then_the_call_ends(replay: Replay) -> None:
    call = await replay.call(
        caller="+441632960999", presses={"replay_enter_number": ["0123#", "01632960998#"]}
    )
    assert call.prompts() == [
        "replay_welcome", "replay_enter_number", "replay_number_unknown",
        "replay_enter_number", "replay_number_unknown", "common_goodbye",
    ]  # fmt: skip


async def test_newest_first_with_positions_two_repeats_and_three_skips(replay: Replay) -> None:
    older, _ = await replay.broadcast(["riverside"], seed=1)
    replay.clock.advance(3600)
    newer, _ = await replay.broadcast(["riverside", "kings-arms"], seed=2)
    call = await replay.call(caller=BOB, presses={"replay_bulletin_menu": ["2", "3", "3"]})
    assert call.prompts() == [
        "replay_welcome",
        "replay_bulletin", "number_1", "replay_out_of", "number_2", str(newer),
        "replay_bulletin_menu", str(newer), "replay_bulletin_menu",
        "replay_bulletin", "number_2", "replay_out_of", "number_2", str(older),
        "replay_bulletin_menu", "replay_end",
    ]  # fmt: skip
    async with replay.db.session() as s:
        assert list(await s.scalars(select(ReplayConfirmation))) == []


async def test_only_bulletins_sent_to_the_members_groups_lately_are_offered(
    replay: Replay,
) -> None:
    await replay.broadcast(["riverside"], seed=1)
    replay.clock.advance(15 * 24 * 3600)  # 15 days later: past replay_days
    assert (await replay.call(caller=ANN)).prompts() == ["replay_welcome", "replay_no_bulletins"]
    bulletin_id, _ = await replay.broadcast(["kings-arms"], seed=2)
    assert (await replay.call(caller=ANN)).prompts()[-1] == "replay_no_bulletins"
    call = await replay.call(caller=CAT, presses={"replay_bulletin_menu": ["3"]})
    assert str(bulletin_id) in call.prompts()


async def test_a_member_who_joined_after_the_send_can_hear_it_and_confirms_nothing(
    replay: Replay,
) -> None:
    bulletin_id, _ = await replay.broadcast(["riverside"], seed=1)
    await add_members(replay.db, "riverside", ["+441632960304"], create_group=False)
    call = await replay.call(caller="+441632960304", presses={"replay_bulletin_menu": ["1"]})
    assert str(bulletin_id) in call.prompts() and "replay_confirmed" in call.prompts()
    async with replay.db.session() as s:
        (confirmation,) = await s.scalars(select(ReplayConfirmation))
    assert confirmation.targets_confirmed == 0


async def test_opt_outs_stay_opt_outs_and_opted_out_groups_are_not_offered(
    replay: Replay,
) -> None:
    _, campaign_id = await replay.broadcast(["riverside"], seed=1)
    await replay.settle(campaign_id, ANN, state=TargetState.DONE, outcome=Outcome.OPTED_OUT)
    await replay.call(caller=ANN, presses={"replay_bulletin_menu": ["1"]})
    assert (await replay.target(campaign_id, ANN)).outcome is Outcome.OPTED_OUT
    async with replay.db.session(write=True) as s:
        member = await members_repo.find_member_by_phone(s, BOB)
        assert member is not None
        for m in await s.scalars(select(Membership).where(Membership.member_id == member.id)):
            m.opted_out = True
    # Bob still has his delivery in that campaign, so it is still his to hear
    assert "replay_bulletin_menu" in (await replay.call(caller=BOB)).prompts()
    bulletin_id, _ = await replay.broadcast(["riverside"], seed=3)  # after he opted out
    heard = (await replay.call(caller=BOB, presses={"replay_bulletin_menu": ["3"]})).prompts()
    assert str(bulletin_id) not in heard


async def test_silence_at_the_menu_moves_on_and_ends_the_call(replay: Replay) -> None:
    await replay.broadcast(["riverside"], seed=1)
    heard = (await replay.call(caller=ANN)).prompts()
    assert heard[-6:] == ["replay_bulletin_menu", "common_no_input", "replay_bulletin_menu",
                          "common_no_input", "replay_bulletin_menu", "replay_end"]  # fmt: skip
