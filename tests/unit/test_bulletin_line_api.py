"""The bulletin line's API over HTTP on 127.0.0.1: coordinators (admin only, PINs never
echoed), bulletins typed as text and voiced, transcript approval, and sends at presets."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from ivr.auth.tokens import create_token
from ivr.bulletin_line import publish
from ivr.bulletin_line.component import BulletinLineComponent
from ivr.bulletin_line.testing import FixedClock, LineHost, add_members, speech_like
from ivr.bulletins import media
from ivr.config import Settings
from ivr.speech.asr.fake import FakeAsrEngine
from ivr.speech.audio import read_wav
from ivr.speech.tts.engine import EngineChain
from ivr.speech.tts.fake import FakeTtsEngine
from ivr.store.database import Database
from ivr.store.models import Bulletin, Campaign
from ivr.store.models.auth import Role
from ivr.store.models.coordinators import Coordinator
from ivr.store.testing import backend_url, open_test_database

NOW = datetime(2025, 1, 15, 15, 0, tzinfo=UTC)
PIN = "5081"


@dataclass
class Api:
    http: aiohttp.ClientSession
    base: str
    db: Database
    component: BulletinLineComponent
    admin: str
    coordinator: str

    async def request(
        self, method: str, path: str, token: str | None, body: Any = None
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.http.request(method, self.base + path, headers=headers, json=body) as r:
            text = await r.text()
            return r.status, json.loads(
                text
            ) if text and r.content_type == "application/json" else text


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    url = backend_url("sqlite", tmp_path)
    assert url is not None
    clock = FixedClock(NOW)
    settings = Settings(data_dir=tmp_path / "var", database_url=url)
    async with open_test_database(url) as db:
        host = LineHost(settings, db, clock, sounds_dir=tmp_path / "sounds")
        tts = EngineChain([FakeTtsEngine()])
        async with (
            host.serve(FakeAsrEngine(default="a van was seen on mill lane"), tts) as component,
            aiohttp.ClientSession() as http,
        ):
            async with db.session(write=True) as s:
                admin = await create_token(s, name="admin", role=Role.ADMIN, now=NOW)
                coordinator = await create_token(s, name="Ann", role=Role.COORDINATOR, now=NOW)
            await add_members(db, "riverside", ["+441632960401", "+441632960402"])
            await add_members(db, "kings-arms", ["+441632960403"])
            yield Api(http, f"http://127.0.0.1:{host.web_port}", db, component, admin,
                      coordinator)  # fmt: skip


NEW = {"name": "Ann Lee", "phone": "01632 960100", "pin": PIN, "groups": ["riverside"]}


async def test_only_an_admin_manages_coordinators_and_no_answer_carries_the_pin(api: Api) -> None:
    assert (await api.request("GET", "/api/coordinators", None))[0] == 401
    assert (await api.request("POST", "/api/coordinators", api.coordinator, NEW))[0] == 403
    status, made = await api.request("POST", "/api/coordinators", api.admin, NEW)
    assert status == 201, made
    assert made["phone"] == "+441632960100" and made["groups"] == ["riverside"]
    assert PIN not in json.dumps(made) and "pin_hash" not in made
    status, listing = await api.request("GET", "/api/coordinators", api.admin)
    assert status == 200 and [c["id"] for c in listing] == [made["id"]]
    async with api.db.session() as s:
        (row,) = await s.scalars(select(Coordinator))
    assert row.pin_hash.startswith("$argon2id$") and PIN not in row.pin_hash


@pytest.mark.parametrize(
    ("change", "status", "reason"),
    [({"pin": "1111"}, 400, "repeated"), ({"pin": 5081}, 400, "pin"),
     ({"phone": "not a phone"}, 400, "phone"), ({"groups": ["nowhere"]}, 404, "nowhere"),
     ({"colour": "red"}, 400, "colour")],
)  # fmt: skip
async def test_a_bad_coordinator_is_refused_with_a_reason_and_nothing_is_stored(
    api: Api, change: dict[str, Any], status: int, reason: str
) -> None:
    got, body = await api.request("POST", "/api/coordinators", api.admin, NEW | change)
    assert got == status and reason in json.dumps(body), body
    assert "1111" not in json.dumps(body)
    assert (await api.request("GET", "/api/coordinators", api.admin))[1] == []


async def test_a_phone_number_belongs_to_one_coordinator(api: Api) -> None:
    assert (await api.request("POST", "/api/coordinators", api.admin, NEW))[0] == 201
    again = NEW | {"name": "Someone Else", "phone": "+441632960100"}
    assert (await api.request("POST", "/api/coordinators", api.admin, again))[0] == 409


async def test_groups_pin_unlock_and_the_audit_trail(api: Api) -> None:
    _, made = await api.request("POST", "/api/coordinators", api.admin, NEW)
    cid = made["id"]
    status, view = await api.request(
        "PUT", f"/api/coordinators/{cid}/groups", api.admin, {"groups": ["kings-arms", "riverside"]}
    )
    assert status == 200 and view["groups"] == ["kings-arms", "riverside"]
    assert (await api.request("PUT", f"/api/coordinators/{cid}/pin", api.admin,
                              {"pin": "7391"}))[0] == 204  # fmt: skip
    assert (await api.request("POST", f"/api/coordinators/{cid}/unlock", api.admin))[0] == 200
    status, trail = await api.request("GET", f"/api/coordinators/{cid}/events", api.admin)
    assert [e["kind"] for e in trail] == ["unlocked", "pin_changed", "groups_changed", "created"]
    assert all(e["via"] == "api" and e["source"].endswith("admin") for e in trail)
    assert "7391" not in json.dumps(trail) and PIN not in json.dumps(trail)
    assert (await api.request("GET", "/api/coordinators/99", api.admin))[0] == 404


async def test_a_typed_bulletin_is_voiced_and_its_text_is_the_approved_transcript(
    api: Api,
) -> None:
    body = {"title": "Sheds", "text": "Please lock your garden sheds tonight.", "urgent": True}
    status, made = await api.request("POST", "/api/bulletins/text", api.coordinator, body)
    assert status == 201, made
    assert made["transcript"] == body["text"] and made["transcript_approved"]
    assert made["transcription"] is None and made["urgent"]
    async with api.db.session() as s:
        bulletin = await s.get(Bulletin, made["id"])
    assert bulletin is not None and read_wav(bulletin.audio_path).duration_s > 1.0
    assert (await api.request("POST", "/api/bulletins/text", api.coordinator,
                              body | {"text": "   "}))[0] == 400  # fmt: skip


async def test_a_transcript_is_recognised_and_offered_for_approval(api: Api) -> None:
    """Speech recognition fills the transcript, unapproved; it is corrected and approved
    through the campaigns API, and the bulletin then shows it approved."""
    # a bulletin uploaded without text (the upload API stores audio only)
    spec = publish.NewBulletin(title="van", created_by="Ann", urgent=False, transcribe=False)
    async with api.db.session(write=True) as s:
        bulletin = await publish.create_bulletin(
            s, media.prepare(speech_like()), spec, data_dir=api.component.service.data_dir, now=NOW
        )
    path = f"/api/bulletins/{bulletin.id}"
    status, shown = await api.request("GET", path, api.coordinator)
    assert status == 200 and shown["transcription"] is None and shown["transcript"] is None
    status, shown = await api.request("POST", f"{path}/transcribe", api.coordinator)
    assert status == 202 and shown["transcription"] == "pending"
    for _ in range(100):
        status, shown = await api.request("GET", path, api.coordinator)
        if shown["transcription"] == "done":
            break
        await asyncio.sleep(0.05)
    assert shown["transcript"] == "a van was seen on mill lane"
    assert not shown["transcript_approved"]
    fixed = "A van was seen on Mill Lane."
    status, _ = await api.request("PUT", f"{path}/text", api.coordinator,
                                  {"text": fixed, "approved": False})  # fmt: skip
    assert status == 200
    assert (await api.request("POST", f"{path}/approve", api.coordinator))[0] == 200
    status, shown = await api.request("GET", path, api.coordinator)
    assert shown["transcript"] == fixed and shown["transcript_approved"]
    assert (await api.request("GET", "/api/bulletins/999", api.coordinator))[0] == 404


async def test_an_existing_bulletin_is_sent_at_a_preset_and_listed_as_scheduled(api: Api) -> None:
    _, made = await api.request("POST", "/api/bulletins/text", api.coordinator,
                                {"title": "t", "text": "Lock your doors."})  # fmt: skip
    send = {"groups": ["riverside"], "when": "this_evening"}
    status, sent = await api.request("POST", f"/api/bulletins/{made['id']}/send",
                                     api.coordinator, send)  # fmt: skip
    assert status == 201, sent
    assert sent["run_at"] == "2025-01-15T19:00:00+00:00"
    status, sends = await api.request("GET", "/api/bulletin-sends", api.coordinator)
    assert [(x["state"], x["preset"]) for x in sends] == [("pending", "this_evening")]
    async with api.db.session() as s:
        campaign = await s.get(Campaign, sent["campaign_id"])
    assert campaign is not None and campaign.state.value == "draft"
    status, now = await api.request("POST", f"/api/bulletins/{made['id']}/send",
                                    api.coordinator, send | {"when": "now"})  # fmt: skip
    assert status == 201 and now["run_at"] is None
    for bad, code in (({"when": "next_week"}, 400), ({"groups": ["nowhere"]}, 404)):
        got, body = await api.request("POST", f"/api/bulletins/{made['id']}/send",
                                      api.coordinator, send | bad)  # fmt: skip
        assert got == code, body
    assert (await api.request("POST", "/api/bulletins/999/send", api.coordinator, send))[0] == 404
    assert len((await api.request("GET", "/api/bulletin-sends", api.coordinator))[1]) == 2
