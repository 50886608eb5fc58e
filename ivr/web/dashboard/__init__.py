"""The web dashboard for watch coordinators and police staff: server-rendered HTML.

Pages are Jinja2 templates (``templates/``, autoescaped) with one stylesheet and one small
script (``static/``); there is no build step and nothing is fetched from elsewhere.

| path | who | what |
|---|---|---|
| ``/dashboard/signin``, ``/dashboard/signout`` | anyone | paste an API token; sign out |
| ``/dashboard/campaigns[/{id}]`` | coordinator, staff | progress, members, CSV |
| ``POST /dashboard/campaigns/{id}/{action}`` | coordinator | start, pause, resume, cancel |
| ``/dashboard/reports[/{ref}]`` | staff | triage: list, transcripts, audio, status |

(admin passes every role check, as in the API.)

Modules: ``sessions`` (pure: signed session ids, expiry, CSRF tokens, cookie rules),
``campaign_views`` and ``report_views`` (pure: what each page shows), ``shell`` (the
aiohttp glue: session lookup, role and CSRF checks, rendering, headers), and one module of
handlers per area. Sessions, CSRF and the Secure-cookie rule are described in
``sessions``; why progress refreshes as it does, in ``campaign_pages``.
"""

from __future__ import annotations

from aiohttp import web


def add_dashboard(app: web.Application) -> None:
    """Mount the dashboard on ``app`` (create_app calls this; the campaign service is
    looked up per request, since components add it after)."""
    from ivr.web.dashboard import auth_pages, campaign_pages, report_pages, shell

    shell.install(app)
    for module in (auth_pages, campaign_pages, report_pages):
        app.router.add_routes(module.routes)
