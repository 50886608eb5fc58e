"""The bulletin line's API: coordinators (admin), typed bulletins, transcripts, sends.

    GET  /api/coordinators                      admin: every coordinator (never a PIN hash)
    POST /api/coordinators                      {"name", "phone", "pin", "groups": [...]}
    GET  /api/coordinators/{id}
    PUT  /api/coordinators/{id}/groups          {"groups": [...]}
    PUT  /api/coordinators/{id}/pin             {"pin": "..."}  (also lifts a lockout)
    POST /api/coordinators/{id}/unlock
    GET  /api/coordinators/{id}/events?limit=   the audit trail: sign-ins, lockouts, sends

    POST /api/bulletins/text                    coordinator: {"title", "text", "urgent"},
                                                voiced with the TTS engine
    GET  /api/bulletins/{id}                    with its transcript, whether it is approved,
                                                and the state of its speech recognition
    POST /api/bulletins/{id}/transcribe         queue speech recognition (uploaded audio)
    POST /api/bulletins/{id}/send               {"groups": [...], "urgent": false,
                                                 "when": "now" | "this_evening" |
                                                 "tomorrow_morning"}
    GET  /api/bulletin-sends                    scheduled and started sends, newest first

The transcript is corrected and approved through the campaigns API (``PUT
/api/bulletins/{id}/text``, ``POST /api/bulletins/{id}/approve``), which also checks that
it fits on a fax. A PIN is read from the body by hand, never through a validation error
that would echo it.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from ivr.bulletin_line.admin import Actor
from ivr.bulletin_line.bulletins import TextBulletin
from ivr.errors import InputError
from ivr.store.models.auth import Role
from ivr.store.models.coordinators import BulletinSend
from ivr.web.auth import DATABASE, Principal, require

if TYPE_CHECKING:
    from ivr.bulletin_line.component import BulletinLineComponent

LINE: web.AppKey[BulletinLineComponent] = web.AppKey("bulletin_line")
MAX_EVENTS = 1000

routes = web.RouteTableDef()


class NewCoordinator(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    phone: str = Field(min_length=1, max_length=40)
    groups: list[str] = Field(default_factory=list)


class Groups(BaseModel):
    model_config = ConfigDict(extra="forbid")
    groups: list[str]


class NewTextBulletin(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=200)
    text: str = Field(min_length=1)
    urgent: bool = False


class Send(BaseModel):
    model_config = ConfigDict(extra="forbid")
    groups: list[str] = Field(min_length=1)
    urgent: bool = False
    when: str = "now"


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except json.JSONDecodeError as e:
        raise InputError(f"the body is not JSON: {e.msg}") from e
    if not isinstance(body, dict):
        raise InputError("the body must be a JSON object")
    return body


def _pin(body: dict[str, Any]) -> str:
    pin = body.pop("pin", None)
    if not isinstance(pin, str):
        raise InputError("'pin' is required: a string of 4 to 8 digits")
    return pin


def _id(request: web.Request, name: str) -> int:
    return int(request.match_info[name])  # the route's pattern allows digits only


def _actor(who: Principal) -> Actor:
    return Actor("api", f"token:{who.token_id} {who.name}")


# ---- coordinators (admin) ---------------------------------------------------------------------


@routes.get("/api/coordinators")
async def list_coordinators(request: web.Request) -> web.Response:
    require(request)
    return web.json_response(await request.app[LINE].admin.list_all())


@routes.post("/api/coordinators")
async def add_coordinator(request: web.Request) -> web.Response:
    who = require(request)
    body = await _body(request)
    pin = _pin(body)
    new = NewCoordinator.model_validate(body)
    view = await request.app[LINE].admin.add(
        name=new.name, phone=new.phone, pin=pin, groups=new.groups, actor=_actor(who)
    )
    await request.app[LINE].service.group_sounds(view["groups"])
    return web.json_response(view, status=201)


@routes.get(r"/api/coordinators/{coordinator_id:\d+}")
async def show_coordinator(request: web.Request) -> web.Response:
    require(request)
    return web.json_response(await request.app[LINE].admin.show(_id(request, "coordinator_id")))


@routes.put(r"/api/coordinators/{coordinator_id:\d+}/groups")
async def set_groups(request: web.Request) -> web.Response:
    who = require(request)
    body = Groups.model_validate(await _body(request))
    line = request.app[LINE]
    view = await line.admin.set_groups(
        _id(request, "coordinator_id"), body.groups, actor=_actor(who)
    )
    await line.service.group_sounds(view["groups"])
    return web.json_response(view)


@routes.put(r"/api/coordinators/{coordinator_id:\d+}/pin")
async def set_pin(request: web.Request) -> web.Response:
    who = require(request)
    body = await _body(request)
    pin = _pin(body)
    if body:
        raise InputError(f"unexpected fields: {', '.join(sorted(body))}")
    await request.app[LINE].admin.set_pin(_id(request, "coordinator_id"), pin, actor=_actor(who))
    return web.Response(status=204)


@routes.post(r"/api/coordinators/{coordinator_id:\d+}/unlock")
async def unlock(request: web.Request) -> web.Response:
    who = require(request)
    view = await request.app[LINE].admin.unlock(_id(request, "coordinator_id"), actor=_actor(who))
    return web.json_response(view)


@routes.get(r"/api/coordinators/{coordinator_id:\d+}/events")
async def events(request: web.Request) -> web.Response:
    require(request)
    try:
        limit = min(max(int(request.query.get("limit", "100")), 1), MAX_EVENTS)
    except ValueError as e:
        raise InputError("limit must be a number") from e
    trail = await request.app[LINE].admin.audit_trail(_id(request, "coordinator_id"), limit=limit)
    return web.json_response(trail)


# ---- bulletins (coordinators) ---------------------------------------------------------------


@routes.post("/api/bulletins/text")
async def bulletin_from_text(request: web.Request) -> web.Response:
    who = require(request, Role.COORDINATOR)
    body = NewTextBulletin.model_validate(await _body(request))
    desk = request.app[LINE].bulletins
    bulletin_id = await desk.from_text(
        TextBulletin(body.title, body.text, body.urgent), created_by=who.name
    )
    return web.json_response(await desk.show(bulletin_id), status=201)


@routes.get(r"/api/bulletins/{bulletin_id:\d+}")
async def show_bulletin(request: web.Request) -> web.Response:
    require(request, Role.COORDINATOR, Role.STAFF)
    return web.json_response(await request.app[LINE].bulletins.show(_id(request, "bulletin_id")))


@routes.post(r"/api/bulletins/{bulletin_id:\d+}/transcribe")
async def transcribe(request: web.Request) -> web.Response:
    require(request, Role.COORDINATOR)
    line = request.app[LINE]
    bulletin_id = _id(request, "bulletin_id")
    await line.bulletins.request_transcription(bulletin_id)
    line.transcribe_soon(bulletin_id)
    return web.json_response(await line.bulletins.show(bulletin_id), status=202)


@routes.post(r"/api/bulletins/{bulletin_id:\d+}/send")
async def send(request: web.Request) -> web.Response:
    who = require(request, Role.COORDINATOR)
    body = Send.model_validate(await _body(request))
    outcome = await request.app[LINE].service.send_existing(
        _id(request, "bulletin_id"), body.groups, urgent=body.urgent,
        preset=None if body.when == "now" else body.when, source=who.name,
    )  # fmt: skip
    return web.json_response(
        {
            "bulletin_id": outcome.bulletin_id,
            "campaign_id": outcome.campaign_id,
            "run_at": outcome.run_at.isoformat() if outcome.run_at else None,
        },
        status=201,
    )


@routes.get("/api/bulletin-sends")
async def list_sends(request: web.Request) -> web.Response:
    require(request, Role.COORDINATOR, Role.STAFF)
    async with request.app[DATABASE].session() as s:
        rows = list(
            await s.scalars(select(BulletinSend).order_by(BulletinSend.id.desc()).limit(500))
        )
    return web.json_response(
        [
            {
                "id": r.id, "bulletin_id": r.bulletin_id, "campaign_id": r.campaign_id,
                "coordinator_id": r.coordinator_id, "state": r.state.value, "preset": r.preset,
                "run_at": r.run_at.isoformat() if r.run_at else None,
                "started_at": r.started_at.isoformat() if r.started_at else None,
            }
            for r in rows
        ]
    )  # fmt: skip


def add_routes(app: web.Application, line: BulletinLineComponent) -> None:
    app[LINE] = line
    app.router.add_routes(routes)
