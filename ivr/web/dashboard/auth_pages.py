"""Signing in and out of the dashboard.

    GET  /dashboard/signin    the form: paste your access token (from ``ivr tokens create``)
    POST /dashboard/signin    check it; on success a session cookie, then the home page
    POST /dashboard/signout   end the session (a POST with its CSRF token: a link or an
                              image on another site must not be able to sign anyone out)

Wrong tokens count against the same per-address limit as the API's (``FailureLimiter``):
past it, 429 with Retry-After, and the token is not even checked. No message says
whether a token exists. The token is checked once, here; the session then keeps only the
token's row id, and the token itself is never sent back to the browser.
"""

from __future__ import annotations

import logging
import secrets

from aiohttp import web

from ivr.auth.tokens import authenticate
from ivr.errors import AuthError
from ivr.web.auth import DATABASE, LIMITER
from ivr.web.dashboard.sessions import csrf_token, safe_next, sign, unsign
from ivr.web.dashboard.shell import (
    PREFIX,
    SESSIONS,
    Viewer,
    clear_cookie,
    current_viewer,
    form_is_ours,
    now_s,
    page,
    render,
    set_cookie,
    transport_of,
)
from ivr.web.keys import CONTROLLER

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

#: How long a sign-in form stays usable.
SIGNIN_FORM_S = 30 * 60
NEEDS_HTTPS = (
    "This dashboard must be opened over HTTPS when it is reached over a network, so that "
    "your token cannot be read on the way. Ask your administrator for the right address."
)


def _nonce_key(nonce: str) -> str:
    # a separate namespace from session ids, so a sign-in token is never a session's
    return f"signin:{nonce}"


def _signin_form(
    request: web.Request, *, status: int = 200, error: str | None = None,
    notice: str | None = None, retry_after: int | None = None,
) -> web.Response:  # fmt: skip
    """The form, with a fresh nonce cookie and the CSRF token derived from it."""
    t, _ = transport_of(request)
    book = request.app[SESSIONS]
    nonce = secrets.token_urlsafe(24)
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    response = render(
        request, "signin.html", viewer=None, status=status, headers=headers,
        csrf=csrf_token(book.secret, _nonce_key(nonce)),
        next=safe_next(request.query.get("next"), ""), error=error, notice=notice,
        insecure=None if t.sign_in_allowed else NEEDS_HTTPS,
    )  # fmt: skip
    set_cookie(response, t, t.signin_cookie_name, sign(book.secret, nonce), SIGNIN_FORM_S)
    return response


@routes.get(PREFIX + "/signin")
async def signin_form(request: web.Request) -> web.StreamResponse:
    viewer = await current_viewer(request)
    if viewer is not None:
        raise web.HTTPSeeOther(viewer.home)
    notice = "You are signed out." if request.query.get("signed_out") else None
    return _signin_form(request, notice=notice)


@routes.post(PREFIX + "/signin")
async def signin(request: web.Request) -> web.StreamResponse:
    t, _ = transport_of(request)
    if not t.sign_in_allowed:
        return _signin_form(request, status=403, error=NEEDS_HTTPS)
    limiter = request.app[LIMITER]
    key = request.remote or "unknown"
    verdict = limiter.check(key, now_s(request))
    if not verdict.allowed:
        wait = int(verdict.retry_after_s) + 1
        return _signin_form(
            request, status=429, retry_after=wait,
            error=f"Too many wrong tokens were tried from this computer. "
            f"Wait {wait} seconds, then try again.",
        )  # fmt: skip
    book = request.app[SESSIONS]
    nonce = unsign(book.secret, request.cookies.get(t.signin_cookie_name, ""))
    if nonce is None or not await form_is_ours(request, _nonce_key(nonce)):
        # an expired form, cookies blocked, or a form posted from another site
        return _signin_form(
            request, status=403,
            error="The sign-in form had expired. Please paste your token again. (If this "
            "keeps happening, your browser may be blocking cookies for this site.)",
        )  # fmt: skip
    form = await request.post()
    token = form.get("token")
    token = token.strip() if isinstance(token, str) else ""
    try:
        async with request.app[DATABASE].session(write=True) as s:
            row = await authenticate(s, token, now=request.app[CONTROLLER].clock.now())
            token_id, name, role = row.id, row.name, row.role
    except AuthError:
        limiter.failed(key, now_s(request))
        log.info("dashboard: failed sign-in from %s", key)
        return _signin_form(
            request, status=401,
            error="That token was not accepted. Check that you copied all of it, "
            "or ask your administrator for a new one.",
        )  # fmt: skip
    limiter.succeeded(key)
    old = book.find(request.cookies.get(t.cookie_name), now_s(request))
    if old is not None:
        book.close(old.id)  # a fresh id at every sign-in: no session fixation
    session, cookie = book.open(token_id, name, role, now_s(request))
    log.info("dashboard: %s signed in (token %d, %s)", name, token_id, role.value)
    viewer = Viewer(session.id, token_id, name, role, book.csrf(session))
    wanted = form.get("next")
    target = safe_next(wanted if isinstance(wanted, str) else None, "")
    response = web.Response(status=303, headers={"Location": target or viewer.home})
    # no Max-Age: the cookie goes when the browser closes; the server ends it sooner
    set_cookie(response, t, t.cookie_name, cookie, None)
    clear_cookie(response, t, t.signin_cookie_name)
    return response


@routes.post(PREFIX + "/signout")
@page()
async def signout(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    t, _ = transport_of(request)
    request.app[SESSIONS].close(viewer.session_id)
    log.info("dashboard: %s signed out", viewer.name)
    response = web.Response(status=303, headers={"Location": f"{PREFIX}/signin?signed_out=1"})
    clear_cookie(response, t, t.cookie_name)
    return response


@routes.get(PREFIX + "/")
@page()
async def home(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    raise web.HTTPSeeOther(viewer.home)


@routes.get("/")
@routes.get(PREFIX)
async def root(request: web.Request) -> web.StreamResponse:
    raise web.HTTPSeeOther(PREFIX + "/")
