"""The ARI client: REST calls plus the event websocket, kept alive across Asterisk restarts.

Use it as an async context manager; it owns its aiohttp session (unless given one), the
websocket task and the reconciliation tasks, and stops them all on exit::

    async with AriClient(info.ari_url, user, password, "watchline") as ari:
        await ari.wait_connected(5)
        channel_id = str(uuid.uuid4())
        with ari.channel_events(channel_id) as events:
            await ari.originate("PJSIP/441632960100", channel_id=channel_id)
            start = await events.wait_for(lambda e: e.type == "StasisStart", 30)

The websocket (``/ari/events?app=NAME&subscribeAll=false``) reconnects with exponential
back-off and jitter for as long as the client is open. After every (re)connection the
client reconciles: it lists Asterisk's channels, closes the event streams of channels that
vanished meanwhile (``stream.lost``), and hands the channels still in our Stasis app to
``on_reconnect`` - by default they are hung up, since their flows missed events. Calls
that begin while it reconciles (originated by this client, or whose StasisStart arrives on
the new connection) are not orphans and are left out.

Requests that change something (POST, PUT, DELETE without a body) go over that same
websocket when Asterisk can take them there ("ARI REST over WebSocket", Asterisk 22.3 and
later): a delivery call's playback then costs one websocket message instead of an HTTP
request. With the event filter (``ignored_events``), that took about a tenth off the
controller's CPU per call in the broadcast benchmark (bench/RESULTS.md). Reads
(GET: channel lists, recording files) stay on HTTP, as does anything whose path or query
holds a character the two transports might encode differently.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from types import TracebackType
from typing import Any, Self

import aiohttp

from ivr.ari.models import (
    AriEvent,
    Channel,
    InvalidEvent,
    RestResponse,
    StasisStart,
    UnknownEvent,
    parse_event,
)
from ivr.ari.rest import AriRest, QueryValue, error_reason, query_params
from ivr.ari.routing import EventPredicate, EventRouter, EventStream
from ivr.backoff import Backoff, gives_up, reconnect_delay
from ivr.errors import AriConnectionError, AriError, AriRequestError

log = logging.getLogger(__name__)

OnReconnect = Callable[[list[Channel]], Awaitable[None]]

#: A connection that lasted less than this counts as a failure for the back-off, so a
#: server that accepts and at once drops the websocket is not hammered.
STABLE_CONNECTION_S = 5.0
_LOG_EXCERPT = 200
#: How long closing the websocket waits for Asterisk's close frame.
_CLOSE_TIMEOUT_S = 2.0
#: The first release whose ARI websocket also takes REST requests.
WS_REST_SINCE = (22, 3)
#: Path segments and query values sent over the websocket as they are: ids, sound URIs,
#: plain words. Anything else (a "+", a "%", a "#", a space) takes HTTP, where we encode it.
_PLAIN_SEGMENT = re.compile(r"[A-Za-z0-9._:@-]+")
_PLAIN_VALUE = re.compile(r"[A-Za-z0-9._:/,@-]*")


def ws_rest_supported(version: str) -> bool:
    """Whether an Asterisk of this version (``22.10.1+dfsg...``) takes REST requests on its
    ARI websocket. Older releases, and versions we cannot read, get HTTP."""
    found = re.match(r"(\d+)\.(\d+)", version)
    return found is not None and (int(found[1]), int(found[2])) >= WS_REST_SINCE


def _plain(segments: Sequence[str], query: dict[str, str]) -> bool:
    return all(_PLAIN_SEGMENT.fullmatch(s) for s in segments) and all(
        _PLAIN_VALUE.fullmatch(v) for v in query.values()
    )


class AriClient(AriRest):
    """ARI REST calls (inherited from :class:`AriRest`) plus events and reconnection."""

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        app: str,
        *,
        session: aiohttp.ClientSession | None = None,
        backoff: Backoff | None = None,
        on_reconnect: OnReconnect | None = None,
        reconcile_on_start: bool = True,
        reconcile_grace_s: float = 1.0,
        request_timeout_s: float = 10.0,
        connect_timeout_s: float = 10.0,
        heartbeat_s: float = 15.0,
        channel_queue_size: int = 256,
        rand: Callable[[], float] = random.random,
        ignored_events: Sequence[str] = (),
        rest_over_websocket: bool = True,
    ) -> None:
        """``on_reconnect`` receives the channels found in our Stasis app after each
        connection (the first one too when ``reconcile_on_start``, so a restarted
        controller settles what its previous run left behind).

        ``ignored_events``: event types Asterisk is asked not to send to our app at all
        (its eventFilter), set again on every connection. ``rest_over_websocket``: send
        requests on the event websocket when Asterisk can take them there."""
        super().__init__(base_url, username, password, app, request_timeout_s=request_timeout_s)
        self._given_session = session
        self._backoff = backoff or Backoff()
        self._on_reconnect: OnReconnect = on_reconnect or self.hang_up_orphans
        self._reconcile_on_start = reconcile_on_start
        self._reconcile_grace_s = reconcile_grace_s
        # Channels that are new on the current connection (originated by us, or whose
        # StasisStart arrived on it) while a reconciliation runs; None outside one.
        self._fresh: set[str] | None = None
        self._connect_timeout_s = connect_timeout_s
        self._heartbeat_s = heartbeat_s
        self._rand = rand
        self._router = EventRouter(channel_queue_size=channel_queue_size)
        self._status = asyncio.Condition()
        self._connected = False
        self._failure: AriConnectionError | None = None
        self._closing = False
        self._runner: asyncio.Task[None] | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        #: How many times the websocket has been (re)established; tests and metrics read it.
        self.connections = 0
        self._ignored_events = tuple(ignored_events)
        self._want_ws_rest = rest_over_websocket
        #: True while the current websocket takes REST requests (probed on each connection)
        self._ws_rest = False
        self._ws_replies: dict[str, asyncio.Future[RestResponse]] = {}
        self._ws_ids = itertools.count(1)
        #: requests answered over the websocket; tests and benchmarks read it
        self.ws_requests = 0

    # --- lifecycle -----------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        self._session = self._given_session or aiohttp.ClientSession()
        self._runner = asyncio.create_task(self._run(), name=f"ari-events-{self.app}")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop the websocket and every task; end all event streams. Idempotent."""
        self._closing = True
        if self._ws is not None:
            # Closing the socket ends the read loop cleanly, with a close frame sent;
            # the runner is cancelled only if it is connecting or sleeping.
            await self._ws.close()
        tasks = [t for t in (self._runner, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._runner = None
        self._router.close()
        await self._set_status(connected=False)
        if self._session is not None and self._given_session is None:
            await self._session.close()
        self._session = None

    @property
    def connected(self) -> bool:
        """True while the event websocket is up."""
        return self._connected

    async def wait_connected(self, timeout_s: float | None) -> None:
        """Return once the websocket is up.

        Raises AriConnectionError when it is not up within ``timeout_s``, when the back-off
        gave up, or when the client is closed.
        """
        try:
            async with asyncio.timeout(timeout_s), self._status:
                await self._status.wait_for(
                    lambda: self._connected or self._failure is not None or self._closing
                )
        except TimeoutError as e:
            raise AriConnectionError(f"ARI websocket not up after {timeout_s} s") from e
        if self._failure is not None:
            raise self._failure
        if not self._connected:
            raise AriConnectionError("ARI client is closed")

    # --- events --------------------------------------------------------------------------

    def events(self) -> EventStream:
        """Every event from now on, until the client closes (close the stream when done)."""
        return self._router.events()

    def channel_events(self, channel_id: str) -> EventStream:
        """One channel's events, closed after its StasisEnd or ChannelDestroyed."""
        return self._router.channel_events(channel_id)

    async def wait_for(self, predicate: EventPredicate, timeout_s: float | None) -> AriEvent:
        """The first event from now on for which ``predicate`` is true; TimeoutError else."""
        return await self._router.wait_for(predicate, timeout_s)

    async def hang_up_orphans(self, channels: Sequence[Channel]) -> None:
        """The default ``on_reconnect``: hang up every channel found in our app."""
        for channel in channels:
            log.warning(
                "ARI: hanging up channel %s (%s) left in Stasis app %s",
                channel.id,
                channel.name,
                self.app,
            )
            try:
                await self.hangup(channel.id)
            except AriRequestError as e:
                if not e.not_found:  # already gone is what we wanted
                    log.warning("ARI: could not hang up %s: %s", channel.id, e)
            except AriConnectionError as e:
                log.warning("ARI: reconciliation interrupted: %s", e)
                return

    # --- the websocket loop --------------------------------------------------------------

    async def _run(self) -> None:
        # Runs until close(): each pass connects, reads until the socket drops, then waits
        # out the back-off. Bounded by Backoff.max_failures when one is set.
        failures = 0
        while not self._closing:
            ws = await self._connect(failures)
            if ws is None:
                failures += 1
                if gives_up(failures, self._backoff):
                    self._failure = AriConnectionError(
                        f"ARI websocket: gave up after {failures} failed attempts"
                    )
                    log.error("%s", self._failure)
                    await self._set_status(connected=False)
                    return
            else:
                started = time.monotonic()
                await self._serve(ws)
                stable = time.monotonic() - started >= STABLE_CONNECTION_S
                failures = 0 if stable else failures + 1
                if self._closing:
                    return
                log.warning("ARI: event websocket closed; reconnecting")
            await asyncio.sleep(reconnect_delay(failures, self._backoff, self._rand()))

    async def _connect(self, failures: int) -> aiohttp.ClientWebSocketResponse | None:
        assert self._session is not None  # set in __aenter__ before the runner starts
        url = f"{self._root}/events"
        try:
            async with asyncio.timeout(self._connect_timeout_s):
                return await self._session.ws_connect(
                    url,
                    params={"app": self.app, "subscribeAll": "false"},
                    headers=self._auth_headers,
                    heartbeat=self._heartbeat_s,
                    timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=_CLOSE_TIMEOUT_S),
                )
        except aiohttp.WSServerHandshakeError as e:
            level = logging.ERROR if e.status in (401, 403) else logging.WARNING
            log.log(level, "ARI: websocket %s refused: HTTP %s %s", url, e.status, e.message)
        except (aiohttp.ClientError, OSError, TimeoutError) as e:
            # Only the first failure of a run is a warning; an Asterisk that is down for a
            # minute should not fill the log.
            level = logging.WARNING if failures == 0 else logging.DEBUG
            log.log(level, "ARI: cannot reach %s: %s: %s", url, type(e).__name__, e)
        return None

    async def _serve(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.connections += 1
        log.info("ARI: event websocket up for app %s (connection %d)", self.app, self.connections)
        self._ws = ws
        try:
            await self._prepare_connection()
            await self._set_status(connected=True)
            if self.connections > 1 or self._reconcile_on_start:
                fresh: set[str] = set()
                self._fresh = fresh
                self._spawn(self._reconcile(fresh), "ari-reconcile")
            await self._read(ws)
        finally:
            self._ws = None
            self._ws_rest = False
            self._connected = False
            lost = AriConnectionError("ARI websocket closed before Asterisk answered")
            for reply in self._ws_replies.values():
                if not reply.done():
                    reply.set_exception(lost)
            await ws.close()
            await self._set_status(connected=False)

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        # Ends when the socket closes; one bad frame is logged and skipped, never fatal.
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                self._dispatch(msg.data)
            elif msg.type == aiohttp.WSMsgType.BINARY:
                log.warning("ARI: skipping binary websocket frame of %d bytes", len(msg.data))
            elif msg.type == aiohttp.WSMsgType.ERROR:
                log.warning("ARI: websocket error: %s", ws.exception())
                return

    def _dispatch(self, text: str) -> None:
        if '"RESTResponse"' in text and self._answer(text):
            return
        event = parse_event(text)
        if isinstance(event, InvalidEvent):
            log.warning("ARI: skipping invalid event (%s): %.*s", event.reason, _LOG_EXCERPT, text)
            return
        if isinstance(event, StasisStart) and self._fresh is not None:
            self._fresh.add(event.channel.id)
        if isinstance(event, UnknownEvent):
            if event.type == "ApplicationReplaced":
                log.error("ARI: another client took over Stasis app %s", self.app)
            else:
                log.debug("ARI: unmodelled event %s", event.type)
        self._router.publish(event)

    def _answer(self, text: str) -> bool:
        """Hand a RESTResponse to the request waiting for it; False if ``text`` is not one."""
        try:
            reply = RestResponse.model_validate_json(text)
        except ValueError:
            return False  # an event that merely mentions the word
        waiting = self._ws_replies.get(reply.request_id)
        if waiting is not None and not waiting.done():
            waiting.set_result(reply)
        else:
            log.debug("ARI: reply to request %s that nobody awaits", reply.request_id)
        return True

    # --- requests over the websocket -----------------------------------------------------

    async def _prepare_connection(self) -> None:
        """Per connection: learn whether requests may use the websocket, and set the event
        filter (Asterisk forgets it when it restarts). A failure here costs only speed."""
        try:
            if self._want_ws_rest:
                self._ws_rest = ws_rest_supported(await self.asterisk_version())
            if self._ignored_events:
                await self.set_event_filter(self.app, disallowed=self._ignored_events)
        except AriError as e:
            log.warning("ARI: could not prepare the connection (using plain HTTP): %s", e)

    async def _send(
        self,
        method: str,
        segments: Sequence[str],
        params: Mapping[str, QueryValue] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> bytes:
        query = query_params(params or {})
        ws = self._ws
        if (
            self._ws_rest
            and ws is not None
            and not ws.closed
            and method != "GET"
            and body is None
            and _plain(segments, query)
        ):
            return await self._send_on_ws(ws, method, segments, query)
        return await super()._send(method, segments, params, body)

    async def _send_on_ws(
        self,
        ws: aiohttp.ClientWebSocketResponse,
        method: str,
        segments: Sequence[str],
        query: dict[str, str],
    ) -> bytes:
        path = "/" + "/".join(segments)
        request_id = f"wl-{next(self._ws_ids)}"
        message: dict[str, Any] = {
            "type": "RESTRequest", "transaction_id": request_id, "request_id": request_id,
            "method": method, "uri": "/".join(segments),
        }  # fmt: skip
        if query:
            message["query_strings"] = [{"name": k, "value": v} for k, v in query.items()]
        reply: asyncio.Future[RestResponse] = asyncio.get_running_loop().create_future()
        self._ws_replies[request_id] = reply
        try:
            await ws.send_str(json.dumps(message))
            async with asyncio.timeout(self._timeout.total):
                answer = await reply
        except TimeoutError as e:
            raise AriConnectionError(f"ARI {method} {path}: no answer on the websocket") from e
        except (aiohttp.ClientError, ConnectionError) as e:
            raise AriConnectionError(f"ARI {method} {path}: {type(e).__name__}: {e}") from e
        finally:
            self._ws_replies.pop(request_id, None)
        self.ws_requests += 1
        text = answer.message_body or ""
        if answer.status_code >= 400:
            reason = error_reason(text[:4096], answer.reason_phrase)
            raise AriRequestError(method, path, answer.status_code, reason)
        return text.encode()

    def _originating(self, channel_id: str) -> None:
        if self._fresh is not None:
            self._fresh.add(channel_id)

    async def _reconcile(self, fresh: set[str]) -> None:
        """Settle what happened while we were away; ``fresh`` grows as new calls arrive.

        Calls that start during reconciliation (an originate right after connecting, an
        inbound call whose StasisStart is still on the wire) also show up in the channel
        list; they are told apart from orphans by ``fresh``, after a grace period that
        lets their StasisStart arrive.
        """
        try:
            channels = await self.list_channels()
            lost = self._router.mark_lost({c.id for c in channels} | fresh)
            if lost:
                log.warning("ARI: channels ended while disconnected: %s", ", ".join(lost))
            candidates = [c for c in channels if c.in_stasis_app(self.app)]
            if candidates and self._reconcile_grace_s > 0:
                await asyncio.sleep(self._reconcile_grace_s)
            orphans = [c for c in candidates if c.id not in fresh]
        except AriError as e:
            log.warning("ARI: reconciliation skipped, cannot list channels: %s", e)
            return
        finally:
            if self._fresh is fresh:
                self._fresh = None
        try:
            await self._on_reconnect(orphans)
        except Exception:  # the callback is the caller's code; its bug must not kill us
            log.exception("ARI: on_reconnect callback failed")

    # --- helpers -------------------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        # Owned: close() cancels and awaits every task in _tasks.
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            log.error("ARI: task %s failed", task.get_name(), exc_info=error)

    async def _set_status(self, *, connected: bool) -> None:
        async with self._status:
            self._connected = connected
            self._status.notify_all()
