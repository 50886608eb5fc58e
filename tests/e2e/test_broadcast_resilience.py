"""A campaign survives its controller being killed, and Asterisk restarting, mid-way.

- ``ivr serve`` is SIGKILLed while calls are in flight and started again. The campaign
  completes, every member gets an outcome, nobody who confirmed is rung again, and the
  possibly repeated attempts are logged.
- Asterisk restarts under a running controller mid-campaign. The clients reconnect, the
  calls that were cut are retried, and the campaign completes with nobody lost.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from ivr.app import Controller
from ivr.campaigns.component import CampaignsComponent
from ivr.campaigns.policy import CampaignSettings
from ivr.campaigns.service import CampaignService, ReportRow
from ivr.clock import SystemClock
from ivr.config import CampaignEngineSettings, Settings
from ivr.sandbox import AsteriskSandbox, RigEndpoint, SandboxInfo
from ivr.sandbox.info import external_asterisk_toml
from ivr.store import members_repo
from ivr.store.database import Database
from sip_test_rig.fleet import Fleet
from sip_test_rig.rig_phone import RigPhone
from sip_test_rig.script import PhoneScript, Playback, dtmf_sequence
from tests.conftest import EndpointPool
from tests.daytime import quiet_fields
from tests.spoken import spoken_wav

pytestmark = pytest.mark.e2e

SETTINGS = CampaignSettings(
    concurrency=4, calls_per_second=4, burst=4, retry_delays_s=(2,), failed_retry_delays_s=(2,),
    max_attempts=4, failed_max_attempts=4, give_up_after_s=900,
)  # fmt: skip


def _confirmer() -> PhoneScript:
    hello = Playback(path=spoken_wav("Hello?"), at_s=0.2)
    # hang up on our own eventually: a call cut by a dead controller must not linger
    return PhoneScript(
        answer_after_s=1, play=(hello,), dtmf=dtmf_sequence("1", start_s=7), hangup_after_s=45
    )


async def _prepare(db: Database, data_dir: Path, eps: Sequence[RigEndpoint]) -> int:
    async with db.session(write=True) as s:
        group = await members_repo.create_group(s, "high-street")
        ids = await members_repo.insert_members(
            s, [{"name": f"Member {e.name[-3:]}", "phone": e.number, **quiet_fields()} for e in eps]
        )
        await members_repo.add_memberships(s, [(i, group.id) for i in ids.values()])
    service = CampaignService(db, SystemClock(), data_dir=data_dir, sounds_dir=None)
    bulletin = await service.add_bulletin(
        spoken_wav("A van has been seen trying car doors on the High Street."),
        title="van", created_by="test",
    )  # fmt: skip
    return await service.create(bulletin, ["high-street"], settings=SETTINGS, start=True)


async def _wait(db: Database, cid: int, done: str, timeout_s: float) -> dict[str, int]:
    service = CampaignService(db, SystemClock(), data_dir=Path(), sounds_dir=None)
    async with asyncio.timeout(timeout_s):
        while True:
            summary = await service.summary(cid)
            if done == "completed" and summary.state == "completed":
                return summary.counts
            if (
                done == "midway"
                and summary.counts.get("confirmed", 0) >= 2
                and (summary.counts.get("dialling", 0) >= 2)
            ):
                return summary.counts
            await asyncio.sleep(0.2)


async def _report(db: Database, cid: int) -> dict[str, ReportRow]:
    service = CampaignService(db, SystemClock(), data_dir=Path(), sounds_dir=None)
    return {r.phone: r async for r in service.report_rows(cid)}


async def _calls_to(phone: RigPhone) -> int:
    n = 0
    while True:
        try:
            await phone.next_call_result(timeout_s=0.3)
        except TimeoutError:
            return n
        n += 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve_config(tmp_path: Path, info: SandboxInfo) -> Path:
    config = tmp_path / "watchline.toml"
    config.write_text(
        f"""data_dir = "{tmp_path / "var"}"

{external_asterisk_toml(info)}
[campaigns]
ring_timeout_s = 10

[web]
port = {_free_port()}
"""
    )
    return config


def _serve(config: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "WATCHLINE_CONFIG": str(config)}
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "ivr", "serve"], env=env, stdout=out, stderr=subprocess.STDOUT
        )


async def test_a_killed_controller_finishes_the_campaign_after_restart(
    asterisk: SandboxInfo, fleet: Fleet, endpoints: EndpointPool, tmp_path: Path
) -> None:
    eps = endpoints.take(10)
    phones = [await fleet.add_phone(e.name, e.password, _confirmer()) for e in eps]
    await fleet.wait_registered(phones)
    config = _serve_config(tmp_path, asterisk)
    log = tmp_path / "serve.log"
    (tmp_path / "var").mkdir()
    url = f"sqlite+aiosqlite:///{tmp_path / 'var' / 'watchline.db'}"
    async with Database.open(url) as db:
        cid = await _prepare(db, tmp_path / "var", eps)
        first = _serve(config, log)
        try:
            before = await _wait(db, cid, "midway", 120)
        finally:
            first.send_signal(signal.SIGKILL)  # no clean-up of any kind
            first.wait(10)
        confirmed_before = {p for p, r in (await _report(db, cid)).items()
                            if r.outcome == "confirmed"}  # fmt: skip
        second = _serve(config, log)
        try:
            await _wait(db, cid, "completed", 240)
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(30) == 0
        report = await _report(db, cid)
    assert before.get("confirmed", 0) >= 2
    assert len(report) == len(eps), "no member may be lost"
    assert all(r.outcome == "confirmed" for r in report.values()), {
        p: (r.outcome, r.last_cause) for p, r in report.items()
    }
    for ep, phone in zip(eps, phones, strict=True):
        if ep.number in confirmed_before:
            assert report[ep.number].attempts == 1
            assert await _calls_to(phone) == 1, f"{ep.number} confirmed but was rung again"
    text = log.read_text()
    assert "may hear the bulletin twice" in text, text[-3000:]


async def test_an_asterisk_restart_mid_campaign_loses_nobody(
    fresh_asterisk: AsteriskSandbox, tmp_path: Path
) -> None:
    info = fresh_asterisk.info
    eps = info.endpoints[:8]
    settings = Settings(
        data_dir=tmp_path / "var",
        campaigns=CampaignEngineSettings(ring_timeout_s=10, max_concurrent_calls=4),
    )
    async with (
        Fleet(info.host, info.sip_port, log_dir=tmp_path / "rig") as fleet,
        Controller(settings, sandbox=info, serve_web=False,
                   components=[CampaignsComponent]) as controller,
    ):  # fmt: skip
        phones = [await fleet.add_phone(e.name, e.password, _confirmer()) for e in eps]
        await fleet.wait_registered(phones)
        assert controller.db is not None
        cid = await _prepare(controller.db, tmp_path / "var", eps)
        await _wait(controller.db, cid, "midway", 120)
        await fresh_asterisk.restart()
        counts = await _wait(controller.db, cid, "completed", 240)
        report = await _report(controller.db, cid)
    assert len(report) == len(eps)
    assert counts == {"confirmed": len(eps)}, {
        p: (r.outcome, r.last_cause) for p, r in report.items()
    }
    assert any(r.attempts > 1 for r in report.values()), "the cut calls should have been retried"
