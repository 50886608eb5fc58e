"""Signing in and out, wrong tokens, the failure limit, roles and CSRF, in a real browser."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from playwright.async_api import Page, expect

from ivr.auth.tokens import authenticate, revoke
from ivr.store.models.auth import Role
from tests.browser.conftest import Dashboard, sign_in

pytestmark = pytest.mark.e2e

#: The controller's FailureLimiter: 10 wrong tokens a minute per address.
MAX_FAILURES = 10


async def test_a_wrong_token_is_refused_and_repeated_failures_are_rate_limited(
    page: Page, dashboard: Dashboard
) -> None:
    """A wrong token shows a plain error and signs nobody in; after the limit, sign-in
    answers 429 with Retry-After, and even the right token is not checked until it passes."""
    await page.goto("/dashboard/campaigns")
    assert "/dashboard/signin" in page.url
    token_field = page.get_by_label("Your access token")
    for attempt in range(MAX_FAILURES):
        await token_field.fill(f"wl_wrong-{attempt}")
        async with page.expect_response(
            lambda r: r.url.endswith("/dashboard/signin") and r.request.method == "POST"
        ) as answer:
            await page.get_by_role("button", name="Sign in").click()
        assert (await answer.value).status == 401
        await expect(page.get_by_role("alert")).to_have_text(
            "That token was not accepted. Check that you copied all of it, "
            "or ask your administrator for a new one."
        )
        await expect(token_field).to_have_attribute("aria-invalid", "true")
    good = await dashboard.token(Role.COORDINATOR)
    await token_field.fill(good)
    async with page.expect_response(lambda r: r.request.method == "POST") as answer:
        await page.get_by_role("button", name="Sign in").click()
    limited = await answer.value
    assert limited.status == 429
    assert 1 <= int(await limited.header_value("retry-after") or "0") <= 61
    await expect(page.get_by_role("alert")).to_contain_text("Too many wrong tokens")
    cookies = {c["name"] for c in await page.context.cookies()}
    assert "watchline-session" not in cookies


async def test_signing_in_by_keyboard_sets_a_strict_http_only_cookie_and_signing_out_ends_it(
    page: Page, dashboard: Dashboard
) -> None:
    """Sign in with the keyboard alone (the token field has focus; Enter submits). The
    session cookie is HttpOnly and SameSite=Strict (not Secure on loopback http); pages
    carry the security headers; after signing out the old cookie opens nothing."""
    await page.goto("/dashboard/")
    await expect(page.get_by_label("Your access token")).to_be_focused()
    await page.keyboard.type(await dashboard.token(Role.COORDINATOR))
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Campaigns")
    (cookie,) = [c for c in await page.context.cookies() if c["name"] == "watchline-session"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and not cookie["secure"]
    assert cookie["expires"] == -1  # a browser-session cookie: gone when the browser closes
    response = await page.goto("/dashboard/campaigns")
    assert response is not None
    headers = await response.all_headers()
    assert "script-src 'self'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    assert headers["cache-control"] == "no-store"

    await page.keyboard.press("Tab")  # the first stop on every page: skip to the content
    await expect(page.get_by_role("link", name="Skip to main content")).to_be_focused()

    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("status")).to_have_text("You are signed out.")
    # the browser dropped it; a copy kept by someone else is dead too
    await page.context.add_cookies(
        [{"name": cookie["name"], "value": cookie["value"], "url": dashboard.base}]
    )
    await page.goto("/dashboard/campaigns")
    assert "/dashboard/signin" in page.url


async def test_revoking_a_token_ends_its_dashboard_sessions_at_once(
    page: Page, dashboard: Dashboard
) -> None:
    """The session keeps only the token's id and checks it on every page: a revoked token
    signs its holder out at their next click, not 8 hours later."""
    token = await dashboard.token(Role.STAFF, "Leaver")
    await sign_in(page, token)
    await expect(page.get_by_text("Signed in as Leaver")).to_be_visible()
    async with dashboard.db.session(write=True) as s:
        row = await authenticate(s, token, now=dashboard.controller.clock.now())
        await revoke(s, row.id, now=dashboard.controller.clock.now())
    await page.reload()
    assert "/dashboard/signin" in page.url


async def test_a_coordinator_cannot_open_reports(page: Page, dashboard: Dashboard) -> None:
    """Reports hold callers' numbers and voices: coordinators get a plain 403 page."""
    await sign_in(page, await dashboard.token(Role.COORDINATOR))
    response = await page.goto("/dashboard/reports")
    assert response is not None and response.status == 403
    await expect(page.get_by_role("heading", level=1)).to_have_text("Not available to you")
    await expect(page.get_by_role("alert")).to_have_text(
        "Your role (coordinator) cannot see this page."
    )


@pytest_asyncio.fixture(loop_scope="session")
async def attacker() -> AsyncIterator[str]:
    """Another site (on another port, so the same *site* to SameSite, the hard case) with
    a form that posts to the dashboard's sign-out and campaign actions without a token."""

    async def form(request: web.Request) -> web.Response:
        target = request.query["target"]
        html = (
            f'<!doctype html><form method="post" action="{target}">'
            '<input type="hidden" name="confirm" value="yes">'
            '<button type="submit">Win a prize</button></form>'
        )
        return web.Response(text=html, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", form)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/"
    finally:
        await runner.cleanup()


async def test_a_post_without_the_csrf_token_is_refused(
    page: Page, dashboard: Dashboard, attacker: str
) -> None:
    """A signed-in person who submits another site's form changes nothing (403), and so
    does a POST from the page itself without the form's token or with a wrong one. A GET
    to an action's address does nothing either."""
    await sign_in(page, await dashboard.token(Role.COORDINATOR))
    for target in ("/dashboard/signout", "/dashboard/campaigns/1/cancel"):
        await page.goto(f"{attacker}?target={dashboard.base}{target}")
        async with page.expect_response(lambda r: r.request.method == "POST") as answer:
            await page.get_by_role("button", name="Win a prize").click()
        assert (await answer.value).status == 403
        await expect(page.get_by_role("heading", level=1)).to_have_text("This form has expired")

    no_token = await page.request.post("/dashboard/signout", form={})
    wrong = await page.request.post("/dashboard/signout", form={"csrf": "x" * 43})
    assert (no_token.status, wrong.status) == (403, 403)
    by_get = await page.request.get("/dashboard/signout", max_redirects=0)
    assert by_get.status == 405
    # still signed in after all of that
    await page.goto("/dashboard/campaigns")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Campaigns")


async def _signin_form(
    http: aiohttp.ClientSession, url: str, headers: dict[str, str]
) -> tuple[str, str]:
    """The sign-in form's CSRF token and its nonce cookie (name=value), as a browser gets them."""
    async with http.get(url, headers=headers) as r:
        html = await r.text()
        (set_cookie,) = r.headers.getall("Set-Cookie")
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match is not None
    return match.group(1), set_cookie


async def test_behind_a_local_tls_proxy_cookies_are_secure_and_plain_http_from_afar_is_refused(
    dashboard: Dashboard,
) -> None:
    """(HTTP only, no browser.) A TLS proxy on this machine says ``X-Forwarded-Proto:
    https``: the cookies are then Secure with the ``__Host-`` prefix. A request for a
    non-loopback host over plain http may not sign in: the token would cross the network
    in clear text."""
    url = f"{dashboard.base}/dashboard/signin"
    token = await dashboard.token(Role.COORDINATOR)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
        proxied = {"X-Forwarded-Proto": "https", "Host": "watchline.example.org"}
        csrf, nonce = await _signin_form(http, url, proxied)
        assert nonce.startswith("__Host-watchline-signin=") and "Secure" in nonce
        headers = {**proxied, "Cookie": nonce.split(";", 1)[0]}
        form = {"csrf": csrf, "token": token, "next": ""}
        async with http.post(url, data=form, headers=headers, allow_redirects=False) as r:
            assert r.status == 303
            session = next(c for c in r.headers.getall("Set-Cookie") if "session" in c)
        assert session.startswith("__Host-watchline-session=")
        assert all(flag in session for flag in ("Secure", "HttpOnly", "SameSite=Strict", "Path=/"))

        remote = {"Host": "192.168.1.10:8080"}
        csrf, nonce = await _signin_form(http, url, remote)
        headers = {**remote, "Cookie": nonce.split(";", 1)[0]}
        form = {"csrf": csrf, "token": token, "next": ""}
        async with http.post(url, data=form, headers=headers, allow_redirects=False) as r:
            assert r.status == 403
            assert "must be opened over HTTPS" in await r.text()
            assert not any("session" in c for c in r.headers.getall("Set-Cookie", []))
