"""The dashboard's thin aiohttp shell: sessions from cookies, role and CSRF checks, HTML
rendering, error pages and security headers. The decisions themselves are in
:mod:`ivr.web.dashboard.sessions` (pure); this module only applies them to requests.

Every page handler is wrapped by :func:`page`, which, in order:

1. finds the session of the cookie, and checks its API token is still live (a revoked
   token ends its sessions at once), else sends the person to the sign-in page;
2. checks the role (admin passes every check, as in the API);
3. for a POST, reads the form and checks its CSRF token and ``Origin``;
4. turns our errors (not found, bad input, wrong state) into readable HTML pages; the
   app's error middleware would make them JSON, which is right for the API only.
"""

from __future__ import annotations

import functools
import logging
import os
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import jinja2
from aiohttp import web
from pydantic import ValidationError

from ivr.errors import ConfigError, ConflictError, InputError, NotFound
from ivr.store.models.auth import ApiToken, Role
from ivr.web.auth import DATABASE
from ivr.web.dashboard.sessions import (
    SECRET_BYTES,
    Session,
    SessionBook,
    Transport,
    csrf_ok,
    effective_scheme,
    same_origin,
    transport,
)
from ivr.web.keys import CONTROLLER

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
PREFIX = "/dashboard"
SECRET_FILE = "dashboard-secret"

SESSIONS = web.AppKey("dashboard_sessions", SessionBook)
TEMPLATES = web.AppKey("dashboard_templates", jinja2.Environment)

#: Sent with every dashboard response. The CSP allows our own files only: no inline script
#: or style at all, so an injected tag cannot run even if escaping were ever missed.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "media-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
        "base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    # report references in URLs must not leak to other sites. Not "no-referrer": under it
    # Chromium sends "Origin: null" with our own forms, and the Origin check refuses that
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}

ROLE_LABELS = {Role.ADMIN: "administrator", Role.COORDINATOR: "coordinator", Role.STAFF: "staff"}


@dataclass(frozen=True)
class Viewer:
    """The signed-in person, as handlers and templates see them."""

    session_id: str
    token_id: int
    name: str
    role: Role
    csrf: str

    def may(self, *roles: Role) -> bool:
        return self.role is Role.ADMIN or self.role in roles

    @property
    def role_label(self) -> str:
        return ROLE_LABELS[self.role]

    @property
    def sees_reports(self) -> bool:
        return self.may(Role.STAFF)

    @property
    def sees_campaigns(self) -> bool:
        return self.may(Role.COORDINATOR, Role.STAFF)

    @property
    def home(self) -> str:
        return f"{PREFIX}/reports" if self.role is Role.STAFF else f"{PREFIX}/campaigns"


PageHandler = Callable[[web.Request, Viewer], Awaitable[web.StreamResponse]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


# ---- the installation's secret ---------------------------------------------------------------


def load_or_create_secret(path: Path) -> bytes:
    """The secret in ``path``, made (0600, fsynced) on first use.

    O_EXCL settles a race between two processes starting at once: one creates, the other
    reads. A file others can read is tightened, since anyone who reads it can forge cookies.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_secret(path)
    secret = secrets.token_bytes(SECRET_BYTES)
    with os.fdopen(fd, "w") as fh:
        fh.write(secret.hex() + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    log.info("dashboard: created the session secret %s", path)
    return secret


def _read_secret(path: Path) -> bytes:
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        log.warning("dashboard: %s was readable by others (%o); setting it to 0600", path, mode)
        path.chmod(0o600)
    try:
        secret = bytes.fromhex(path.read_text(encoding="ascii").strip())
    except (ValueError, UnicodeDecodeError):
        secret = b""
    if len(secret) < 16:
        raise ConfigError(
            f"{path} does not hold a usable secret; delete it and restart to make a new one "
            "(everyone will have to sign in again)"
        )
    return secret


async def _open_sessions(app: web.Application) -> None:
    data_dir = app[CONTROLLER].settings.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    app[SESSIONS] = SessionBook(load_or_create_secret(data_dir / SECRET_FILE))


# ---- rendering -------------------------------------------------------------------------------


def template_environment() -> jinja2.Environment:
    # autoescape everything: every value a caller, member or coordinator typed is hostile
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(
    request: web.Request,
    template: str,
    *,
    viewer: Viewer | None,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> web.Response:
    context.setdefault("section", None)  # which part of the navigation is "current"
    html = request.app[TEMPLATES].get_template(template).render(viewer=viewer, **context)
    return web.Response(
        text=html, status=status, content_type="text/html", charset="utf-8", headers=headers
    )


def error_page(
    request: web.Request, viewer: Viewer | None, status: int, title: str, message: str
) -> web.Response:
    return render(request, "error.html", viewer=viewer, status=status, title=title, message=message)


def zone(request: web.Request) -> ZoneInfo:
    """The scheme's time zone: times are shown as the people reading them live them."""
    return ZoneInfo(request.app[CONTROLLER].settings.bulletin_line.timezone)


def now_s(request: web.Request) -> float:
    return request.app[CONTROLLER].clock.monotonic()


def transport_of(request: web.Request) -> tuple[Transport, str]:
    scheme = effective_scheme(
        request.scheme, request.remote, request.headers.get("X-Forwarded-Proto")
    )
    return transport(scheme, request.host), scheme


def set_cookie(
    response: web.StreamResponse, t: Transport, name: str, value: str, max_age: int | None
) -> None:
    response.set_cookie(
        name, value, path="/", httponly=True, samesite="Strict", secure=t.secure,
        max_age=max_age,
    )  # fmt: skip


def clear_cookie(response: web.StreamResponse, t: Transport, name: str) -> None:
    response.del_cookie(name, path="/", secure=t.secure, httponly=True, samesite="Strict")


# ---- the page wrapper ------------------------------------------------------------------------


async def current_viewer(request: web.Request) -> Viewer | None:
    """The signed-in person, or None (no cookie, forged, expired, or token revoked)."""
    book = request.app[SESSIONS]
    t, _ = transport_of(request)
    session = book.find(request.cookies.get(t.cookie_name), now_s(request))
    if session is None:
        return None
    async with request.app[DATABASE].session() as s:
        token = await s.get(ApiToken, session.token_id)
    if token is None or token.revoked_at is not None:
        book.close_token(session.token_id)
        return None
    return _viewer(book, session)


def _viewer(book: SessionBook, session: Session) -> Viewer:
    return Viewer(session.id, session.token_id, session.name, session.role, book.csrf(session))


def _sign_in_redirect(request: web.Request) -> web.Response:
    target = request.path_qs if request.method == "GET" else PREFIX + "/"
    location = f"{PREFIX}/signin?" + urlencode({"next": target})
    return web.Response(status=303, headers={"Location": location})


async def form_is_ours(request: web.Request, key: str) -> bool:
    """The POST's CSRF token matches ``key`` (a session id or sign-in nonce), and its
    Origin, if sent, is this site."""
    _, scheme = transport_of(request)
    if not same_origin(request.headers.get("Origin"), scheme, request.host):
        return False
    form = await request.post()
    submitted = form.get("csrf")
    secret = request.app[SESSIONS].secret
    return isinstance(submitted, str) and csrf_ok(secret, key, submitted)


def page(*roles: Role) -> Callable[[PageHandler], Handler]:
    """Wrap a page handler: signed in, one of ``roles`` (any role when none), CSRF on POST."""

    def wrap(handler: PageHandler) -> Handler:
        @functools.wraps(handler)
        async def run(request: web.Request) -> web.StreamResponse:
            viewer = await current_viewer(request)
            if viewer is None:
                return _sign_in_redirect(request)
            if roles and not viewer.may(*roles):
                return error_page(
                    request, viewer, 403, "Not available to you",
                    f"Your role ({viewer.role_label}) cannot see this page.",
                )  # fmt: skip
            if request.method == "POST" and not await form_is_ours(request, viewer.session_id):
                return error_page(
                    request, viewer, 403, "This form has expired",
                    "The form did not come from this page, or you signed in again since it "
                    "was opened. Go back, reload the page and try once more.",
                )  # fmt: skip
            try:
                return await handler(request, viewer)
            except NotFound as e:
                return error_page(request, viewer, 404, "Not found", str(e))
            except (InputError, ValidationError) as e:
                return error_page(request, viewer, 400, "That did not work", str(e))
            except ConflictError as e:
                return error_page(request, viewer, 409, "That cannot be done now", str(e))

        return run

    return wrap


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: dashboard responses only (the API's JSON is not ours to change)."""
    path = request.path
    if path != "/" and path != PREFIX and not path.startswith(PREFIX + "/"):
        return
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    # pages hold callers' numbers and voices: never kept in a shared computer's cache;
    # our own CSS and script may be cached but are checked each time
    static = path.startswith(PREFIX + "/static/")
    response.headers.setdefault("Cache-Control", "no-cache" if static else "no-store")


def install(app: web.Application) -> None:
    """Templates, the session book (at start-up, when the data directory exists), headers."""
    app[TEMPLATES] = template_environment()
    app.on_startup.append(_open_sessions)
    app.on_response_prepare.append(security_headers)
    app.router.add_static(PREFIX + "/static", HERE / "static", name="dashboard-static")
