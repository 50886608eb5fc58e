"""Campaign pages: coordinators watch and steer their broadcasts; staff watch progress.

    GET  /dashboard/campaigns                    every campaign, newest first, with progress
    GET  /dashboard/campaigns/list               that list alone (for the auto-refresh)
    GET  /dashboard/campaigns/{id}               one campaign: progress, actions, members
    GET  /dashboard/campaigns/{id}/progress      its progress alone (for the auto-refresh)
    GET  /dashboard/campaigns/{id}/report.csv    the full delivery report
    GET  /dashboard/campaigns/{id}/cancel        "are you sure?" (changes nothing)
    POST /dashboard/campaigns/{id}/{start|pause|resume|cancel}   coordinators only

**Why the progress refreshes by fetching an HTML fragment** (``static/refresh.js``, every
5 s) and not with ``<meta http-equiv="refresh">``: a meta refresh reloads the whole page,
which loses the reader's scroll position and keyboard focus, makes a screen reader start
again from the top, cannot be paused by the person (WCAG 2.2.1, 2.2.2), and re-reads the
members table each time. Why a fragment and not the JSON API: the API wants the bearer
token, which by design never reaches the browser; and a fragment rendered by the same
template as the page keeps one place for labels and escaping. The script pauses while the
tab is hidden or focus is inside the region, stops when the campaign is over, has a
pause button, and without JavaScript the page still works with a "refresh" link.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from aiohttp import web

from ivr.campaigns import report
from ivr.campaigns.component import SERVICE
from ivr.campaigns.service import CampaignService
from ivr.errors import ConflictError, InputError
from ivr.store.models.auth import Role
from ivr.web.dashboard.campaign_views import (
    DONE_MESSAGES,
    MemberRow,
    campaign_view,
    defuse_cell,
    member_row,
    rows_page,
)
from ivr.web.dashboard.shell import PREFIX, Viewer, page, render, zone

routes = web.RouteTableDef()

#: Members shown per page; the CSV has them all.
PAGE_SIZE = 200
REFRESH_S = 5
WATCHERS = (Role.COORDINATOR, Role.STAFF)


def _service(request: web.Request) -> CampaignService | None:
    # None when this controller runs without the campaigns component (reports only)
    return request.app.get(SERVICE)


def _campaign_id(request: web.Request) -> int:
    raw = request.match_info["campaign_id"]
    if not raw.isdigit():
        raise InputError("a campaign number is needed")
    return int(raw)


def _after(request: web.Request) -> int:
    raw = request.query.get("after", "0")
    if not raw.isdigit():
        raise InputError("'after' must be a member number")
    return int(raw)


@routes.get(PREFIX + "/campaigns")
@page(*WATCHERS)
async def campaigns(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    return await _list(request, viewer, "campaigns.html")


@routes.get(PREFIX + "/campaigns/list")
@page(*WATCHERS)
async def campaigns_fragment(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    return await _list(request, viewer, "_campaign_list.html")


async def _list(request: web.Request, viewer: Viewer, template: str) -> web.Response:
    service = _service(request)
    summaries = await service.all_summaries() if service is not None else []
    views = [campaign_view(s, viewer.role, zone(request)) for s in summaries]
    return render(
        request, template, viewer=viewer, section="campaigns", campaigns=views,
        available=service is not None, refresh_s=REFRESH_S,
    )  # fmt: skip


async def _members(
    service: CampaignService, campaign_id: int, after: int, request: web.Request
) -> list[MemberRow]:
    """Up to PAGE_SIZE + 1 members after ``after`` (the extra one says "there is more").

    The service pages by member id from the start, so rows before ``after`` are read and
    skipped: fine for the hundreds a page holds, slow only deep into a 100k campaign.
    """
    rows: list[MemberRow] = []
    tz = zone(request)
    found = service.report_rows(campaign_id)
    try:
        async for row in found:
            if row.member_id <= after:
                continue
            rows.append(member_row(row, tz))
            if len(rows) > PAGE_SIZE:
                break
    finally:
        # stopping early: close the generator now rather than whenever it is collected
        close = getattr(found, "aclose", None)
        if close is not None:
            await close()
    return rows


async def campaign_page(
    request: web.Request, viewer: Viewer, *, status: int = 200, error: str | None = None
) -> web.Response:
    service = _service(request)
    if service is None:
        raise web.HTTPSeeOther(PREFIX + "/campaigns")
    campaign_id = _campaign_id(request)
    view = campaign_view(await service.summary(campaign_id), viewer.role, zone(request))
    after = _after(request)
    members = rows_page(await _members(service, campaign_id, after, request), PAGE_SIZE)
    done = request.query.get("done", "")
    return render(
        request, "campaign.html", viewer=viewer, status=status, section="campaigns",
        c=view, members=members, after=after, message=DONE_MESSAGES.get(done), error=error,
        refresh_s=REFRESH_S,
    )  # fmt: skip


@routes.get(PREFIX + "/campaigns/{campaign_id}")
@page(*WATCHERS)
async def campaign(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    return await campaign_page(request, viewer)


@routes.get(PREFIX + "/campaigns/{campaign_id}/progress")
@page(*WATCHERS)
async def progress_fragment(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    service = _service(request)
    if service is None:
        raise web.HTTPNotFound()
    summary = await service.summary(_campaign_id(request))
    view = campaign_view(summary, viewer.role, zone(request))
    return render(request, "_progress.html", viewer=viewer, c=view)


@routes.get(PREFIX + "/campaigns/{campaign_id}/cancel")
@page(Role.COORDINATOR)
async def confirm_cancel(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    service = _service(request)
    if service is None:
        raise web.HTTPSeeOther(PREFIX + "/campaigns")
    view = campaign_view(await service.summary(_campaign_id(request)), viewer.role, zone(request))
    can_cancel = any(action == "cancel" for action, _ in view.actions)
    return render(
        request, "cancel.html", viewer=viewer, section="campaigns", c=view, can_cancel=can_cancel
    )


@routes.post(PREFIX + "/campaigns/{campaign_id}/{action:start|pause|resume|cancel}")
@page(Role.COORDINATOR)
async def change_state(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    service = _service(request)
    if service is None:
        raise web.HTTPSeeOther(PREFIX + "/campaigns")
    campaign_id = _campaign_id(request)
    action = request.match_info["action"]
    form = await request.post()
    if action == "cancel" and form.get("confirm") != "yes":
        raise InputError("to cancel, use the confirmation button")
    try:
        await getattr(service, action)(campaign_id)
    except ConflictError as e:
        # e.g. it finished or someone paused it meanwhile: show the page as it is now
        return await campaign_page(request, viewer, status=409, error=str(e))
    # Post/Redirect/Get: reloading the page must not repeat the action
    raise web.HTTPSeeOther(f"{PREFIX}/campaigns/{campaign_id}?done={action}")


@routes.get(PREFIX + "/campaigns/{campaign_id}/report.csv")
@page(*WATCHERS)
async def report_csv(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    """Streamed like the API's, with cells defused against spreadsheet formulas."""
    service = _service(request)
    if service is None:
        raise web.HTTPNotFound()
    campaign_id = _campaign_id(request)
    await service.summary(campaign_id)  # 404 before the headers go out
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="campaign-{campaign_id}-report.csv"',
        }
    )
    await response.prepare(request)
    await response.write(_csv_line(report.COLUMNS))
    async for row in service.report_rows(campaign_id):
        data = report.row_dict(row)
        await response.write(
            _csv_line(["" if data[c] is None else data[c] for c in report.COLUMNS])
        )
    await response.write_eof()
    return response


def _csv_line(values: Sequence[object]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow([defuse_cell(v) for v in values])
    return out.getvalue().encode()
