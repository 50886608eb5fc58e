"""The staff API for phone reports (role ``staff``; ``admin`` passes every check).

    GET  /api/reports                         list, newest first; filters: status, category,
                                              urgent, delivery, since, until; limit, offset
    GET  /api/reports/export?format=csv|json  every matching report (same filters)
    GET  /api/reports/{ref}                   one report: answers, transcripts, audit trail
    GET  /api/reports/{ref}/answers/{id}/audio  the recording (audio/wav, streamed)
    POST /api/reports/{ref}/status            {"status": "triaged", "note": "..."} (audited)
    POST /api/reports/{ref}/delivery/retry    send to the external backend again now

Coordinators have no access: reports hold callers' numbers and voices. A reference that
fails its check digits is a 400 (a typo), an unknown one a 404.
"""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import datetime
from pathlib import Path
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from ivr.errors import InputError, NotFound
from ivr.reports.categories import Category
from ivr.reports.delivery import requeue
from ivr.reports.states import AnswerKind, DeliveryState, ReportStatus
from ivr.reports.views import audio_link, current_text, report_detail, report_summary
from ivr.store import reports_repo as repo
from ivr.store.models.auth import Role
from ivr.store.models.reports import ReportAnswer
from ivr.web.auth import DATABASE, Principal, require
from ivr.web.keys import CONTROLLER

MAX_PAGE = 500
MAX_EXPORT = 50_000
EXPORT_COLUMNS = (
    "reference",
    "created_at",
    "category",
    "status",
    "call_state",
    "urgent",
    "urgent_phrases",
    "no_speech",
    "transcription_failed",
    "caller_number",
    "callback_number",
    "location",
    "description",
    "delivery_state",
)


class StatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: ReportStatus
    note: str = Field(min_length=1, max_length=4000)


def actor(principal: Principal) -> str:
    return f"token:{principal.token_id} {principal.name}"


def _choice(query: Any, name: str, kind: Any) -> Any:
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    try:
        return kind(raw)
    except ValueError:
        raise InputError(
            f"{name}={raw!r} is not one of {', '.join(v.value for v in kind)}"
        ) from None


def _time(query: Any, name: str) -> datetime | None:
    raw = query.get(name)
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"{name}={raw!r} is not an ISO 8601 time") from None
    if value.tzinfo is None:
        raise InputError(f"{name}={raw!r} needs a time zone (e.g. Z)")
    return value


def _int(query: Any, name: str, default: int, most: int) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    if not raw.isdigit():
        raise InputError(f"{name} must be a whole number, got {raw!r}")
    return min(int(raw), most)


def report_filter(query: Any, *, limit: int, most: int) -> repo.ReportFilter:
    urgent = query.get("urgent")
    if urgent not in (None, "", "true", "false"):
        raise InputError("urgent must be true or false")
    return repo.ReportFilter(
        status=_choice(query, "status", ReportStatus),
        category=_choice(query, "category", Category),
        urgent=None if urgent in (None, "") else urgent == "true",
        delivery=_choice(query, "delivery", DeliveryState),
        since=_time(query, "since"),
        until=_time(query, "until"),
        limit=_int(query, "limit", limit, most),
        offset=_int(query, "offset", 0, 10**9),
    )


async def list_reports(request: web.Request) -> web.Response:
    require(request, Role.STAFF)
    f = report_filter(request.query, limit=100, most=MAX_PAGE)
    async with request.app[DATABASE].session() as session:
        rows = await repo.list_reports(session, f)
        total = await repo.count_reports(session, f)
    return web.json_response(
        {
            "reports": [report_summary(r, d) for r, d in rows],
            "total": total,
            "limit": f.limit,
            "offset": f.offset,
        }
    )


def _base_url(request: web.Request) -> str:
    settings = request.app[CONTROLLER].settings.reports
    return settings.public_base_url or f"{request.scheme}://{request.host}"


async def get_report(request: web.Request) -> web.Response:
    require(request, Role.STAFF)
    async with request.app[DATABASE].session() as session:
        report = await repo.get_report(session, request.match_info["reference"])
        answers = await repo.answers_with_jobs(session, report.id)
        events = await repo.events_of(session, report.id)
        delivery = await repo.delivery_of(session, report.id)
    audio = audio_link(_base_url(request), report.reference)
    return web.json_response(report_detail(report, answers, events, delivery, audio))


async def answer_audio(request: web.Request) -> web.StreamResponse:
    require(request, Role.STAFF)
    try:
        answer_id = int(request.match_info["answer_id"])
    except ValueError:
        raise InputError("answer id must be a number") from None
    async with request.app[DATABASE].session() as session:
        report = await repo.get_report(session, request.match_info["reference"])
        answer = await session.get(ReportAnswer, answer_id)
    if answer is None or answer.report_id != report.id:
        raise NotFound(f"report {report.reference} has no answer {answer_id}")
    if answer.audio_purged_at is not None:
        raise web.HTTPGone(
            text=f"audio deleted by the retention policy at {answer.audio_purged_at}"
        )
    if answer.audio_path is None:
        raise NotFound(f"answer {answer_id} has no audio ({answer.fetch_error})")
    path: Path = request.app[CONTROLLER].settings.data_dir / answer.audio_path
    if not await asyncio.to_thread(path.is_file):
        raise NotFound(f"the audio file of answer {answer_id} is missing")
    return web.FileResponse(path, headers={"Content-Type": "audio/wav"})


async def change_status(request: web.Request) -> web.Response:
    principal = require(request, Role.STAFF)
    change = StatusChange.model_validate(await _json(request))
    controller = request.app[CONTROLLER]
    async with request.app[DATABASE].session(write=True) as session:
        report = await repo.change_status(
            session,
            request.match_info["reference"],
            change.status,
            note=change.note,
            actor=actor(principal),
            now=controller.clock.now(),
        )
        delivery = await repo.delivery_of(session, report.id)
    return web.json_response(report_summary(report, delivery))


async def retry_delivery(request: web.Request) -> web.Response:
    principal = require(request, Role.STAFF)
    controller = request.app[CONTROLLER]
    await requeue(
        request.app[DATABASE],
        request.match_info["reference"],
        actor=actor(principal),
        now=controller.clock.now(),
    )
    try:
        reports = controller.component("reports")
    except KeyError:
        reports = None
    wake = getattr(reports, "wake_outbox", None)
    if callable(wake):
        wake()
    return web.json_response({"reference": request.match_info["reference"], "queued": True})


async def export_reports(request: web.Request) -> web.StreamResponse:
    require(request, Role.STAFF)
    fmt = request.query.get("format", "json")
    if fmt not in ("json", "csv"):
        raise InputError("format must be json or csv")
    f = report_filter(request.query, limit=MAX_EXPORT, most=MAX_EXPORT)
    async with request.app[DATABASE].session() as session:
        rows = await repo.list_reports(session, f)
        answers = await repo.answers_of_reports(session, [r.id for r, _ in rows])
    records = []
    for report, delivery in rows:
        body = report_summary(report, delivery)
        body["location"] = current_text(answers.get(report.id, []), AnswerKind.WHERE)
        body["description"] = current_text(answers.get(report.id, []), AnswerKind.WHAT)
        records.append(body)
    stamp = request.app[CONTROLLER].clock.now().strftime("%Y%m%dT%H%M%SZ")
    disposition = {"Content-Disposition": f'attachment; filename="reports-{stamp}.{fmt}"'}
    if fmt == "json":
        return web.json_response({"reports": records}, headers=disposition)
    return web.Response(text=_csv(records), content_type="text/csv", headers=disposition)


def _csv(records: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    for r in records:
        writer.writerow(
            [
                r["reference"],
                r["created_at"],
                r["category"] or "",
                r["status"],
                r["call_state"],
                r["urgent"],
                " | ".join(r["urgent_phrases"]),
                r["no_speech"],
                r["transcription_failed"],
                r["caller"]["number"] or "withheld",
                r["callback"]["number"] or "",
                _cell(r["location"]),
                _cell(r["description"]),
                (r["delivery"] or {}).get("state", ""),
            ]
        )
    return out.getvalue()


def _cell(text: str | None) -> str:
    # A cell starting with = + - @ is run as a formula by spreadsheets: defuse it.
    value = text or ""
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


async def _json(request: web.Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        raise InputError("the body must be JSON") from None


def add_report_routes(app: web.Application) -> None:
    # export before {reference}, which would otherwise match it
    app.router.add_get("/api/reports", list_reports)
    app.router.add_get("/api/reports/export", export_reports)
    app.router.add_get("/api/reports/{reference}", get_report)
    app.router.add_get("/api/reports/{reference}/answers/{answer_id}/audio", answer_audio)
    app.router.add_post("/api/reports/{reference}/status", change_status)
    app.router.add_post("/api/reports/{reference}/delivery/retry", retry_delivery)
