"""The bulletin broadcast end to end: a real Asterisk, 27 rig phones, the real controller.

One campaign covers every outcome in the vocabulary:

- members who confirm, press 2 then 1, press 9, or hear it and hang up without a key;
- answering machines, busy phones, phones that never answer;
- an unregistered number and a number that does not exist;
- a member in both chosen groups, and a member whose quiet hours are now.

The delivery report must match each member's expected outcome exactly. Busy members are
retried, and the one whose phone becomes free confirms on the second attempt. A
confirming phone records what it hears, and speech recognition finds the bulletin in it.
The members come in through the real CSV import, the campaign is made and followed
through the real HTTP API with a token, and the report is checked as JSON and as CSV.
"""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from ivr.app import Controller
from ivr.auth.tokens import create_token
from ivr.campaigns.component import CampaignsComponent
from ivr.clock import SystemClock
from ivr.config import CampaignEngineSettings, Settings, WebSettings
from ivr.members.importer import import_members
from ivr.sandbox import RigEndpoint, SandboxInfo
from ivr.speech.asr.whisper import WhisperEngine
from ivr.speech.audio import read_wav
from ivr.speech.wer import normalise_words
from ivr.store import members_repo
from ivr.store.models.auth import Role
from sip_test_rig.fleet import Fleet
from sip_test_rig.script import AnsweringMachine, PhoneScript, Playback, RingAction, dtmf_sequence
from tests.conftest import EndpointPool
from tests.daytime import quiet_csv
from tests.spoken import spoken_wav

pytestmark = pytest.mark.e2e

BULLETIN = (
    "Police advise residents to lock garden sheds tonight. "
    "Three bicycles were stolen in Riverside this week."
)
GREETING = (
    "Hello, you have reached the Patel household. We cannot come to the phone right now. "
    "Please leave a message after the tone."
)


def _hello() -> Playback:
    # A live person says something when they answer; silence would look like a machine.
    return Playback(path=spoken_wav("Hello?"), at_s=0.2)


def _human(
    *keys: tuple[str, float], hangup_after_s: float | None = None, record_to: Path | None = None
) -> PhoneScript:
    dtmf = tuple(p for d, at in keys for p in dtmf_sequence(d, start_s=at))
    return PhoneScript(
        answer_after_s=1,
        play=(_hello(),),
        dtmf=dtmf,
        hangup_after_s=hangup_after_s,
        record_to=record_to,
    )


def _quiet_hours_now() -> str:
    now = datetime.now(ZoneInfo("Europe/London"))
    start, end = now - timedelta(hours=1), now + timedelta(hours=2)
    return f"{start:%H:%M}-{end:%H:%M}"


async def test_a_campaign_reaches_every_outcome_and_the_report_says_so(
    asterisk: SandboxInfo, fleet: Fleet, endpoints: EndpointPool, tmp_path: Path
) -> None:
    eps = endpoints.take(26)
    absent = RigEndpoint("441632960999", "", "+441632960999")  # no such endpoint at all
    recording = tmp_path / "member-heard.wav"
    machine = PhoneScript(answer_after_s=1, answering_machine=AnsweringMachine(
        greeting=spoken_wav(GREETING), record_s=40))  # fmt: skip
    plan: list[tuple[str, PhoneScript | None, str, str]] = [
        # (name, script or None for an unregistered number, groups, expected outcome)
        ("Ann Confirm", _human(("1", 7), record_to=recording), "riverside", "confirmed"),
        ("Bob Confirm", _human(("1", 7)), "riverside", "confirmed"),
        ("Cat Confirm", _human(("1", 12)), "riverside", "confirmed"),
        ("Dan Confirm", _human(("1", 7)), "riverside;kings-arms", "confirmed"),  # two groups
        ("Eve Confirm", _human(("1", 9)), "kings-arms", "confirmed"),
        ("Fay Confirm", _human(("1", 7)), "kings-arms", "confirmed"),
        ("Gus Again", _human(("2", 7), ("1", 14)), "riverside", "confirmed"),
        ("Hal Again", _human(("2", 7), ("1", 20)), "kings-arms", "confirmed"),
        ("Ivy Stop", _human(("9", 7)), "riverside", "opted_out"),
        ("Jon Stop", _human(("9", 8)), "kings-arms", "opted_out"),
        ("Kay Listens", _human(hangup_after_s=17), "riverside", "heard_no_confirm"),
        ("Lee Listens", _human(hangup_after_s=17), "kings-arms", "heard_no_confirm"),
        ("Max Silent", _human(), "riverside", "heard_no_confirm"),  # two plays, no key
        ("Ned Machine", machine, "riverside", "voicemail"),
        ("Ola Machine", machine, "kings-arms", "voicemail"),
        ("Pam Machine", machine, "riverside", "voicemail"),
        ("Ray Busy", PhoneScript(on_ring=RingAction.BUSY), "riverside", "confirmed"),  # frees up
        ("Sue Busy", PhoneScript(on_ring=RingAction.BUSY), "kings-arms", "busy"),
        ("Tom NoAnswer", PhoneScript(on_ring=RingAction.NO_ANSWER), "riverside", "no_answer"),
        ("Una NoAnswer", PhoneScript(on_ring=RingAction.NO_ANSWER), "kings-arms", "no_answer"),
        ("Vic Unregistered", None, "riverside", "failed"),
        ("Wes Quiet", _human(("1", 7)), "riverside", "outside_window"),
        ("Xan Confirm", _human(("1", 7)), "riverside", "confirmed"),
        ("Yas Confirm", _human(("1", 8)), "kings-arms", "confirmed"),
        ("Zoe Confirm", _human(("1", 7)), "riverside", "confirmed"),
        ("Abe Listens", _human(hangup_after_s=17), "riverside", "heard_no_confirm"),
        ("Bea Nowhere", None, "kings-arms", "invalid_number"),
    ]
    numbers = [*(e.number for e in eps), absent.number]
    phones = {}
    for (name, script, _, _), ep in zip(plan, [*eps, absent], strict=True):
        if script is not None:
            phones[name] = await fleet.add_phone(ep.name, ep.password, script)
    await fleet.wait_registered(list(phones.values()), timeout_s=30)

    rows = [["name", "phone", "fax", "email", "channel", "language", "quiet_hours", "groups"]]
    for (name, _, groups, _), number in zip(plan, numbers, strict=True):
        quiet = _quiet_hours_now() if name == "Wes Quiet" else quiet_csv()
        rows.append([name, number, "", "", "voice", "en", quiet, groups])
    members_csv = tmp_path / "members.csv"
    with members_csv.open("w", newline="") as fh:
        csv.writer(fh).writerows(rows)

    async def ray_frees_up() -> None:
        ray = phones["Ray Busy"]
        first = await ray.next_call_result(timeout_s=120)
        assert first.sip_status == 486
        await fleet.set_script(ray, _human(("1", 7)))

    settings = Settings(
        data_dir=tmp_path / "var",
        web=WebSettings(port=0),
        campaigns=CampaignEngineSettings(ring_timeout_s=8, max_concurrent_calls=16,
                                         replay_number="2001"),
    )  # fmt: skip
    async with Controller(settings, sandbox=asterisk, components=[CampaignsComponent]) as c:
        assert c.db is not None
        async with c.db.session(write=True) as s:
            await members_repo.create_group(s, "riverside")
            await members_repo.create_group(s, "kings-arms")
            token = await create_token(
                s, name="coordinator", role=Role.COORDINATOR, now=SystemClock().now()
            )
        for group in ("riverside", "kings-arms"):
            result = await import_members(c.db, members_csv, group)
            assert result.rejected == 0
        base = f"http://127.0.0.1:{c.web_port}"
        auth = {"Authorization": f"Bearer {token}"}
        freed = asyncio.create_task(ray_frees_up())
        async with aiohttp.ClientSession(headers=auth) as http:
            form = aiohttp.FormData()
            form.add_field("title", "Garden sheds")
            form.add_field(
                "audio",
                spoken_wav(BULLETIN, rate=16000).read_bytes(),
                filename="bulletin.wav",
                content_type="audio/wav",
            )
            async with http.post(f"{base}/api/bulletins", data=form) as r:
                assert r.status == 201, await r.text()
                bulletin_id = (await r.json())["id"]
            body = {
                "bulletin_id": bulletin_id, "groups": ["riverside", "kings-arms"], "start": True,
                "settings": {"max_attempts": 2, "retry_delays_s": [3], "failed_max_attempts": 1,
                             "concurrency": 16, "calls_per_second": 5, "burst": 5,
                             "give_up_after_s": 900},
            }  # fmt: skip
            async with http.post(f"{base}/api/campaigns", json=body) as r:
                assert r.status == 201, await r.text()
                campaign = await r.json()
            assert campaign["total"] == len(plan)  # Dan, in both groups, counts once
            async with asyncio.timeout(360):
                while campaign["state"] != "completed":
                    await asyncio.sleep(1)
                    async with http.get(f"{base}/api/campaigns/{campaign['id']}") as r:
                        campaign = await r.json()
            async with http.get(f"{base}/api/campaigns/{campaign['id']}/report") as r:
                report = await r.json()
            async with http.get(f"{base}/api/campaigns/{campaign['id']}/report?format=csv") as r:
                csv_rows = list(csv.DictReader(io.StringIO(await r.text())))
        await freed

    outcomes = {m["name"]: m["outcome"] for m in report["members"]}
    assert outcomes == {name: expected for name, _, _, expected in plan}, {
        m["name"]: (m["outcome"], m["last_cause"], m["attempts"]) for m in report["members"]
    }
    assert {r["name"]: r["outcome"] for r in csv_rows} == outcomes
    attempts = {m["name"]: m["attempts"] for m in report["members"]}
    assert attempts["Ray Busy"] == 2 and attempts["Sue Busy"] == 2  # busy is retried
    assert attempts["Tom NoAnswer"] == 2 and attempts["Dan Confirm"] == 1
    assert attempts["Wes Quiet"] == 0 and attempts["Vic Unregistered"] == 1
    assert report["counts"]["confirmed"] == sum(1 for *_, e in plan if e == "confirmed")
    # Dan is in both groups and was rung exactly once
    dan = await phones["Dan Confirm"].next_call_result(timeout_s=1)
    assert dan.answered
    with pytest.raises(TimeoutError):
        await phones["Dan Confirm"].next_call_result(timeout_s=0.5)

    # the message arrived: Ann's phone heard the bulletin itself
    heard = await asyncio.to_thread(WhisperEngine().transcribe, read_wav(recording))
    said = set(normalise_words(heard.text))
    wanted = normalise_words(BULLETIN)
    found = sum(1 for w in wanted if w in said) / len(wanted)
    assert found >= 0.8, heard.text
