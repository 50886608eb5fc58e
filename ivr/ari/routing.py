"""Fan-out of ARI events to the code waiting for them; no sockets, only asyncio primitives.

Three ways to consume events, all fed by :meth:`EventRouter.publish`:

* :meth:`EventRouter.events` - every event, for the dispatcher that starts a flow on each
  ``StasisStart``;
* :meth:`EventRouter.channel_events` - one channel's events, ending after its ``StasisEnd``
  or ``ChannelDestroyed``, for the flow driving that call (the hang-up cause of a call
  in Stasis is in the ``ChannelHangupRequest`` that precedes ``StasisEnd``; a call that
  never reached Stasis ends with ``ChannelDestroyed`` and its cause);
* :meth:`EventRouter.wait_for` - the first event matching a predicate.

A channel's events are buffered from the first one seen until somebody subscribes, so a
flow that subscribes just after ``StasisStart`` (or after the call already ended) still
sees everything. All buffers are bounded: on overflow the oldest event is dropped and
logged, because an unread queue must not grow for ever inside a long-running controller.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict, deque
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from types import TracebackType

from ivr.ari.models import TERMINAL_EVENT_TYPES, AriEvent
from ivr.errors import AriError

log = logging.getLogger(__name__)

EventPredicate = Callable[[AriEvent], bool]


class EventStream:
    """A bounded FIFO of events that one consumer reads; an async iterator.

    Iteration ends when the stream is closed (by the router when the channel ends or the
    client shuts down, or by the consumer with :meth:`close`) and the buffer is drained.
    ``lost`` is True when the router closed it because the channel vanished while the
    websocket was down, so its end was never seen.
    """

    def __init__(self, maxsize: int, label: str, on_close: Callable[[EventStream], None]) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be >= 1")
        self._items: deque[AriEvent] = deque()
        self._maxsize = maxsize
        self._label = label
        self._on_close = on_close
        self._wakeup = asyncio.Event()
        self._closed = False
        self.dropped = 0
        self.lost = False

    @property
    def closed(self) -> bool:
        return self._closed

    def put(self, event: AriEvent) -> None:
        """Append an event (router side); drops the oldest one when full."""
        if self._closed:
            return
        if len(self._items) >= self._maxsize:
            self._items.popleft()
            self.dropped += 1
            log.warning("ARI %s: consumer too slow, dropped oldest event", self._label)
        self._items.append(event)
        self._wakeup.set()

    def finish(self, *, lost: bool = False) -> None:
        """No more events will come (router side); what is buffered can still be read."""
        self._closed = True
        self.lost = self.lost or lost
        self._wakeup.set()

    def close(self) -> None:
        """Stop receiving (consumer side); idempotent."""
        if not self._closed:
            self.finish()
        self._on_close(self)

    async def next(self, timeout_s: float | None = None) -> AriEvent | None:
        """The next event, or None once the stream is closed and drained.

        Raises TimeoutError when nothing arrives within ``timeout_s`` seconds.
        """
        async with asyncio.timeout(timeout_s):
            while not self._items:
                if self._closed:
                    return None
                self._wakeup.clear()
                await self._wakeup.wait()
            return self._items.popleft()

    async def wait_for(self, predicate: EventPredicate, timeout_s: float | None) -> AriEvent | None:
        """Skip events until one matches; None if the stream ends first.

        Events that do not match are consumed and discarded. Raises TimeoutError after
        ``timeout_s`` seconds in total.
        """
        async with asyncio.timeout(timeout_s):
            while (event := await self.next()) is not None:
                if predicate(event):
                    return event
            return None

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> AriEvent:
        event = await self.next()
        if event is None:
            raise StopAsyncIteration
        return event

    def __enter__(self) -> EventStream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


@dataclass
class _ChannelSlot:
    backlog: deque[AriEvent]
    subscribers: list[EventStream] = field(default_factory=list)
    seen: bool = False
    ended: bool = False


class EventRouter:
    """Routes each published event to the all-events streams, its channel and waiters."""

    def __init__(
        self,
        *,
        channel_queue_size: int = 256,
        stream_queue_size: int = 1024,
        max_tracked_channels: int = 1024,
    ) -> None:
        self._channel_queue_size = channel_queue_size
        self._stream_queue_size = stream_queue_size
        self._max_tracked = max_tracked_channels
        self._streams: set[EventStream] = set()
        self._channels: OrderedDict[str, _ChannelSlot] = OrderedDict()
        self._waiters: list[tuple[EventPredicate, asyncio.Future[AriEvent]]] = []
        self._closed = False

    def events(self) -> EventStream:
        """A new stream of every event published from now on."""
        stream = EventStream(self._stream_queue_size, "event stream", self._streams.discard)
        if self._closed:
            stream.finish()
        else:
            self._streams.add(stream)
        return stream

    def channel_events(self, channel_id: str) -> EventStream:
        """A stream of one channel's events, starting with those buffered before the call.

        Subscribe before originating (with a ``channel_id`` you chose) or straight after
        ``StasisStart``; either way nothing is missed. The stream closes after the
        channel's ``StasisEnd`` or ``ChannelDestroyed``.
        """
        slot = self._slot(channel_id)

        def unsubscribe(stream: EventStream) -> None:
            if stream in slot.subscribers:
                slot.subscribers.remove(stream)

        stream = EventStream(self._channel_queue_size, f"channel {channel_id}", unsubscribe)
        for event in slot.backlog:
            stream.put(event)
        slot.backlog.clear()
        if slot.ended or self._closed:
            stream.finish()
        else:
            slot.subscribers.append(stream)
        return stream

    async def wait_for(self, predicate: EventPredicate, timeout_s: float | None) -> AriEvent:
        """The first event published from now on that matches; TimeoutError otherwise."""
        if self._closed:
            raise AriError("ARI client is closed")
        future: asyncio.Future[AriEvent] = asyncio.get_running_loop().create_future()
        waiter = (predicate, future)
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(timeout_s):
                return await future
        finally:
            self._waiters.remove(waiter)

    def publish(self, event: AriEvent) -> None:
        """Deliver one event to every interested consumer; never blocks."""
        self._resolve_waiters(event)
        for stream in self._streams:
            stream.put(event)
        channel_id = event.channel_id
        if channel_id is None:
            return
        slot = self._slot(channel_id)
        slot.seen = True
        if slot.subscribers:
            for stream in slot.subscribers:
                stream.put(event)
        else:
            slot.backlog.append(event)
        if event.type in TERMINAL_EVENT_TYPES:
            slot.ended = True
            for stream in slot.subscribers:
                stream.finish()
            slot.subscribers.clear()

    def mark_lost(self, live_channel_ids: Collection[str]) -> list[str]:
        """Close the streams of channels we saw that no longer exist; returns their ids.

        Called after a reconnect: a channel that ended while the websocket was down sent
        its ``StasisEnd`` into the void, and its flow would otherwise wait for ever.
        Channels with no event yet (subscribed before originate) are left alone.
        """
        lost: list[str] = []
        for channel_id, slot in self._channels.items():
            if slot.seen and not slot.ended and channel_id not in live_channel_ids:
                slot.ended = True
                for stream in slot.subscribers:
                    stream.finish(lost=True)
                slot.subscribers.clear()
                lost.append(channel_id)
        return lost

    def close(self) -> None:
        """End every stream and fail every waiter; the router accepts no new consumers."""
        self._closed = True
        for stream in list(self._streams):
            stream.finish()
        self._streams.clear()
        for slot in self._channels.values():
            for stream in slot.subscribers:
                stream.finish()
            slot.subscribers.clear()
        for _, future in self._waiters:
            if not future.done():
                future.set_exception(AriError("ARI client is closed"))

    def _resolve_waiters(self, event: AriEvent) -> None:
        for predicate, future in self._waiters:
            if future.done():
                continue
            try:
                matched = predicate(event)
            except Exception as e:  # a caller's bug must not stop event delivery to others
                future.set_exception(e)
                continue
            if matched:
                future.set_result(event)

    def _slot(self, channel_id: str) -> _ChannelSlot:
        slot = self._channels.get(channel_id)
        if slot is None:
            slot = _ChannelSlot(backlog=deque(maxlen=self._channel_queue_size))
            self._channels[channel_id] = slot
            self._evict()
        else:
            self._channels.move_to_end(channel_id)
        return slot

    def _evict(self) -> None:
        # Forget the least recently active channels nobody listens to; channels with a
        # subscriber are in use and stay even if that means exceeding the bound.
        excess = len(self._channels) - self._max_tracked
        if excess <= 0:
            return
        idle = [cid for cid, slot in self._channels.items() if not slot.subscribers]
        for channel_id in idle[:excess]:
            del self._channels[channel_id]
