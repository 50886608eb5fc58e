"""``/api/bulletins``, ``/api/groups`` and ``/api/campaigns``: coordinators' broadcast API."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import BodyPartReader, web
from pydantic import BaseModel, ConfigDict, Field

from ivr.campaigns import report
from ivr.campaigns.component import SERVICE
from ivr.campaigns.policy import CampaignSettings, Priority
from ivr.errors import InputError
from ivr.members.fields import Scheme
from ivr.store import members_repo
from ivr.store.models.auth import Role
from ivr.web.auth import DATABASE, require

routes = web.RouteTableDef()


class NewCampaign(BaseModel):
    model_config = ConfigDict(extra="forbid")
    bulletin_id: int
    groups: list[str] = Field(min_length=1)
    priority: Priority = Priority.NORMAL
    settings: CampaignSettings | None = None
    start: bool = False


class NewGroup(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    scheme: Scheme = Scheme.NEIGHBOURHOOD_WATCH
    area: str | None = None
    coordinator: str | None = None


async def _json(request: web.Request) -> Any:
    try:
        return await request.json()
    except json.JSONDecodeError as e:
        raise InputError(f"the body is not JSON: {e}") from e


def _campaign_id(request: web.Request) -> int:
    try:
        return int(request.match_info["campaign_id"])
    except ValueError as e:
        raise InputError("campaign id must be a number") from e


@routes.post("/api/bulletins")
async def add_bulletin(request: web.Request) -> web.Response:
    """multipart/form-data: ``audio`` (WAV file), ``title``, optional ``urgent``."""
    who = require(request, Role.COORDINATOR)
    if not request.content_type.startswith("multipart/"):
        raise InputError("send multipart/form-data with an 'audio' file and a 'title'")
    fields: dict[str, str] = {}
    audio: bytes | None = None
    async for part in await request.multipart():
        if not isinstance(part, BodyPartReader):
            continue
        if part.name == "audio":
            audio = await part.read()
        elif part.name:
            fields[part.name] = (await part.read()).decode("utf-8", "replace")
    if audio is None:
        raise InputError("no 'audio' file in the request")
    bulletin_id = await request.app[SERVICE].add_bulletin(
        bytes(audio), title=fields.get("title", ""), created_by=who.name,
        urgent=fields.get("urgent", "").lower() in ("1", "true", "yes"),
    )  # fmt: skip
    return web.json_response({"id": bulletin_id}, status=201)


class BulletinText(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=20_000)
    approved: bool = True


def _bulletin_id(request: web.Request) -> int:
    try:
        return int(request.match_info["bulletin_id"])
    except ValueError as e:
        raise InputError("bulletin id must be a number") from e


@routes.put("/api/bulletins/{bulletin_id}/text")
async def set_bulletin_text(request: web.Request) -> web.Response:
    """The text fax members receive (typed, or a corrected transcript), approved or not."""
    who = require(request, Role.COORDINATOR)
    body = BulletinText.model_validate(await _json(request))
    await request.app[SERVICE].set_bulletin_text(
        _bulletin_id(request), body.text, approved=body.approved, by=who.name
    )
    return web.json_response({"id": _bulletin_id(request), "approved": body.approved})


@routes.post("/api/bulletins/{bulletin_id}/approve")
async def approve_bulletin_text(request: web.Request) -> web.Response:
    """Approve the bulletin's transcript as it stands: fax members then receive it."""
    who = require(request, Role.COORDINATOR)
    await request.app[SERVICE].approve_transcript(_bulletin_id(request), by=who.name)
    return web.json_response({"id": _bulletin_id(request), "approved": True})


@routes.get("/api/groups")
async def list_groups(request: web.Request) -> web.Response:
    require(request, Role.COORDINATOR, Role.STAFF)
    async with request.app[DATABASE].session() as s:
        groups = await members_repo.all_groups(s)
    return web.json_response(
        [{"id": g.id, "name": g.name, "scheme": g.scheme.value, "area": g.area,
          "coordinator": g.coordinator} for g in groups]
    )  # fmt: skip


@routes.post("/api/groups")
async def add_group(request: web.Request) -> web.Response:
    require(request, Role.COORDINATOR)
    body = NewGroup.model_validate(await _json(request))
    async with request.app[DATABASE].session(write=True) as s:
        group = await members_repo.create_group(
            s, body.name, scheme=body.scheme, area=body.area, coordinator=body.coordinator
        )
    return web.json_response({"id": group.id, "name": group.name}, status=201)


@routes.post("/api/campaigns")
async def create_campaign(request: web.Request) -> web.Response:
    require(request, Role.COORDINATOR)
    body = NewCampaign.model_validate(await _json(request))
    campaign_id = await request.app[SERVICE].create(
        body.bulletin_id, body.groups, priority=body.priority, settings=body.settings,
        start=body.start,
    )  # fmt: skip
    summary = await request.app[SERVICE].summary(campaign_id)
    return web.json_response(report.summary_dict(summary), status=201)


@routes.get("/api/campaigns")
async def list_campaigns(request: web.Request) -> web.Response:
    require(request, Role.COORDINATOR, Role.STAFF)
    summaries = await request.app[SERVICE].all_summaries()
    return web.json_response([report.summary_dict(s) for s in summaries])


@routes.get("/api/campaigns/{campaign_id}")
async def get_campaign(request: web.Request) -> web.Response:
    require(request, Role.COORDINATOR, Role.STAFF)
    summary = await request.app[SERVICE].summary(_campaign_id(request))
    return web.json_response(report.summary_dict(summary))


@routes.post("/api/campaigns/{campaign_id}/{action:start|pause|resume|cancel}")
async def change_state(request: web.Request) -> web.Response:
    require(request, Role.COORDINATOR)
    service = request.app[SERVICE]
    campaign_id = _campaign_id(request)
    await getattr(service, request.match_info["action"])(campaign_id)
    return web.json_response(report.summary_dict(await service.summary(campaign_id)))


@routes.get("/api/campaigns/{campaign_id}/report")
async def delivery_report(request: web.Request) -> web.StreamResponse:
    """``?format=json`` (default) or ``csv``; streamed, so 100k rows never sit in memory."""
    require(request, Role.COORDINATOR, Role.STAFF)
    service = request.app[SERVICE]
    campaign_id = _campaign_id(request)
    summary = await service.summary(campaign_id)
    fmt = request.query.get("format", "json")
    if fmt not in ("json", "csv"):
        raise InputError("format must be json or csv")
    response = web.StreamResponse(
        headers={"Content-Type": "text/csv; charset=utf-8" if fmt == "csv" else "application/json"}
    )
    if fmt == "csv":
        response.headers["Content-Disposition"] = (
            f'attachment; filename="campaign-{campaign_id}-report.csv"'
        )
    await response.prepare(request)
    if fmt == "csv":
        await response.write(report.csv_header().encode())
        async for row in service.report_rows(campaign_id):
            await response.write(report.csv_row(row).encode())
    else:
        head = json.dumps(report.summary_dict(summary))[:-1]
        await response.write(f'{head}, "members": ['.encode())
        first = True
        async for row in service.report_rows(campaign_id):
            await response.write(
                (("" if first else ",") + json.dumps(report.row_dict(row))).encode()
            )
            first = False
        await response.write(b"]}")
    await response.write_eof()
    return response


def add_routes(app: web.Application) -> None:
    app.router.add_routes(routes)
