"""A send scheduled for "this evening at 7" survives the controller being killed before 7.

The controller runs as its own process (as ``ivr serve`` does, in external mode against the
test sandbox) with its clock shifted so that it is 18:59:40 in London when the test starts.
Through the API a typed bulletin is made and sent "this evening". The process is then
SIGKILLed, before seven, and started again. At seven by its clock the campaign starts,
once; the member is rung once and confirms.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from datetime import UTC, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from sqlalchemy import select

from ivr.auth.tokens import create_token
from ivr.bulletin_line.testing import add_members
from ivr.campaigns.service import CampaignService
from ivr.clock import ShiftedClock
from ivr.sandbox import SandboxInfo
from ivr.sandbox.info import external_asterisk_toml
from ivr.store.database import Database
from ivr.store.models import Campaign
from ivr.store.models.auth import Role
from ivr.store.models.coordinators import BulletinSend, CoordinatorEvent
from sip_test_rig.fleet import Fleet
from sip_test_rig.rig_phone import RigPhone
from sip_test_rig.script import PhoneScript, Playback, dtmf_sequence
from tests.conftest import EndpointPool
from tests.spoken import spoken_wav

pytestmark = pytest.mark.e2e

#: Seconds before seven o'clock (by the controller's clock) when the test starts.
LEAD_S = 20.0

# The controller as `ivr serve` runs it, but with a shifted clock (argv: config, offset).
BOOT = """
import asyncio, signal, sys
from pathlib import Path
from ivr.app import Controller
from ivr.cli import setup_logging
from ivr.clock import ShiftedClock
from ivr.config import load_settings

async def main() -> None:
    settings = load_settings(Path(sys.argv[1]))
    setup_logging(settings, False)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    async with Controller(settings, clock=ShiftedClock(float(sys.argv[2]))) as c:
        print(f"serving on {c.web_port}", flush=True)
        await stop.wait()

asyncio.run(main())
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _config(tmp_path: Path, info: SandboxInfo, port: int) -> Path:
    config = tmp_path / "watchline.toml"
    config.write_text(
        f"""data_dir = "{tmp_path / "var"}"
components = ["campaigns", "bulletin_line"]

{external_asterisk_toml(info)}
[campaigns]
ring_timeout_s = 10

[web]
port = {port}
"""
    )
    return config


def _start(config: Path, offset_s: float, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-c", BOOT, str(config), repr(offset_s)],
            env=dict(os.environ), stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip


async def _up(http: aiohttp.ClientSession, base: str, process: subprocess.Popen[bytes]) -> None:
    async with asyncio.timeout(60):
        while True:
            assert process.poll() is None, "the controller exited during start-up"
            try:
                async with http.get(f"{base}/api/health") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)


def _seven_minus(lead_s: float) -> ShiftedClock:
    zone = ZoneInfo("Europe/London")
    seven = datetime.combine(datetime.now(zone).date(), time(19, 0), tzinfo=zone)
    return ShiftedClock((seven - datetime.now(UTC)).total_seconds() - lead_s)


async def _calls_to(phone: RigPhone) -> int:
    n = 0
    while True:
        try:
            await phone.next_call_result(timeout_s=0.3)
        except TimeoutError:
            return n
        n += 1


async def test_a_send_scheduled_for_seven_starts_once_after_a_kill_and_restart_before_seven(
    asterisk: SandboxInfo, fleet: Fleet, endpoints: EndpointPool, tmp_path: Path
) -> None:
    (ep,) = endpoints.take(1)
    hello = Playback(path=spoken_wav("Hello?"), at_s=0.2)
    member = await fleet.add_phone(
        ep.name,
        ep.password,
        PhoneScript(
            answer_after_s=1, play=(hello,), dtmf=dtmf_sequence("1", start_s=8), hangup_after_s=45
        ),
    )
    await fleet.wait_registered([member])
    clock = _seven_minus(LEAD_S)
    port = _free_port()
    config = _config(tmp_path, asterisk, port)
    (tmp_path / "var").mkdir()
    url = f"sqlite+aiosqlite:///{tmp_path / 'var' / 'watchline.db'}"
    log = tmp_path / "serve.log"
    base = f"http://127.0.0.1:{port}"
    async with Database.open(url) as db, aiohttp.ClientSession() as http:
        await add_members(db, "high-street", [ep.number])
        async with db.session(write=True) as s:
            token = await create_token(s, name="Ann", role=Role.COORDINATOR, now=clock.now())
        auth = {"Authorization": f"Bearer {token}"}
        first = _start(config, clock.offset_s, log)
        try:
            await _up(http, base, first)
            body = {"title": "Vans", "text": "A white van has been seen trying car doors."}
            async with http.post(f"{base}/api/bulletins/text", json=body, headers=auth) as r:
                assert r.status == 201, await r.text()
                bulletin = await r.json()
            send = {"groups": ["high-street"], "when": "this_evening"}
            async with http.post(f"{base}/api/bulletins/{bulletin['id']}/send", json=send,
                                 headers=auth) as r:  # fmt: skip
                assert r.status == 201, await r.text()
                sent = await r.json()
            run_at = datetime.fromisoformat(sent["run_at"])
            left = (run_at - clock.now()).total_seconds()
            assert left > 8, f"too slow to test a restart before the send ({left:.1f} s left)"
        finally:
            first.send_signal(signal.SIGKILL)  # no clean-up of any kind
            first.wait(10)
        async with db.session() as s:
            (row,) = await s.scalars(select(BulletinSend))
            campaign = await s.get(Campaign, row.campaign_id)
        assert row.state.value == "pending" and campaign is not None
        assert campaign.state.value == "draft", "started before seven"
        second = _start(config, clock.offset_s, log)
        try:
            await _up(http, base, second)
            service = CampaignService(db, clock, data_dir=Path(), sounds_dir=None)
            async with asyncio.timeout(LEAD_S + 90):
                while (await service.summary(row.campaign_id)).state != "completed":
                    await asyncio.sleep(0.5)
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(30) == 0, log.read_text()[-3000:]
        async with db.session() as s:
            row = await s.get(BulletinSend, row.id)
            campaigns = list(await s.scalars(select(Campaign)))
            started = list(await s.scalars(select(CoordinatorEvent).where(
                CoordinatorEvent.via == "scheduler")))  # fmt: skip
        summary = await service.summary(campaigns[0].id)
    assert row is not None and row.state.value == "started"
    assert row.started_at is not None and row.started_at >= run_at
    assert len(campaigns) == 1 and campaigns[0].started_at == row.started_at
    assert len(started) == 1, [e.detail for e in started]  # started once
    assert summary.counts == {"confirmed": 1}
    assert await _calls_to(member) == 1
