"""Helpers for tests, the benchmark and the demo of the report line.

- :class:`WebhookReceiver`: a real external reporting backend on 127.0.0.1 (aiohttp, port
  0) that checks each delivery's signature, can be "down" (503) for its first N requests,
  and keeps what it accepted by Idempotency-Key;
- :func:`staff_token`: an API token for the staff API;
- :func:`wait_for_reports`: poll the store until reports are complete;
- :class:`ReportsHost`: the component and the staff API without Asterisk, for unit tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, cast

from aiohttp import web
from sqlalchemy import select

from ivr.auth.limiter import FailureLimiter
from ivr.auth.tokens import create_token
from ivr.clock import Clock, SystemClock
from ivr.config import Settings
from ivr.reports.signing import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, verify
from ivr.speech.asr.base import AsrEngine
from ivr.store.database import Database
from ivr.store.models.auth import Role
from ivr.store.models.reports import Report

if TYPE_CHECKING:
    from ivr.app import Controller
    from ivr.reports.component import ReportsComponent


@dataclass
class Received:
    key: str
    body: dict[str, Any]
    signature_ok: bool
    #: time.time() when it arrived
    at: float


@dataclass
class WebhookReceiver:
    """``async with WebhookReceiver(secret, fail_first=3) as backend: ... backend.url``."""

    secret: str
    #: answer 503 to this many requests before accepting any
    fail_first: int = 0
    requests: int = 0
    accepted: dict[str, list[Received]] = field(default_factory=dict)
    rejected_signatures: int = 0
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    #: 0 picks a free port
    port: int = 0
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/reports"

    async def __aenter__(self) -> WebhookReceiver:
        app = web.Application()
        app.router.add_post("/reports", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        # a port given in advance lets a test point a controller at a backend not yet up
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        self.requests += 1
        raw = await request.read()
        if self.requests <= self.fail_first:
            return web.Response(status=503, text="down for maintenance")
        signed = verify(
            self.secret, request.headers.get(SIGNATURE_HEADER, ""), raw, now=int(time.time())
        )
        if not signed:
            self.rejected_signatures += 1
            return web.Response(status=401, text="bad signature")
        key = request.headers.get(IDEMPOTENCY_HEADER, "")
        body = json.loads(raw)
        self.accepted.setdefault(key, []).append(Received(key, body, signed, time.time()))
        self.arrived.set()
        return web.json_response({"ok": True})

    def bodies(self) -> dict[str, dict[str, Any]]:
        """The first accepted body of each reference."""
        return {k: v[0].body for k, v in self.accepted.items()}

    async def wait_for(self, count: int, timeout_s: float) -> None:
        """Until ``count`` distinct references have been accepted."""
        async with asyncio.timeout(timeout_s):
            while len(self.accepted) < count:
                self.arrived.clear()
                await self.arrived.wait()


async def staff_token(db: Database, *, role: Role = Role.STAFF, clock: Clock | None = None) -> str:
    async with db.session(write=True) as session:
        return await create_token(
            session, name=f"test {role.value}", role=role, now=(clock or SystemClock()).now()
        )


async def wait_for_reports(
    db: Database,
    count: int,
    *,
    timeout_s: float,
    where: Callable[[Report], bool] = lambda r: r.transcribed_at is not None,
) -> list[Report]:
    """Poll until ``count`` reports satisfy ``where`` (default: complete); oldest first."""
    deadline = time.monotonic() + timeout_s
    while True:
        async with db.session() as session:
            reports = list(await session.scalars(select(Report).order_by(Report.id)))
        done = [r for r in reports if where(r)]
        if len(done) >= count or time.monotonic() > deadline:
            return done
        await asyncio.sleep(0.2)


class ReportsHost:
    """The parts of :class:`~ivr.app.Controller` the reports component and the web app
    use, without Asterisk: for unit tests of the backend that drive the dialogue with a
    scripted call. ``serve()`` runs the component and the API on 127.0.0.1 (port 0)."""

    def __init__(self, settings: Settings, db: Database, clock: Clock | None = None) -> None:
        self.settings = settings
        self.db = db
        self.clock: Clock = clock or SystemClock()
        self.ari = None
        self.web_port: int | None = None
        self.auth_limiter = FailureLimiter(max_failures=10, window_s=60)
        self.components: list[Any] = []

    def component(self, name: str) -> Any:
        for c in self.components:
            if c.name == name:
                return c
        raise KeyError(name)

    def health(self) -> dict[str, Any]:
        return {"ami": True, "ari": True, "active_calls": 0}

    @contextlib.asynccontextmanager
    async def serve(self, engine: AsrEngine) -> AsyncIterator[ReportsComponent]:
        from ivr.reports.component import ReportsComponent
        from ivr.web.app import create_app

        component = ReportsComponent(cast("Controller", self), engine=engine)
        self.components = [component]
        app = create_app(cast("Controller", self))
        component.routes(app)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.web_port = runner.addresses[0][1]
        task = asyncio.create_task(component.run(), name="reports-under-test")
        try:
            yield component
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await runner.cleanup()
