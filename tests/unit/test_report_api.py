"""The staff API and the CLI over real reports (made by the dialogue with a scripted
caller, as in test_report_backend): roles, filters, audio, audited status changes,
export, and dead-lettered deliveries shown and sent again."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest

from ivr.cli import main as cli
from ivr.config import Settings
from ivr.reports.component import ReportsComponent
from ivr.reports.testing import ReportsHost, WebhookReceiver, staff_token, wait_for_reports
from ivr.speech.asr.fake import FakeAsrEngine
from ivr.speech.audio import Audio, wav_bytes
from ivr.store.database import Database
from ivr.store.models.auth import Role
from ivr.store.testing import backend_url, open_test_database
from ivr.telephony.call import CallEnded
from ivr.telephony.scripted_call import ScriptedCall

SECRET = "api-test-secret"
SPEECH = wav_bytes(Audio.from_float(0.2 * np.random.default_rng(2).standard_normal(8000), 8000))


class Caller(ScriptedCall):
    async def fetch_recording(self, name: str) -> bytes:
        return SPEECH


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    url = backend_url("sqlite", tmp_path)
    assert url is not None
    async with open_test_database(url) as db:
        yield db


async def report(component: ReportsComponent, key: str = "1") -> None:
    call = Caller(presses={"report_emergency_warning": [key], "report_callback_menu": ["2"]})
    with contextlib.suppress(CallEnded):
        await component.dialogues()["report"](call, ())  # type: ignore[arg-type]


class Api:
    def __init__(self, http: aiohttp.ClientSession, base: str) -> None:
        self.http, self.base = http, base

    async def get(self, path: str, token: str | None, **params: str) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.http.get(self.base + path, headers=headers, params=params) as r:
            body = await r.read()
            if r.content_type == "application/json":
                return r.status, json.loads(body)
            return r.status, body

    async def post(self, path: str, token: str, body: Any) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"}
        async with self.http.post(self.base + path, headers=headers, json=body) as r:
            return r.status, await r.json()


@pytest.fixture
async def api(
    db: Database, tmp_path: Path
) -> AsyncIterator[tuple[Api, ReportsHost, ReportsComponent]]:
    host = ReportsHost(Settings(data_dir=tmp_path / "var"), db)
    async with (
        host.serve(FakeAsrEngine(default="Mill Lane")) as component,
        aiohttp.ClientSession() as http,
    ):
        yield Api(http, f"http://127.0.0.1:{host.web_port}"), host, component


async def test_only_staff_and_admins_see_reports(
    api: tuple[Api, ReportsHost, ReportsComponent],
) -> None:
    client, host, _ = api
    coordinator = await staff_token(host.db, role=Role.COORDINATOR)
    admin = await staff_token(host.db, role=Role.ADMIN)
    assert (await client.get("/api/reports", None))[0] == 401
    assert (await client.get("/api/reports", "wl_not-a-token"))[0] == 401
    assert (await client.get("/api/reports", coordinator))[0] == 403
    assert (await client.get("/api/reports", admin))[0] == 200


async def test_staff_list_filter_and_read_a_report_with_its_audio(
    api: tuple[Api, ReportsHost, ReportsComponent],
) -> None:
    client, host, component = api
    await report(component, "1")
    await report(component, "5")
    theft, fraud = await wait_for_reports(host.db, 2, timeout_s=10)
    token = await staff_token(host.db)
    status, listing = await client.get("/api/reports", token)
    assert status == 200 and listing["total"] == 2
    assert [r["reference"] for r in listing["reports"]] == [fraud.reference, theft.reference]
    status, only = await client.get("/api/reports", token, category="fraud")
    assert [r["reference"] for r in only["reports"]] == [fraud.reference]
    assert (await client.get("/api/reports", token, category="arson"))[0] == 400
    status, detail = await client.get(f"/api/reports/{theft.reference}", token)
    assert detail["category"] == "theft" and detail["location"] == "Mill Lane"
    assert [e["action"] for e in detail["events"]] == ["created", "filed", "transcribed"]
    (where, *_) = detail["answers"]
    assert where["transcript"] == {
        "state": "done",
        "text": "Mill Lane",
        "confidence": 0.9,
        "engine": "fake",
        "no_speech": False,
    }
    status, audio = await client.get(where["audio"]["url"].removeprefix(client.base), token)
    assert status == 200 and audio == SPEECH
    typo = theft.reference[:-1] + str((int(theft.reference[-1]) + 1) % 10)
    assert (await client.get(f"/api/reports/{typo}", token))[0] == 400


async def test_a_status_change_needs_a_note_and_is_audited_with_who_made_it(
    api: tuple[Api, ReportsHost, ReportsComponent],
) -> None:
    client, host, component = api
    await report(component)
    (r,) = await wait_for_reports(host.db, 1, timeout_s=10)
    token = await staff_token(host.db)
    path = f"/api/reports/{r.reference}/status"
    assert (await client.post(path, token, {"status": "triaged"}))[0] == 400
    status, body = await client.post(path, token, {"status": "triaged", "note": "bike theft, PCSO"})
    assert status == 200 and body["status"] == "triaged"
    assert (await client.post(path, token, {"status": "new", "note": "oops"}))[0] == 200
    await client.post(path, token, {"status": "closed", "note": "done"})
    assert (await client.post(path, token, {"status": "new", "note": "x"}))[0] == 409
    _, detail = await client.get(f"/api/reports/{r.reference}", token)
    changes = [
        (e["actor"], e["to_status"], e["note"])
        for e in detail["events"]
        if e["action"] == "status_changed"
    ]
    assert changes == [
        ("token:1 test staff", "triaged", "bike theft, PCSO"),
        ("token:1 test staff", "new", "oops"),
        ("token:1 test staff", "closed", "done"),
    ]


async def test_reports_export_as_csv_and_json(
    api: tuple[Api, ReportsHost, ReportsComponent],
) -> None:
    client, host, component = api
    await report(component)
    (r,) = await wait_for_reports(host.db, 1, timeout_s=10)
    token = await staff_token(host.db)
    status, raw = await client.get("/api/reports/export", token, format="csv")
    rows = list(csv.DictReader(io.StringIO(raw.decode())))
    assert status == 200 and [(x["reference"], x["location"]) for x in rows] == [
        (r.reference, "Mill Lane")
    ]
    status, body = await client.get("/api/reports/export", token, format="json")
    assert [x["description"] for x in body["reports"]] == ["Mill Lane"]


async def test_a_dead_lettered_delivery_is_shown_and_can_be_sent_again(
    db: Database, tmp_path: Path
) -> None:
    async with WebhookReceiver(SECRET, fail_first=3) as receiver:
        settings = Settings(
            data_dir=tmp_path / "var",
            reports={
                "backend_url": receiver.url,
                "backend_secret": SECRET,
                "delivery_max_attempts": 3,
                "delivery_first_retry_s": 0.05,
                "delivery_max_retry_s": 0.05,
                "delivery_poll_s": 0.05,
            },
        )
        host = ReportsHost(settings, db)
        async with host.serve(FakeAsrEngine()) as component, aiohttp.ClientSession() as http:
            client = Api(http, f"http://127.0.0.1:{host.web_port}")
            token = await staff_token(db)
            await report(component)
            (r,) = await wait_for_reports(db, 1, timeout_s=10)
            for _ in range(100):
                _, dead = await client.get("/api/reports", token, delivery="dead")
                if dead["reports"]:
                    break
                await asyncio.sleep(0.05)
            (shown,) = dead["reports"]
            assert shown["delivery"]["state"] == "dead" and shown["delivery"]["attempts"] == 3
            assert shown["delivery"]["last_error"] == "HTTP 503 Service Unavailable"
            assert receiver.accepted == {}
            status, _ = await client.post(f"/api/reports/{r.reference}/delivery/retry", token, {})
            assert status == 200
            await receiver.wait_for(1, timeout_s=10)
            _, detail = await client.get(f"/api/reports/{r.reference}", token)
    assert detail["delivery"]["state"] == "delivered"
    assert [e["action"] for e in detail["events"]][-3:] == [
        "dead_lettered",
        "delivery_requeued",
        "delivered",
    ]


async def test_the_cli_lists_and_shows_reports_as_json(
    db: Database,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    host = ReportsHost(Settings(data_dir=tmp_path), db)
    async with host.serve(FakeAsrEngine(default="someone took my bike")) as component:
        await report(component)
        (r,) = await wait_for_reports(db, 1, timeout_s=10)
    monkeypatch.setenv("WATCHLINE_DATA_DIR", str(tmp_path))
    assert await _cli(["reports", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [x["reference"] for x in listed["reports"]] == [r.reference]
    assert await _cli(["reports", "show", r.reference, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["description"] == "someone took my bike" and shown["category"] == "theft"
    assert await _cli(["reports", "show", "1234"]) == 2  # not a reference: a clear error
    assert "not a valid reference" in capsys.readouterr().err
    assert await _cli(["reports", "purge"]) == 0  # nothing is 90 days old yet
    assert "deleted 0 audio file(s)" in capsys.readouterr().out


async def _cli(argv: list[str]) -> int:
    """The CLI runs its own event loop: run it in a thread, as a shell would."""
    return await asyncio.to_thread(cli, argv)
