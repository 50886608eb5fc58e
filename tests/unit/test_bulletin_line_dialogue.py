"""The coordinator's bulletin line without Asterisk: recording, sending and the menus, with
scripted calls against the real component, desk, database (SQLite), scheduler and files.

The same dialogue runs on real calls in tests/e2e/test_bulletin_line_e2e.py; signing in is
tested in test_bulletin_line_signin.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from ivr.bulletin_line.testing import (
    COORDINATOR_PHONE,
    COORDINATOR_PIN,
    NOTHING_CREATED,
    Line,
    RecordingCall,
    add_coordinator,
    add_members,
    coordinator_line,
    silence,
    speech_like,
)
from ivr.bulletins import media
from ivr.campaigns.outcomes import Outcome
from ivr.speech.audio import read_wav
from ivr.store.models import Bulletin, Campaign, CampaignGroup, CampaignTarget, Group
from ivr.store.models.coordinators import BulletinSend
from ivr.telephony.call import RecordingResult

#: 15:00 on a winter weekday in London: "this evening at 7" is on offer.
AFTERNOON = datetime(2025, 1, 15, 15, 0, tzinfo=UTC)
PHONE = COORDINATOR_PHONE
PIN = COORDINATOR_PIN
NOTHING = NOTHING_CREATED
TAKE = "bulletin-scripted-1-{}"


@pytest.fixture
async def line(tmp_path: Path) -> AsyncIterator[Line]:
    async with coordinator_line(tmp_path, AFTERNOON) as line:
        yield line


def caller(**kw: Any) -> RecordingCall:
    kw.setdefault("caller", PHONE)
    return RecordingCall(**kw)


def sign_in(**presses: list[str]) -> dict[str, list[str]]:
    return {"bulletin_enter_pin": [f"{PIN}#"], **presses}


def recording_of(audio: bytes) -> Any:
    return media.prepare(audio).audio.samples


# ---- recording and sending ---------------------------------------------------------------------


async def test_a_coordinator_records_re_records_and_sends_the_second_take_now_to_two_groups(
    line: Line,
) -> None:
    """Sign in by caller ID and PIN, record, re-record, accept, groups 2 and 3, not urgent,
    now: one bulletin holding the second take, one running campaign to those groups."""
    first, second = speech_like(seed=11), speech_like(seed=22)
    call = await line.call(caller(
        presses=sign_in(bulletin_main_menu=["1"], bulletin_review_menu=["2", "1"],
                        bulletin_groups_intro=["23#"], bulletin_urgent_menu=["2"],
                        bulletin_when_menu=["1"]),
        audio={TAKE.format(1): first, TAKE.format(2): second},
        hangup_on="bulletin_main_menu#2",
    ))  # fmt: skip
    heard = call.prompts()
    assert heard[:3] == ["bulletin_welcome", "bulletin_enter_pin", "bulletin_main_menu"]
    assert heard.count("bulletin_record") == 2 and heard.count("bulletin_playback_intro") == 2
    assert heard[-1] == "bulletin_sent_now"
    async with line.db.session() as s:
        (bulletin,) = await s.scalars(select(Bulletin))
        (campaign,) = await s.scalars(select(Campaign))
        groups = set(await s.scalars(select(Group.name).join(
            CampaignGroup, CampaignGroup.group_id == Group.id)))  # fmt: skip
        (send,) = await s.scalars(select(BulletinSend))
    stored = read_wav(bulletin.audio_path).samples
    assert (stored == recording_of(second)).all() and len(stored) == len(recording_of(second))
    assert not bulletin.urgent and bulletin.created_by.startswith("coordinator 1")
    assert campaign.state.value == "running" and campaign.priority.value == "normal"
    assert groups == {"kings-arms", "riverside"}  # keys 2 and 3 of the list by name
    assert await line.count(CampaignTarget) == 4
    assert send.state.value == "started" and send.coordinator_id == 1 and send.run_at is None
    assert not list((line.sounds / "drafts").glob("*"))
    assert [e.kind.value for e in await line.events()][-2:] == ["signed_in", "sent"]


async def test_the_bulletin_is_transcribed_and_waits_for_approval(line: Line) -> None:
    await line.call(caller(
        presses=sign_in(bulletin_main_menu=["1"], bulletin_review_menu=["1"],
                        bulletin_groups_intro=["0"], bulletin_urgent_menu=["1"],
                        bulletin_when_menu=["1"]),
        hangup_on="bulletin_main_menu#2",
    ))  # fmt: skip
    for _ in range(100):  # the transcriber runs beside the call
        async with line.db.session() as s:
            bulletin = (await s.scalars(select(Bulletin))).one()
        if bulletin.transcript:
            break
        await asyncio.sleep(0.05)
    assert bulletin.transcript == "lock your garden sheds"
    assert not bulletin.transcript_approved and bulletin.urgent
    async with line.db.session() as s:
        (campaign,) = await s.scalars(select(Campaign))
    assert campaign.priority.value == "urgent"
    assert await line.count(CampaignTarget) == 5  # 0: every group


async def test_a_scheduled_send_waits_as_a_draft_and_starts_once_however_often_it_fires(
    line: Line,
) -> None:
    call = await line.call(caller(
        presses=sign_in(bulletin_main_menu=["1"], bulletin_review_menu=["1"],
                        bulletin_groups_intro=["3#"], bulletin_urgent_menu=["2"],
                        bulletin_when_menu=["2"]),
        hangup_on="bulletin_main_menu#2",
    ))  # fmt: skip
    heard = call.prompts()
    # "Thank you. Your bulletin will be sent today at seven in the evening."
    assert heard[-4:] == ["bulletin_sent_at", "time_today_at", "number_7", "time_in_the_evening"]
    async with line.db.session() as s:
        (campaign,) = await s.scalars(select(Campaign))
        (send,) = await s.scalars(select(BulletinSend))
    assert campaign.state.value == "draft" and send.state.value == "pending"
    assert send.run_at == datetime(2025, 1, 15, 19, 0, tzinfo=UTC)
    scheduler = line.component.service.scheduler
    assert scheduler is not None and scheduler.job_ids() == {f"bulletin-send-{send.id}"}
    # a member joins riverside before the send goes: they are included
    await add_members(line.db, "riverside", ["+441632960206"], create_group=False)
    line.clock.advance(4 * 3600)
    service = line.component.service
    assert (await service.start_send(send.id)).value == "started"
    assert (await service.start_send(send.id)).value == "already"
    await service.on_due(f"bulletin-send-{send.id}")
    async with line.db.session() as s:
        campaign = await s.get(Campaign, campaign.id)
        send = await s.get(BulletinSend, send.id)
    assert campaign is not None and send is not None
    assert campaign.state.value == "running" and send.state.value == "started"
    assert campaign.started_at == datetime(2025, 1, 15, 19, 0, tzinfo=UTC)
    assert await line.count(CampaignTarget) == 3
    sent = [e for e in await line.events() if e.kind.value == "sent"]
    assert len(sent) == 1 and sent[0].via == "scheduler"


async def test_a_scheduled_send_whose_time_passed_while_down_starts_at_reconcile(
    line: Line,
) -> None:
    await line.call(caller(
        presses=sign_in(bulletin_main_menu=["1"], bulletin_review_menu=["1"],
                        bulletin_groups_intro=["1#"], bulletin_urgent_menu=["2"],
                        bulletin_when_menu=["3"]),
        hangup_on="bulletin_main_menu#2",
    ))  # fmt: skip
    service = line.component.service
    scheduler = service.scheduler
    assert scheduler is not None
    (job,) = scheduler.job_ids()
    scheduler.cancel(job)  # lost in a crash
    await service.reconcile(scheduler)
    assert scheduler.job_ids() == {job}  # scheduled again from bulletin_sends
    line.clock.advance(24 * 3600)  # tomorrow at 10 has passed
    await service.reconcile(scheduler)
    async with line.db.session() as s:
        (campaign,) = await s.scalars(select(Campaign))
    assert campaign.state.value == "running" and scheduler.job_ids() == set()


# ---- bad input ----------------------------------------------------------------------------------


async def test_a_silent_recording_is_explained_and_recorded_again(line: Line) -> None:
    call = await line.call(caller(
        presses=sign_in(bulletin_main_menu=["1"]),
        audio={TAKE.format(1): silence()},
        hangup_on="bulletin_playback_intro",
    ))  # fmt: skip
    heard = call.prompts()
    i = heard.index("bulletin_silence_recorded")
    assert heard[i - 1] == f"record:{TAKE.format(1)}" and heard[i + 1] == "bulletin_record"
    assert await line.created() == NOTHING


async def test_a_recording_cut_off_by_hanging_up_creates_nothing_and_is_explained_next_time(
    line: Line,
) -> None:
    cut = TAKE.format(1)
    await line.call(caller(
        presses=sign_in(bulletin_main_menu=["1"]),
        recordings={cut: RecordingResult(cut, "hangup", 2.0)},
    ))  # fmt: skip
    assert await line.created() == NOTHING
    assert [e.kind.value for e in await line.events()][-1] == "not_sent"
    again = await line.call(caller(presses=sign_in(), hangup_on="bulletin_main_menu"))
    assert again.prompts()[-1] == "bulletin_not_sent_notice"
    third = await line.call(caller(presses=sign_in(), hangup_on="bulletin_main_menu"))
    assert "bulletin_not_sent_notice" not in third.prompts()  # said once


async def test_a_group_key_out_of_range_is_explained_and_the_list_read_again(line: Line) -> None:
    call = await line.call(caller(
        presses=sign_in(bulletin_main_menu=["1"], bulletin_review_menu=["1"],
                        bulletin_groups_intro=["7"]),
        hangup_on="bulletin_group_not_offered#1",
    ))  # fmt: skip
    assert "bulletin_group_not_offered" not in call.prompts()  # hung up as it started
    assert await line.created() == NOTHING
    resumed = await line.call(caller(
        presses=sign_in(bulletin_main_menu=["1"], bulletin_review_menu=["1"],
                        bulletin_groups_intro=["7", "1#"], bulletin_urgent_menu=["2"],
                        bulletin_when_menu=["1"]),
        hangup_on="bulletin_main_menu#2",
    ))  # fmt: skip
    heard = resumed.prompts()
    i = heard.index("bulletin_group_not_offered")
    assert heard[i + 1] == "bulletin_groups_intro" and heard[-1] == "bulletin_sent_now"
    async with line.db.session() as s:
        names = list(await s.scalars(select(Group.name).join(
            CampaignGroup, CampaignGroup.group_id == Group.id)))  # fmt: skip
    assert names == ["elm-road"]


async def test_a_coordinator_with_no_groups_is_told_before_recording_anything(
    line: Line,
) -> None:
    await add_coordinator(line.db, line.clock, phone="+441632960111", pin="8080", groups=[])
    call = await line.call(caller(
        caller="+441632960111", presses={"bulletin_enter_pin": ["8080#"],
                                         "bulletin_main_menu": ["1"]},
    ))  # fmt: skip
    assert call.prompts()[-1] == "bulletin_no_groups"
    assert "bulletin_record" not in call.prompts()
    assert await line.created() == NOTHING


async def test_after_too_many_unusable_takes_the_caller_is_told_and_nothing_is_made(
    line: Line,
) -> None:
    quiet = {TAKE.format(n): silence() for n in range(1, 6)}
    call = await line.call(caller(presses=sign_in(bulletin_main_menu=["1"]), audio=quiet))
    assert call.prompts().count("bulletin_silence_recorded") == 5
    assert call.prompts()[-1] == "bulletin_takes_exhausted"
    assert await line.created() == NOTHING


async def test_no_answer_to_the_send_menu_ends_the_call_without_sending(line: Line) -> None:
    call = await line.call(caller(
        presses=sign_in(bulletin_main_menu=["1"], bulletin_review_menu=["1"],
                        bulletin_groups_intro=["1#"], bulletin_urgent_menu=["2"]),
    ))  # fmt: skip
    assert call.prompts()[-1] == "common_too_many_attempts"
    assert await line.created() == NOTHING


# ---- the main menu ---------------------------------------------------------------------------


async def test_star_repeats_the_menu_and_a_wrong_key_is_explained(line: Line) -> None:
    call = await line.call(caller(presses=sign_in(bulletin_main_menu=["*", "8", "2"]),
                                  hangup_on="bulletin_main_menu#4"))  # fmt: skip
    heard = call.prompts()
    assert heard[heard.index("bulletin_main_menu"):] == [
        "bulletin_main_menu", "bulletin_main_menu", "common_invalid_key", "bulletin_main_menu",
        "bulletin_no_last",
    ]  # fmt: skip


async def test_menu_two_plays_the_last_bulletin_and_three_speaks_its_delivery_summary(
    line: Line,
) -> None:
    await line.call(caller(
        presses=sign_in(bulletin_main_menu=["1"], bulletin_review_menu=["1"],
                        bulletin_groups_intro=["0"], bulletin_urgent_menu=["2"],
                        bulletin_when_menu=["1"]),
        hangup_on="bulletin_main_menu#2",
    ))  # fmt: skip
    outcomes = [Outcome.CONFIRMED, Outcome.CONFIRMED, Outcome.VOICEMAIL, Outcome.BUSY, None]
    async with line.db.session(write=True) as s:
        targets = list(await s.scalars(select(CampaignTarget).order_by(CampaignTarget.id)))
        for target, outcome in zip(targets, outcomes, strict=True):
            if outcome is not None:
                target.state = target.state.DONE
                target.outcome = outcome
        (bulletin,) = await s.scalars(select(Bulletin))
    call = await line.call(caller(presses=sign_in(bulletin_main_menu=["2", "3"]),
                                  hangup_on="bulletin_main_menu#3"))  # fmt: skip
    heard = call.prompts()
    start = heard.index("bulletin_last_intro")
    assert heard[start + 1] == str(bulletin.id)  # sound:watchline/bulletins/<id>
    assert (line.sounds / "bulletins" / f"{bulletin.id}.wav").is_file()
    # "Here is how your last bulletin was delivered. 2 out of 5 members confirmed.
    #  1 left on voicemail. 1 not reached." (the fifth is still waiting for a retry)
    assert heard[heard.index("bulletin_summary_intro") + 1 :] == [
        "number_2", "summary_out_of", "number_5", "summary_members_confirmed",
        "number_1", "summary_voicemail", "number_1", "summary_not_reached",
    ]  # fmt: skip


async def test_menu_three_says_a_scheduled_bulletin_has_not_been_sent_yet(line: Line) -> None:
    await line.call(caller(
        presses=sign_in(bulletin_main_menu=["1"], bulletin_review_menu=["1"],
                        bulletin_groups_intro=["0"], bulletin_urgent_menu=["2"],
                        bulletin_when_menu=["3"]),
        hangup_on="bulletin_main_menu#2",
    ))  # fmt: skip
    call = await line.call(caller(presses=sign_in(bulletin_main_menu=["3"]),
                                  hangup_on="bulletin_main_menu#2"))  # fmt: skip
    assert "bulletin_summary_pending" in call.prompts()
