"""A small broadcast through the real Asterisk: three rig phones, three outcomes."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ivr.app import Controller
from ivr.campaigns.component import CampaignsComponent
from ivr.campaigns.policy import CampaignSettings
from ivr.config import Settings
from ivr.sandbox import SandboxInfo
from ivr.store import members_repo
from sip_test_rig.fleet import Fleet
from sip_test_rig.script import Playback, PhoneScript, dtmf_sequence
from tests.conftest import EndpointPool
from tests.spoken import spoken_wav

pytestmark = pytest.mark.e2e


async def test_small_broadcast(asterisk: SandboxInfo, fleet: Fleet, endpoints: EndpointPool,
                               tmp_path: Path) -> None:
    hello = Playback(path=spoken_wav("Hello?"), at_s=0.2)
    eps = endpoints.take(3)
    scripts = [
        PhoneScript(answer_after_s=1, play=(hello,), dtmf=dtmf_sequence("1", start_s=7)),
        PhoneScript(answer_after_s=1, play=(hello,), dtmf=dtmf_sequence("9", start_s=7)),
        PhoneScript(answer_after_s=1, play=(hello,), hangup_after_s=40),
    ]
    phones = [await fleet.add_phone(e.name, e.password, s) for e, s in zip(eps, scripts, strict=True)]
    await fleet.wait_registered(phones)
    settings = Settings(data_dir=tmp_path / "var")
    async with Controller(settings, sandbox=asterisk, serve_web=False,
                          components=[CampaignsComponent]) as controller:
        comp = controller.component("campaigns")
        assert isinstance(comp, CampaignsComponent)
        assert controller.db is not None
        async with controller.db.session(write=True) as s:
            g = await members_repo.create_group(s, "Riverside Neighbourhood Watch")
            ids = await members_repo.insert_members(s, [{"name": f"M{i}", "phone": e.number} for i, e in enumerate(eps)])
            await members_repo.add_memberships(s, [(i, g.id) for i in ids.values()])
        bulletin = await comp.service.add_bulletin(
            spoken_wav("Please lock your garden sheds. Bicycles have been stolen in Riverside."),
            title="sheds", created_by="test")
        cid = await comp.service.create(bulletin, ["Riverside Neighbourhood Watch"],
                                        settings=CampaignSettings(concurrency=3, give_up_after_s=120),
                                        start=True)
        async with asyncio.timeout(120):
            while (await comp.service.summary(cid)).state != "completed":
                await asyncio.sleep(0.5)
        rows = {r.phone: r async for r in comp.service.report_rows(cid)}
    print({p: (r.outcome, r.last_cause) for p, r in rows.items()})
    assert [rows[e.number].outcome for e in eps] == ["confirmed", "opted_out", "heard_no_confirm"]
