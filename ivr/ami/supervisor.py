"""Keeping one AMI connection alive: serve it, notice when it dies, replace it.

Per connection, a TaskGroup runs the reader, the keepalive and any async ``on_reconnect``
callbacks. The reader ends the group when the peer closes or a read fails; the keepalive
ends it when a Ping goes unanswered (a half-open TCP connection never reports EOF). Then
pending requests fail with AmiConnectionError (retryable) and a new connection is opened
with jittered exponential back-off. Each successful re-login fires :attr:`reconnected`.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from ivr.ami.connection import AmiConnection
from ivr.ami.messages import Action, Event
from ivr.ami.subscription import ReconnectSignal
from ivr.backoff import Backoff, reconnect_delay
from ivr.errors import AmiAuthError, AmiConnectionError, AmiError

log = logging.getLogger(__name__)

ReconnectCallback = Callable[[int], Awaitable[None] | None]


class _ConnectionLost(Exception):
    """Raised inside the per-connection TaskGroup to end it."""


@dataclass(frozen=True, slots=True)
class SupervisionPolicy:
    """How to watch and replace a connection (see :class:`ivr.ami.client.AmiClient`)."""

    keepalive_interval: float | None = 20.0
    keepalive_timeout: float = 10.0
    backoff: Backoff = field(default_factory=Backoff)
    max_reconnect_attempts: int | None = None


class ConnectionSupervisor:
    """Runs (in :meth:`run`, one task owned by the client) the life of the connections.

    ``open_connection`` opens and logs in a new connection; ``on_event`` receives every
    event read, synchronously (it must not block). ``where`` names the peer in logs.
    """

    def __init__(
        self,
        open_connection: Callable[[], Awaitable[AmiConnection]],
        on_event: Callable[[Event], None],
        policy: SupervisionPolicy,
        *,
        where: str,
        rng: random.Random | None = None,
    ) -> None:
        self._open = open_connection
        self._on_event = on_event
        self.policy = policy
        self._where = where
        self._rng = rng or random.Random()
        #: The live connection, None while reconnecting or after giving up.
        self.current: AmiConnection | None = None
        #: Set by the owner before it closes, so a connection ending then is not replaced.
        self.closing = False
        self.gave_up = False
        self.reconnected = ReconnectSignal()
        self.on_reconnect: list[ReconnectCallback] = []

    async def run(self, first: AmiConnection | None) -> None:
        """Serve ``first``, then each replacement, until cancelled or out of attempts."""
        conn = first
        # One pass per connection. ``closing`` is checked only after serving, because the
        # owner's Logoff needs the reader still running.
        while conn is not None:
            await self._serve(conn, announce=conn is not first)
            if self.closing:
                return
            conn = await self._reconnect()
        self.gave_up = True

    async def _serve(self, conn: AmiConnection, *, announce: bool) -> None:
        self.current = conn
        reason = "closed"
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._read_loop(conn), name="ami-reader")
                if self.policy.keepalive_interval:
                    tasks.create_task(self._keepalive(conn), name="ami-keepalive")
                if announce:
                    self._announce_reconnect(tasks)
        except* _ConnectionLost as group:
            reason = str(group.exceptions[0])
            level = logging.INFO if self.closing else logging.WARNING
            log.log(level, "AMI connection to %s lost: %s", self._where, reason)
        except* Exception as group:
            # A bug must not leave the client silently dead: log it and reconnect.
            reason = "internal error"
            log.error("AMI client internal error; reconnecting", exc_info=group)
        finally:
            conn.close(reason)
            if self.current is conn:
                self.current = None

    async def _read_loop(self, conn: AmiConnection) -> None:
        # Ends only by exception: the peer closing, a read error, or cancellation.
        while True:
            try:
                message = await conn.read_message()
            except AmiConnectionError as e:
                raise _ConnectionLost(str(e)) from e
            conn.dispatch(message)
            if isinstance(message, Event):
                self._on_event(message)

    async def _keepalive(self, conn: AmiConnection) -> None:
        interval = float(self.policy.keepalive_interval or 0)
        # Ends by exception: a missing Pong, or cancellation with the connection.
        while True:
            await asyncio.sleep(interval)
            try:
                await conn.request(Action("Ping"), timeout=self.policy.keepalive_timeout)
            except AmiConnectionError as e:
                raise _ConnectionLost(f"keepalive failed: {e}") from e
            except AmiError as e:
                log.warning("AMI Ping answered with an error (connection alive): %s", e)

    async def _reconnect(self) -> AmiConnection | None:
        limit = self.policy.max_reconnect_attempts
        attempts = itertools.count() if limit is None else iter(range(limit))
        # Unbounded only when asked (limit None); then it ends when the owner cancels us.
        for attempt in attempts:
            delay = reconnect_delay(attempt, self.policy.backoff, self._rng.random())
            log.info("AMI reconnecting to %s in %.2fs", self._where, delay)
            await asyncio.sleep(delay)
            try:
                return await self._open()
            except AmiAuthError as e:
                # Logged loudly but retried: the secret may be mid-rotation.
                log.error("%s; retrying", e)
            except AmiConnectionError as e:
                log.warning("AMI reconnect attempt %d failed: %s", attempt + 1, e)
        log.error("AMI: gave up reconnecting to %s after %s attempts", self._where, limit)
        return None

    def _announce_reconnect(self, tasks: asyncio.TaskGroup) -> None:
        count = self.reconnected.fire()
        log.info("AMI reconnected to %s (reconnection #%d)", self._where, count)
        for callback in list(self.on_reconnect):
            try:
                result = callback(count)
            except Exception:
                log.exception("AMI on_reconnect callback %r failed", callback)
                continue
            if inspect.isawaitable(result):
                tasks.create_task(_logged(result, callback), name="ami-on-reconnect")


async def _logged(awaitable: Awaitable[None], callback: object) -> None:
    try:
        await awaitable
    except Exception:
        log.exception("AMI on_reconnect callback %r failed", callback)
