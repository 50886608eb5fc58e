"""Bearer-token authentication and role checks for ``/api/*``.

Every API route needs a token except ``/api/health``. Wrong tokens are rate limited per
client address (429 with Retry-After), and no error says whether a token exists.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from aiohttp import web

from ivr.auth.limiter import FailureLimiter
from ivr.auth.tokens import authenticate
from ivr.errors import AuthError
from ivr.store.database import Database
from ivr.store.models.auth import Role

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

DATABASE = web.AppKey("database", Database)
LIMITER = web.AppKey("auth_limiter", FailureLimiter)
OPEN_PATHS = frozenset({"/api/health"})


class Principal:
    def __init__(self, token_id: int, name: str, role: Role) -> None:
        self.token_id = token_id
        self.name = name
        self.role = role


PRINCIPAL = web.RequestKey("principal", Principal)


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith("/api/") or request.path in OPEN_PATHS:
        return await handler(request)
    limiter = request.app[LIMITER]
    key = request.remote or "unknown"
    verdict = limiter.check(key, time.monotonic())
    if not verdict.allowed:
        raise web.HTTPTooManyRequests(
            headers={"Retry-After": str(int(verdict.retry_after_s) + 1)},
            text="too many failed authentication attempts",
        )
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise web.HTTPUnauthorized(headers={"WWW-Authenticate": "Bearer"}, text="token required")
    try:
        async with request.app[DATABASE].session(write=True) as session:
            row = await authenticate(session, token.strip(), now=datetime.now(UTC))
            principal = Principal(row.id, row.name, row.role)
    except AuthError:
        limiter.failed(key, time.monotonic())
        raise web.HTTPUnauthorized(
            headers={"WWW-Authenticate": "Bearer"}, text="invalid token"
        ) from None
    limiter.succeeded(key)
    request[PRINCIPAL] = principal
    return await handler(request)


def require(request: web.Request, *roles: Role) -> Principal:
    """The caller, if their role is one of ``roles`` (admin always passes); else 403."""
    principal = request[PRINCIPAL]
    if principal.role is Role.ADMIN or principal.role in roles:
        return principal
    raise web.HTTPForbidden(text=f"needs role {' or '.join(r.value for r in roles)}")
