"""A report survives its controller being killed between the call and the delivery.

``ivr serve`` (reports only) takes a call while the external backend is down, stores and
transcribes the report, fails to deliver it, and is SIGKILLed. The backend comes up, a
second ``ivr serve`` starts on the same data: the report arrives, exactly once, signed.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from ivr.config import Settings
from ivr.reports.rig_caller import PromptTimes, ReportCaller, plan_report_call
from ivr.reports.rig_speech import LOCATIONS, caller_wavs, default_cache_dir
from ivr.reports.testing import WebhookReceiver
from ivr.sandbox import SandboxInfo
from ivr.sandbox.info import external_asterisk_toml
from ivr.speech.tts.ensure import ensure_prompts
from ivr.store.database import Database
from ivr.store.models.reports import Report, ReportDelivery
from sip_test_rig.fleet import Fleet
from tests.conftest import EndpointPool

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SECRET = "restart-secret-81c2"
WHAT = "Somebody smashed the wing mirror on my van while it was parked on the street."


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _config(tmp_path: Path, info: SandboxInfo, backend_port: int) -> Path:
    config = tmp_path / "watchline.toml"
    config.write_text(
        f"""data_dir = "{tmp_path / "var"}"
components = ["reports"]

{external_asterisk_toml(info)}
[web]
port = {_free_port()}

[reports]
backend_url = "http://127.0.0.1:{backend_port}/reports"
backend_secret = "{SECRET}"
# never dead-lettered while this test runs: only the kill may stop it
delivery_first_retry_s = 1.0
delivery_max_retry_s = 3.0
delivery_max_attempts = 100
"""
    )
    return config


def _serve(config: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "WATCHLINE_CONFIG": str(config)}
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "ivr", "serve"], env=env, stdout=out, stderr=subprocess.STDOUT
        )


async def _serving(log: Path, count: int, proc: subprocess.Popen[bytes]) -> None:
    """Until the ``count``-th controller has printed that it is serving."""
    deadline = time.monotonic() + 90
    while log.read_text(errors="replace").count("watchline serving on") < count:
        assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
        assert time.monotonic() < deadline, "controller did not start"
        await asyncio.sleep(0.2)


async def _failed_once(db: Database) -> Report:
    """Until the report is stored, transcribed and its delivery has failed at least once."""
    async with asyncio.timeout(90):
        while True:
            async with db.session() as session:
                row = (
                    await session.execute(
                        select(Report, ReportDelivery).join(
                            ReportDelivery, ReportDelivery.report_id == Report.id
                        )
                    )
                ).first()
            if row is not None and row[1].attempts >= 1:
                return row[0]
            await asyncio.sleep(0.2)


async def test_a_report_is_delivered_after_its_controller_was_killed(
    asterisk: SandboxInfo, fleet: Fleet, endpoints: EndpointPool, tmp_path: Path
) -> None:
    settings = Settings()
    await asyncio.to_thread(ensure_prompts, settings.speech, asterisk.sounds_dir)
    (ep,) = endpoints.take(1)
    phone = await fleet.add_phone(ep.name, ep.password)
    await fleet.wait_registered([phone])
    where_wav, what_wav = caller_wavs([LOCATIONS[3], WHAT], default_cache_dir())
    plan = plan_report_call(
        ReportCaller(where=where_wav, what=what_wav, hangup_after_reference=True),
        PromptTimes(settings.speech.prompts_build_dir / "watchline"),
        record_to=None,
    )
    backend_port = _free_port()
    config = _config(tmp_path, asterisk, backend_port)
    log = tmp_path / "serve.log"
    (tmp_path / "var").mkdir()
    url = f"sqlite+aiosqlite:///{tmp_path / 'var' / 'watchline.db'}"
    first = _serve(config, log)
    try:
        await _serving(log, 1, first)
        result = await fleet.call(phone, "101", plan.script, timeout_s=120)
        async with Database.open(url) as db:
            stored = await _failed_once(db)
    finally:
        first.send_signal(signal.SIGKILL)  # between the call and the delivery; no clean-up
        first.wait(10)
    assert result.answered
    async with WebhookReceiver(SECRET, port=backend_port) as backend:
        second = _serve(config, log)
        try:
            await _serving(log, 2, second)
            await backend.wait_for(1, timeout_s=60)
            await asyncio.sleep(1.0)  # would a second copy follow?
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(30) == 0
    (got,) = backend.accepted[stored.reference]
    assert got.signature_ok and backend.rejected_signatures == 0
    assert list(backend.accepted) == [stored.reference]
    assert got.body["description"] and got.body["location"]
    text = log.read_text(errors="replace")
    assert "not delivered to http://127.0.0.1" in text  # the first controller tried
    assert SECRET not in text
