"""The asyncio AMI client: one long-lived, self-healing session with Asterisk.

    async with AmiClient("127.0.0.1", 5038, "watchline", secret) as ami:
        print(await ami.command("core show version"))
        with ami.subscribe(names={"Hangup", "DialEnd"}) as events:
            result = await ami.originate("PJSIP/441632960100", context="delivery", exten="s")
            async for event in events: ...

Task ownership: the client runs one supervisor task, started on entry and cancelled and
awaited on exit. Per connection the supervisor runs a TaskGroup of the reader, the
keepalive and any async ``on_reconnect`` callbacks; when the connection dies the group
ends, pending requests fail with :class:`AmiConnectionError` (retryable), and the
supervisor reconnects with jittered exponential back-off. Each successful re-login bumps
:attr:`AmiClient.reconnected`: events sent while the link was down are lost for good, so
callers reconcile (CoreShowChannels, their own database) when it fires.

Bad credentials on the first connect raise :class:`AmiAuthError` from ``__aenter__``;
later they are logged at ERROR and retried with back-off (the secret may be mid-rotation).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import secrets
from collections.abc import Iterable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ivr.ami.connection import AmiConnection
from ivr.ami.messages import Action, Event, Greeting, Response
from ivr.ami.originate import OriginateResult, build_originate, parse_originate_response
from ivr.ami.protocol import MAX_FRAME_BYTES
from ivr.ami.subscription import EventFilter, EventSubscription, ReconnectSignal
from ivr.ami.supervisor import ConnectionSupervisor, ReconnectCallback, SupervisionPolicy
from ivr.ami.tracker import Expect
from ivr.backoff import Backoff
from ivr.errors import AmiConnectionError, AmiError

if TYPE_CHECKING:
    from ivr.config import AsteriskSettings

log = logging.getLogger(__name__)


class AmiClient:
    """An AMI session that reconnects by itself. See the module docstring.

    ``keepalive_interval`` seconds between Pings (None disables them); a Ping not answered
    within ``keepalive_timeout`` (default ``action_timeout``) marks the connection dead.
    ``max_reconnect_attempts`` None means: keep trying until the client is closed.
    """

    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        secret: str,
        *,
        connect_timeout: float = 5.0,
        action_timeout: float = 10.0,
        keepalive_interval: float | None = 20.0,
        keepalive_timeout: float | None = None,
        backoff: Backoff | None = None,
        max_reconnect_attempts: int | None = None,
        event_mask: str = "on",
        event_filters: Sequence[str] = (),
        subscriber_queue_size: int = 1000,
        max_frame_bytes: int = MAX_FRAME_BYTES,
        rng: random.Random | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.username = username
        self._secret = secret  # never logged; Action's repr masks it too
        self.connect_timeout = connect_timeout
        self.action_timeout = action_timeout
        self._event_mask = event_mask
        self._event_filters = tuple(event_filters)
        self._queue_size = subscriber_queue_size
        self._max_frame_bytes = max_frame_bytes
        self._ids = itertools.count(1)
        self._id_prefix = f"wl-{secrets.token_hex(3)}-"
        self._subscriptions: set[EventSubscription] = set()
        #: per-call subscriptions, by the channel id their events carry
        self._by_channel: dict[str, set[EventSubscription]] = {}
        self._task: asyncio.Task[None] | None = None
        policy = SupervisionPolicy(
            keepalive_interval=keepalive_interval,
            keepalive_timeout=keepalive_timeout or action_timeout,
            backoff=backoff or Backoff(),
            max_reconnect_attempts=max_reconnect_attempts,
        )
        self._supervisor = ConnectionSupervisor(
            self._open, self._publish, policy, where=f"{host}:{port}", rng=rng
        )
        #: Fires (and counts) after every successful re-login.
        self.reconnected: ReconnectSignal = self._supervisor.reconnected
        #: Called with the reconnect count after each re-login; coroutine results run as
        #: tasks of the new connection (cancelled if it dies too). Exceptions are logged.
        self.on_reconnect: list[ReconnectCallback] = self._supervisor.on_reconnect

    @classmethod
    def from_settings(cls, settings: AsteriskSettings, **options: Any) -> AmiClient:
        """Build from :class:`ivr.config.AsteriskSettings`; ``options`` as for __init__."""
        return cls(
            settings.host,
            settings.ami_port,
            settings.ami_username,
            settings.ami_secret.get_secret_value(),
            **options,
        )

    def __repr__(self) -> str:
        state = "connected" if self.connected else "disconnected"
        return f"<AmiClient {self.username}@{self.host}:{self.port} {state}>"

    # ---- lifecycle ------------------------------------------------------------------

    async def __aenter__(self) -> AmiClient:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def connect(self) -> None:
        """First connection and login; raises AmiAuthError or AmiConnectionError."""
        if self._task is not None:
            raise RuntimeError("AmiClient is already connected")
        supervisor = self._supervisor
        supervisor.closing = supervisor.gave_up = False
        conn = await self._open()
        supervisor.current = conn  # usable at once, before the task first runs
        self._task = asyncio.create_task(supervisor.run(conn), name="ami-supervisor")

    async def close(self) -> None:
        """Log off, stop the background work, end every subscription. Idempotent."""
        self._supervisor.closing = True
        conn = self._supervisor.current
        if conn is not None and not conn.is_closed:
            try:
                await conn.request(Action("Logoff"), timeout=min(1.0, self.action_timeout))
            except AmiError as e:
                log.debug("AMI logoff not acknowledged: %s", e)
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise  # we are being cancelled ourselves; do not swallow it
        if self._supervisor.current is not None:
            self._supervisor.current.close("client closed")
            self._supervisor.current = None
        for subscription in list(self._subscriptions):
            subscription.close()
        for keyed in list(self._by_channel.values()):
            for subscription in list(keyed):
                subscription.close()

    async def wait_closed(self) -> None:
        """Return once the client has stopped for good: closed, or given up reconnecting
        (``max_reconnect_attempts``). An application can await this to fail loudly."""
        task = self._task
        if task is not None:
            await asyncio.wait({task})

    @property
    def connected(self) -> bool:
        conn = self._supervisor.current
        return conn is not None and not conn.is_closed

    @property
    def greeting(self) -> Greeting | None:
        """The banner of the current connection (``Asterisk Call Manager/11.0.0``)."""
        conn = self._supervisor.current
        return conn.greeting if conn is not None else None

    # ---- actions --------------------------------------------------------------------
    # Every wait has a deadline even when the caller sets none (action_timeout), which a
    # caller-side asyncio.timeout cannot give; hence the ``timeout`` parameters (ASYNC109).

    async def action(self, action: Action, *, timeout: float | None = None) -> Response:  # noqa: ASYNC109
        """Send an action and return its Response.

        Raises AmiActionError on ``Response: Error``; AmiConnectionError (retryable) when
        not connected, when the connection drops before the answer, or after ``timeout``
        (default ``action_timeout``) seconds without one.
        """
        outcome = await self._connection().request(action, timeout=self._timeout(timeout))
        return outcome.response

    async def action_list(
        self,
        action: Action,
        *,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> tuple[Response, list[Event]]:
        """Send an event-list action (CoreShowChannels...) and collect the whole list.

        The events returned include the closing ``...Complete`` event, whose ``ListItems``
        header says how many items came before it.
        """
        outcome = await self._connection().request(
            action, Expect.EVENT_LIST, timeout=self._timeout(timeout)
        )
        return outcome.response, list(outcome.events)

    async def command(self, command: str, *, timeout: float | None = None) -> str:  # noqa: ASYNC109
        """Run a CLI command; its output as text (modern ``Output:`` or legacy Follows)."""
        response = await self.action(Action("Command", {"Command": command}), timeout=timeout)
        return "\n".join(response.output_lines)

    async def originate(
        self,
        channel: str,
        *,
        context: str | None = None,
        exten: str | None = None,
        priority: int | str | None = None,
        application: str | None = None,
        data: str | None = None,
        channel_id: str | None = None,
        other_channel_id: str | None = None,
        variables: Mapping[str, str] | None = None,
        timeout_ms: int = 30_000,
        caller_id: str | None = None,
        account: str | None = None,
        response_timeout: float | None = None,
    ) -> OriginateResult:
        """Originate asynchronously and wait for the ``OriginateResponse`` of this action.

        Sends ``Async: true`` with ``ChannelId`` (a fresh UUID unless given) and returns
        when Asterisk reports the outcome: on answer, or once ``timeout_ms`` has run out.

        The result's ``reason`` separates only three cases (ARCHITECTURE.md): 4 answered,
        3 rang out, 0 everything else. Busy, declined, unavailable and unknown endpoints
        are told apart only by the ``Hangup`` event's ``Cause`` and the ``DialEnd`` event's
        ``DialStatus`` for the same ``ChannelId`` (their ``Uniqueid``/``DestUniqueid``):
        subscribe to them before calling this.

        AmiConnectionError here does not mean no call was placed: if the link dropped after
        Asterisk queued the originate, the call may go ahead. Reconcile by ``channel_id``
        before dialling again.
        """
        action, channel_id = build_originate(
            channel,
            context=context,
            exten=exten,
            priority=priority,
            application=application,
            data=data,
            channel_id=channel_id,
            other_channel_id=other_channel_id,
            variables=variables,
            timeout_ms=timeout_ms,
            caller_id=caller_id,
            account=account,
        )
        # Asterisk answers at pickup or after timeout_ms of ringing; allow for call set-up.
        wait = response_timeout or timeout_ms / 1000 + self.action_timeout
        try:
            outcome = await self._connection().request(
                action, Expect.COMPLETION_EVENT, timeout=wait, completion_event="OriginateResponse"
            )
        except AmiConnectionError as e:
            raise AmiConnectionError(f"originate of ChannelId {channel_id}: {e}") from e
        return parse_originate_response(
            outcome.events[0], action_id=outcome.action_id, channel_id=channel_id
        )

    def _connection(self) -> AmiConnection:
        conn = self._supervisor.current
        if conn is None or conn.is_closed:
            why = "gave up reconnecting" if self._supervisor.gave_up else "reconnecting"
            if self._task is None:
                why = "client not connected"
            raise AmiConnectionError(f"no AMI connection to {self.host}:{self.port} ({why})")
        return conn

    def _timeout(self, timeout: float | None) -> float:
        return self.action_timeout if timeout is None else timeout

    def _next_id(self) -> str:
        return f"{self._id_prefix}{next(self._ids)}"

    # ---- events ---------------------------------------------------------------------

    def subscribe(
        self,
        names: Iterable[str] | None = None,
        filter: EventFilter | None = None,
        *,
        maxsize: int | None = None,
        channel_id: str | None = None,
    ) -> EventSubscription:
        """A bounded queue of matching events, from now until it is closed (or the client
        is). Survives reconnections. A slow reader loses its oldest events, never stalls
        the client; see :class:`EventSubscription`.

        ``channel_id`` limits it to one call's events (``Uniqueid`` or ``DestUniqueid``),
        found by a lookup rather than offered every event: with hundreds of calls in
        flight, each with its own subscription, that is the difference that matters.
        """
        if channel_id is None:
            subscription = EventSubscription(
                names, filter, maxsize=maxsize or self._queue_size,
                on_close=self._subscriptions.discard,
            )  # fmt: skip
            self._subscriptions.add(subscription)
            return subscription

        def forget(sub: EventSubscription) -> None:
            keyed = self._by_channel.get(channel_id)
            if keyed is not None:
                keyed.discard(sub)
                if not keyed:
                    del self._by_channel[channel_id]

        subscription = EventSubscription(
            names, filter, maxsize=maxsize or self._queue_size, on_close=forget
        )
        self._by_channel.setdefault(channel_id, set()).add(subscription)
        return subscription

    async def wait_for_event(
        self,
        predicate: EventFilter,
        timeout: float,  # noqa: ASYNC109
        *,
        names: Iterable[str] | None = None,
    ) -> Event | None:
        """The first event from now that satisfies ``predicate``, or None after ``timeout``.

        Only events that arrive after the call are seen; to catch the events an action
        causes, subscribe before sending it.
        """
        with self.subscribe(names, predicate, maxsize=16) as subscription:
            try:
                async with asyncio.timeout(timeout):
                    return await subscription.get()
            except (TimeoutError, StopAsyncIteration):
                return None

    def _publish(self, event: Event) -> None:
        for subscription in list(self._subscriptions):
            subscription.offer(event)
        if self._by_channel:
            uid, dest = event.get("Uniqueid"), event.get("DestUniqueid")
            for key in (uid, dest if dest != uid else None):
                if key is not None and key in self._by_channel:
                    for subscription in list(self._by_channel[key]):
                        subscription.offer(event)

    async def _open(self) -> AmiConnection:
        return await AmiConnection.open(
            self.host,
            self.port,
            self.username,
            self._secret,
            timeout=self.connect_timeout,
            next_id=self._next_id,
            event_mask=self._event_mask,
            event_filters=self._event_filters,
            max_frame_bytes=self._max_frame_bytes,
        )
