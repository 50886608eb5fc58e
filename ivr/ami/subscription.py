"""Event fan-out to subscribers, and the reconnection signal.

The client's reader hands every event to every matching subscription without ever
waiting: a subscriber that falls behind loses its *oldest* queued events (counted and
logged), never stalls the reader, and so never delays action responses or other
subscribers.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from types import TracebackType

from ivr.ami.messages import Event

log = logging.getLogger(__name__)

EventFilter = Callable[[Event], bool]

#: After the first dropped event, log again only every this many drops.
_DROP_LOG_EVERY = 1000


class EventSubscription:
    """A bounded queue of events, iterated with ``async for`` until :meth:`close`.

    ``names`` (case-insensitive) and ``filter`` select events; None accepts all. Usable as
    a context manager (sync or async) that closes it on exit.
    """

    def __init__(
        self,
        names: Iterable[str] | None = None,
        filter: EventFilter | None = None,
        *,
        maxsize: int = 1000,
        on_close: Callable[[EventSubscription], None] | None = None,
    ) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be >= 1")
        self._names = frozenset(n.casefold() for n in names) if names is not None else None
        self._filter = filter
        self._items: deque[Event] = deque()
        self._maxsize = maxsize
        self._wakeup = asyncio.Event()
        self._closed = False
        self._on_close = on_close
        #: Events thrown away because the queue was full.
        self.dropped = 0

    @property
    def closed(self) -> bool:
        return self._closed

    def matches(self, event: Event) -> bool:
        if self._names is not None and event.name.casefold() not in self._names:
            return False
        if self._filter is None:
            return True
        try:
            return self._filter(event)
        except Exception:
            # A buggy filter must not break delivery to everyone else.
            log.exception("AMI event filter raised; event %s not delivered to it", event.name)
            return False

    def offer(self, event: Event) -> None:
        """Queue ``event`` if it matches; never blocks (called by the client's reader)."""
        if self._closed or not self.matches(event):
            return
        if len(self._items) >= self._maxsize:
            self._items.popleft()
            self.dropped += 1
            if self.dropped % _DROP_LOG_EVERY == 1:
                log.warning(
                    "AMI subscriber is slow: queue of %d full, dropped %d event(s) so far",
                    self._maxsize,
                    self.dropped,
                )
        self._items.append(event)
        self._wakeup.set()

    async def get(self) -> Event:
        """The next event; raises StopAsyncIteration once closed and drained."""
        # Each wake-up is caused by an offer or a close, so this waits, it does not spin.
        while not self._items:
            if self._closed:
                raise StopAsyncIteration
            self._wakeup.clear()
            await self._wakeup.wait()
        return self._items.popleft()

    def get_nowait(self) -> Event | None:
        return self._items.popleft() if self._items else None

    def close(self) -> None:
        """Stop receiving; queued events can still be read, then iteration ends."""
        if self._closed:
            return
        self._closed = True
        self._wakeup.set()
        if self._on_close is not None:
            self._on_close(self)

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    async def __anext__(self) -> Event:
        return await self.get()

    def __enter__(self) -> EventSubscription:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> EventSubscription:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class ReconnectSignal:
    """Counts successful re-logins after a lost connection (the first login is not one).

    ``await signal.wait(after=n)`` returns the counter once it exceeds ``n``;
    ``async for count in signal`` yields each new count from now on. Callers use it to
    reconcile: events sent while the link was down are lost for good.
    """

    def __init__(self) -> None:
        self._count = 0
        self._changed = asyncio.Event()

    @property
    def count(self) -> int:
        return self._count

    def fire(self) -> int:
        self._count += 1
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()
        return self._count

    async def wait(self, after: int | None = None) -> int:
        """Wait for a reconnection after count ``after`` (default: the current count)."""
        threshold = self._count if after is None else after
        while self._count <= threshold:
            await self._changed.wait()
        return self._count

    def __aiter__(self) -> AsyncIterator[int]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[int]:
        seen = self._count
        while True:  # ends when the consumer stops iterating or is cancelled
            seen = await self.wait(after=seen)
            yield seen
