"""Fax members in a campaign, end to end: each member gets the bulletin on their channel.

Three fax members (a T.38 machine, an audio-only machine, and one that is busy and then
free) and two voice members. Every received TIFF has the page count and pixels of the
pages sent; the report shows fax_sent with its pages; the busy machine is retried and
receives it. Fax members wait while the bulletin's text is unapproved, and go once it is.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ivr.app import Controller
from ivr.campaigns.component import CampaignsComponent
from ivr.campaigns.policy import CampaignSettings
from ivr.config import CampaignEngineSettings, Settings
from ivr.fax import rig
from ivr.fax.tiff import differing_pixels, read_pages
from ivr.sandbox import AsteriskSandbox
from ivr.store import members_repo
from sip_test_rig.fleet import Fleet
from sip_test_rig.script import PhoneScript, Playback, dtmf_sequence
from tests.daytime import quiet_fields
from tests.spoken import spoken_wav

pytestmark = pytest.mark.e2e

TEXT = (
    "Pubwatch notice. Two men have been passing forged twenty pound notes in pubs on the "
    "High Street this weekend. Please check notes with a UV pen and call 1 0 1 with any "
    "description. Thank you for keeping the High Street safe."
)
FAX_MACHINES = (rig.FAX_T38, rig.FAX_AUDIO, rig.BUSY_THEN_FAX)


async def test_fax_and_voice_members_each_get_the_bulletin(
    fresh_asterisk: AsteriskSandbox, tmp_path: Path
) -> None:
    info = fresh_asterisk.info  # a private Asterisk: machine 908 is busy on its first call
    voice = info.endpoints[:2]
    settings = Settings(
        data_dir=tmp_path / "var",
        campaigns=CampaignEngineSettings(ring_timeout_s=15, max_concurrent_calls=8),
    )
    hello = Playback(path=spoken_wav("Hello?"), at_s=0.2)
    async with (
        Fleet(info.host, info.sip_port, log_dir=tmp_path / "rig") as fleet,
        Controller(settings, sandbox=info, serve_web=False,
                   components=[CampaignsComponent]) as c,
    ):  # fmt: skip
        phones = [
            await fleet.add_phone(e.name, e.password, PhoneScript(
                answer_after_s=1, play=(hello,), dtmf=dtmf_sequence("1", start_s=7)))
            for e in voice
        ]  # fmt: skip
        await fleet.wait_registered(phones)
        comp = c.component("campaigns")
        assert isinstance(comp, CampaignsComponent) and c.db is not None
        async with c.db.session(write=True) as s:
            group = await members_repo.create_group(s, "High Street Pubwatch")
            rows = [
                {"name": f"Voice {e.name[-3:]}", "phone": e.number, **quiet_fields()} for e in voice
            ]
            rows += [
                {"name": f"Fax {m.suffix}", "phone": f"+44163296095{i}", "fax": m.number,
                 "channel": "fax", **quiet_fields()}
                for i, m in enumerate(FAX_MACHINES)
            ]  # fmt: skip
            ids = await members_repo.insert_members(s, rows)
            await members_repo.add_memberships(s, [(i, group.id) for i in ids.values()])
        bulletin = await comp.service.add_bulletin(
            spoken_wav(TEXT), title="Forged notes", created_by="test"
        )
        cid = await comp.service.create(
            bulletin, ["High Street Pubwatch"], start=True,
            settings=CampaignSettings(retry_delays_s=(5,), max_attempts=3, concurrency=8,
                                      give_up_after_s=900),
        )  # fmt: skip

        # the voice members are called; the fax members wait for approved text
        async with asyncio.timeout(120):
            while (await comp.service.summary(cid)).counts.get("confirmed", 0) < 2:
                await asyncio.sleep(0.5)
        held = {r.name: r async for r in comp.service.report_rows(cid) if r.channel == "fax"}
        assert all(r.state == "pending" and r.attempts == 0 for r in held.values()), held
        assert all("approved" in (r.last_cause or "") for r in held.values()), held

        await comp.service.set_bulletin_text(bulletin, TEXT, approved=True, by="test")
        async with asyncio.timeout(420):
            while (await comp.service.summary(cid)).state != "completed":
                await asyncio.sleep(1)
        report = {r.name: r async for r in comp.service.report_rows(cid)}

    assert report["Voice " + voice[0].name[-3:]].outcome == "confirmed"
    for m in FAX_MACHINES:
        row = report[f"Fax {m.suffix}"]
        assert row.outcome == "fax_sent", (row.outcome, row.last_cause)
        assert "1 of 1 page(s) sent" in (row.last_cause or ""), row.last_cause
    assert report["Fax 908"].attempts == 2  # busy, then retried and received
    assert report["Fax 900"].attempts == 1 and report["Fax 901"].attempts == 1

    sent = read_pages(next(info.fax_dir.glob(f"campaign-{cid}-group-*.tif")))
    for m in FAX_MACHINES:
        received = sorted(info.fax_dir.glob(f"rx-{m.suffix}-*.tif"))
        ok = [p for p in received if len(read_pages(p)) == len(sent)]
        assert ok, f"machine {m.suffix} received nothing complete"
        pages = read_pages(ok[-1])
        assert all(differing_pixels(a, b) == 0 for a, b in zip(sent, pages, strict=True))
