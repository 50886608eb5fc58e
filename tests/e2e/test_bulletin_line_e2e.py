"""The bulletin line and the replay line end to end: a real Asterisk, rig phones, Whisper.

A rig phone, as a coordinator, rings 2000, signs in by caller ID and PIN, says a first
bulletin, records it again with a second one, accepts, picks two of its three groups, "not
urgent", "now". Then:

- members of those two groups are rung, and what a member's phone heard is the second
  recording and not the first (speech recognition);
- the member of the third group is never rung;
- the bulletin's transcript (Whisper, in the controller) is the second recording's;
- a member whose phone was busy rings the replay line (2001), hears the bulletin, presses
  1, and the delivery report shows them confirmed, on the replay line.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from ivr.app import Controller
from ivr.bulletin_line.component import BulletinLineComponent
from ivr.bulletin_line.rig_coordinator import (
    ANSWER_LAG_S,
    CoordinatorCaller,
    PromptTimes,
    plan_coordinator_call,
)
from ivr.bulletin_line.testing import add_coordinator, add_members
from ivr.campaigns.component import CampaignsComponent
from ivr.campaigns.service import CampaignService, ReportRow
from ivr.clock import ShiftedClock
from ivr.config import CampaignEngineSettings, Settings
from ivr.sandbox import SandboxInfo
from ivr.speech.asr.whisper import WhisperEngine
from ivr.speech.audio import read_wav
from ivr.speech.wer import normalise_words
from ivr.store.database import Database
from ivr.store.models import Bulletin
from ivr.store.models.coordinators import BulletinSend
from sip_test_rig.fleet import Fleet
from sip_test_rig.script import InCall, PhoneScript, Playback, RingAction, dtmf_sequence
from tests.conftest import EndpointPool
from tests.spoken import spoken_wav

pytestmark = pytest.mark.e2e

FIRST = "Please ignore this practice message about the cat show on Sunday."
SECOND = (
    "Police advise residents to lock garden sheds tonight. "
    "Three bicycles were stolen in Riverside this week."
)
#: Words only the first recording has: none may reach the members.
FIRST_ONLY = {"ignore", "practice", "cat", "show", "sunday"}
PIN = "7391"


def daytime() -> ShiftedClock:
    """Eleven in the morning in London, today: inside every member's call window, whenever
    the suite runs."""
    zone = ZoneInfo("Europe/London")
    wanted = datetime.combine(datetime.now(zone).date(), time(11, 0), tzinfo=zone)
    return ShiftedClock((wanted - datetime.now(UTC)).total_seconds())


def heard_share(text: str, wanted: str) -> float:
    said = set(normalise_words(text))
    words = normalise_words(wanted)
    return sum(1 for w in words if w in said) / len(words)


def member(*, confirm_at: float | None, record_to: Path | None = None) -> PhoneScript:
    keys = dtmf_sequence("1", start_s=confirm_at) if confirm_at is not None else ()
    hello = Playback(path=spoken_wav("Hello?"), at_s=0.2)
    return PhoneScript(answer_after_s=1, play=(hello,), dtmf=keys, record_to=record_to,
                       hangup_after_s=60)  # fmt: skip


async def report(db: Database, campaign_id: int, clock: ShiftedClock) -> dict[str, ReportRow]:
    service = CampaignService(db, clock, data_dir=Path(), sounds_dir=None)
    return {r.phone: r async for r in service.report_rows(campaign_id)}


async def test_a_coordinator_records_twice_by_phone_and_members_hear_the_second_take(
    asterisk: SandboxInfo, fleet: Fleet, endpoints: EndpointPool, tmp_path: Path
) -> None:
    coordinator, ann, bob, cat, dan = endpoints.take(5)
    heard_by_ann = tmp_path / "ann-heard.wav"
    replayed_to_cat = tmp_path / "cat-replay.wav"
    phones = {
        "coordinator": await fleet.add_phone(coordinator.name, coordinator.password),
        "ann": await fleet.add_phone(ann.name, ann.password,
                                     member(confirm_at=8, record_to=heard_by_ann)),
        "bob": await fleet.add_phone(bob.name, bob.password, member(confirm_at=8)),
        "cat": await fleet.add_phone(cat.name, cat.password,
                                     PhoneScript(on_ring=RingAction.BUSY)),
        "dan": await fleet.add_phone(dan.name, dan.password, member(confirm_at=8)),
    }  # fmt: skip
    await fleet.wait_registered(list(phones.values()), timeout_s=30)
    clock = daytime()
    settings = Settings(
        data_dir=tmp_path / "var",
        campaigns=CampaignEngineSettings(ring_timeout_s=8, replay_number="2001"),
    )
    times = PromptTimes(settings.speech.prompts_build_dir / "watchline")
    first, second = spoken_wav(FIRST), spoken_wav(SECOND)
    async with Controller(
        settings, sandbox=asterisk, serve_web=False, clock=clock,
        components=[CampaignsComponent, BulletinLineComponent],
    ) as c:  # fmt: skip
        assert c.db is not None
        await add_members(c.db, "elm-road", [dan.number])
        await add_members(c.db, "kings-arms", [bob.number])
        await add_members(c.db, "riverside", [ann.number, cat.number])
        await add_coordinator(c.db, clock, phone=coordinator.number, pin=PIN,
                              groups=["elm-road", "kings-arms", "riverside"])  # fmt: skip
        # the list is read by name: 1 elm-road, 2 kings-arms, 3 riverside
        caller = CoordinatorCaller(pin=PIN, takes=(first, second), group_keys="23")
        plan = plan_coordinator_call(caller, times)
        result = await fleet.call(phones["coordinator"], "2000", plan.script, timeout_s=180)
        assert result.answered and result.ended_by == "local", result
        async with c.db.session() as s:
            send = (await s.scalars(select(BulletinSend))).one()
        async with c.db.session() as s:
            bulletin = await s.get(Bulletin, send.bulletin_id)
        assert bulletin is not None
        async with asyncio.timeout(60):  # cat is busy: a retry is due in five minutes
            while not (await report(c.db, send.campaign_id, clock))[cat.number].last_cause:
                await asyncio.sleep(0.2)

        # Cat rings the replay line (while the others are rung) and presses 1 after it.
        length = read_wav(bulletin.audio_path).duration_s
        press_at = ANSWER_LAG_S + times("replay_welcome") + length + 1.0
        replay = InCall(dtmf=dtmf_sequence("1", start_s=press_at), record_to=replayed_to_cat,
                        hangup_after_s=press_at + 30)  # fmt: skip
        replaying = await fleet.start_call(phones["cat"], "2001", replay)
        async with asyncio.timeout(120):
            while True:
                rows = await report(c.db, send.campaign_id, clock)
                if all(rows[p.number].outcome == "confirmed" for p in (ann, bob, cat)):
                    break
                await asyncio.sleep(0.5)
        replayed = await replaying.result(60)
        assert replayed.answered and replayed.ended_by == "remote", replayed  # we said goodbye
        assert set(rows) == {ann.number, bob.number, cat.number}  # not dan (elm-road)
        async with asyncio.timeout(60):  # the transcript is made beside the calls
            while not bulletin.transcript:
                await asyncio.sleep(0.5)
                async with c.db.session() as s:
                    found = await s.get(Bulletin, send.bulletin_id)
                assert found is not None
                bulletin = found

    assert rows[cat.number].outcome == "confirmed"
    assert rows[cat.number].last_cause == "confirmed on the replay line"
    with pytest.raises(TimeoutError):
        await phones["dan"].next_call_result(timeout_s=0.5)
    whisper = WhisperEngine()
    for recording in (heard_by_ann, replayed_to_cat):
        heard = await asyncio.to_thread(whisper.transcribe, read_wav(recording))
        assert heard_share(heard.text, SECOND) >= 0.7, (recording.name, heard.text)
        assert not FIRST_ONLY & set(normalise_words(heard.text)), (recording.name, heard.text)
    assert heard_share(bulletin.transcript or "", SECOND) >= 0.7, bulletin.transcript
    assert not bulletin.transcript_approved
