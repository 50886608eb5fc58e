"""Report pages: police staff triage what callers reported on the report line.

    GET  /dashboard/reports                          newest first; filters: status,
                                                     category, urgent; 50 a page
    GET  /dashboard/reports/{ref}                    one report: answers with transcripts
                                                     and audio, status form, audit trail
    GET  /dashboard/reports/{ref}/answers/{id}/audio the recording (audio/wav, ranges)
    POST /dashboard/reports/{ref}/status             new status and a note (audited)

Staff and admins only, as in the API: reports hold callers' numbers and voices. Queries
go through ``ivr.store.reports_repo`` and the filters through the API's own parser, so
the dashboard and the API cannot disagree on what a filter means. The audit trail names
the person as the API does (``token:<id> <name>``).
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlencode

from aiohttp import web

from ivr.errors import ConflictError, InputError, NotFound
from ivr.reports.categories import Category
from ivr.reports.states import ReportStatus
from ivr.store import reports_repo as repo
from ivr.store.models.auth import Role
from ivr.store.models.reports import ReportAnswer
from ivr.web.auth import DATABASE, Principal
from ivr.web.dashboard.report_views import (
    CATEGORY_LABELS,
    PAGE_SIZE,
    STATUS_LABELS,
    list_page,
    report_row,
    report_view,
)
from ivr.web.dashboard.shell import PREFIX, Viewer, page, render, zone
from ivr.web.keys import CONTROLLER
from ivr.web.reports_api import actor, report_filter

routes = web.RouteTableDef()

#: What the filter form offers (value, label); "" is "any".
FILTERS = {
    "status": [("", "Any status"), *((s.value, STATUS_LABELS[s]) for s in ReportStatus)],
    "category": [("", "Any category"), *((c.value, CATEGORY_LABELS[c]) for c in Category)],
    "urgent": [("", "Urgent or not"), ("true", "Urgent only"), ("false", "Not urgent")],
}


@routes.get(PREFIX + "/reports")
@page(Role.STAFF)
async def reports(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    chosen = {name: request.query.get(name, "") for name in FILTERS}
    try:
        f = report_filter(request.query, limit=PAGE_SIZE, most=PAGE_SIZE)
    except InputError as e:
        return render(
            request, "reports.html", viewer=viewer, status=400, section="reports",
            filters=FILTERS, chosen=chosen, rows=[], paging=list_page(0, 0, 0), error=str(e),
            query_for=lambda offset: "",
        )  # fmt: skip
    async with request.app[DATABASE].session() as s:
        found = await repo.list_reports(s, f)
        total = await repo.count_reports(s, f)
        answers = await repo.answers_of_reports(s, [r.id for r, _ in found])
    tz = zone(request)
    rows = [report_row(r, answers.get(r.id, []), tz) for r, _ in found]

    def query_for(offset: int) -> str:
        # the page links keep the filters; only known names and values go back out
        params = {k: v for k, v in chosen.items() if v}
        params["offset"] = str(offset)
        return "?" + urlencode(params)

    return render(
        request, "reports.html", viewer=viewer, section="reports", filters=FILTERS,
        chosen=chosen, rows=rows, paging=list_page(f.offset, len(rows), total), error=None,
        query_for=query_for,
    )  # fmt: skip


async def report_page(
    request: web.Request,
    viewer: Viewer,
    *,
    status: int = 200,
    error: str | None = None,
    note: str = "",
) -> web.Response:
    async with request.app[DATABASE].session() as s:
        report = await repo.get_report(s, request.match_info["reference"])
        answers = await repo.answers_with_jobs(s, report.id)
        events = await repo.events_of(s, report.id)
        delivery = await repo.delivery_of(s, report.id)
    view = report_view(report, answers, events, delivery, zone(request))
    done = "The status is changed and your note is in the audit trail." if (
        request.query.get("done") == "status"
    ) else None  # fmt: skip
    return render(
        request, "report.html", viewer=viewer, status=status, section="reports", r=view,
        error=error, message=done, note=note,
    )  # fmt: skip


@routes.get(PREFIX + "/reports/{reference}")
@page(Role.STAFF)
async def report(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    return await report_page(request, viewer)


@routes.get(PREFIX + "/reports/{reference}/answers/{answer_id}/audio")
@page(Role.STAFF)
async def answer_audio(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    """The WAV, with range requests (the player seeks); 404/410 as the API answers."""
    raw = request.match_info["answer_id"]
    if not raw.isdigit():
        raise InputError("answer id must be a number")
    async with request.app[DATABASE].session() as s:
        found = await repo.get_report(s, request.match_info["reference"])
        answer = await s.get(ReportAnswer, int(raw))
    if answer is None or answer.report_id != found.id:
        raise NotFound(f"report {found.reference} has no answer {raw}")
    if answer.audio_purged_at is not None or answer.audio_path is None:
        raise web.HTTPGone(text="this recording is no longer kept")
    data_dir = request.app[CONTROLLER].settings.data_dir.resolve()
    path = (data_dir / answer.audio_path).resolve()
    # the path comes from the database; never serve anything outside the data directory
    if not path.is_relative_to(data_dir) or not await asyncio.to_thread(path.is_file):
        raise NotFound(f"the audio file of answer {raw} is missing")
    return web.FileResponse(
        path,
        headers={
            "Content-Type": "audio/wav",
            "Content-Disposition": f'inline; filename="{found.reference}-{answer.id}.wav"',
        },
    )


@routes.post(PREFIX + "/reports/{reference}/status")
@page(Role.STAFF)
async def change_status(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    form = await request.post()
    wanted, note = form.get("status"), form.get("note")
    note = note if isinstance(note, str) else ""
    try:
        if not isinstance(wanted, str) or wanted not in {s.value for s in ReportStatus}:
            raise InputError("choose the new status")
        async with request.app[DATABASE].session(write=True) as s:
            changed = await repo.change_status(
                s, request.match_info["reference"], ReportStatus(wanted), note=note,
                actor=actor(Principal(viewer.token_id, viewer.name, viewer.role)),
                now=request.app[CONTROLLER].clock.now(),
            )  # fmt: skip
            reference = changed.reference
    except (InputError, ConflictError) as e:
        # show the report again with the problem, keeping what they typed
        code = 409 if isinstance(e, ConflictError) else 400
        return await report_page(request, viewer, status=code, error=str(e), note=note)
    raise web.HTTPSeeOther(f"{PREFIX}/reports/{reference}?done=status")
