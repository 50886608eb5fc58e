"""Pure correlation of AMI answers with the actions that asked for them.

An action is answered in one of three shapes, all tied together by ``ActionID``:

* ``RESPONSE``: one Response (Ping, Command, Hangup...).
* ``EVENT_LIST``: a Response with ``EventList: start``, then events carrying the same
  ActionID, then one whose ``EventList: Complete`` closes the list (CoreShowChannels,
  PJSIPShowEndpoints...). A Success response without ``EventList`` is a list of nothing.
* ``COMPLETION_EVENT``: a Response, then one named event with the same ActionID
  (``Originate`` with ``Async: true`` -> ``OriginateResponse``).

A ``Response: Error`` ends any of them at once. The tracker keeps no clock and does no I/O;
the client owns timeouts and futures and calls :meth:`ActionTracker.discard` when it gives up.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field

from ivr.ami.messages import Event, Message, Response


class Expect(enum.Enum):
    RESPONSE = "response"
    EVENT_LIST = "event-list"
    COMPLETION_EVENT = "completion-event"


@dataclass(frozen=True, slots=True)
class Completed:
    """The action finished; ``events`` holds list members or the completion event."""

    action_id: str
    response: Response
    events: tuple[Event, ...] = ()


@dataclass(frozen=True, slots=True)
class Rejected:
    """Asterisk answered ``Response: Error``."""

    action_id: str
    response: Response


Outcome = Completed | Rejected


@dataclass(slots=True)
class _Pending:
    expect: Expect
    completion_event: str | None
    response: Response | None = None
    events: list[Event] = field(default_factory=list)


class ActionTracker:
    """Which actions are still waiting, and what each has collected so far."""

    def __init__(self) -> None:
        self._pending: dict[str, _Pending] = {}

    def expect(
        self, action_id: str, expect: Expect = Expect.RESPONSE, *, completion_event: str = ""
    ) -> None:
        """Start tracking ``action_id``. ``completion_event`` names the event that ends a
        ``COMPLETION_EVENT`` action (case-insensitive)."""
        if action_id in self._pending:
            raise ValueError(f"ActionID {action_id!r} is already pending")
        if expect is Expect.COMPLETION_EVENT and not completion_event:
            raise ValueError("COMPLETION_EVENT needs the name of the completion event")
        self._pending[action_id] = _Pending(expect, completion_event.casefold() or None)

    def discard(self, action_id: str) -> None:
        """Stop tracking (timeout, cancellation); late answers are then ignored."""
        self._pending.pop(action_id, None)

    def clear(self) -> list[str]:
        """Forget everything (the connection is gone); returns the ids that were waiting."""
        ids = list(self._pending)
        self._pending.clear()
        return ids

    @property
    def pending(self) -> frozenset[str]:
        return frozenset(self._pending)

    def feed(self, message: Message) -> Outcome | None:
        """Account for one incoming message; returns the outcome it completes, if any."""
        if isinstance(message, Response):
            return self._on_response(message)
        if isinstance(message, Event):
            return self._on_event(message)
        return None

    def _on_response(self, response: Response) -> Outcome | None:
        action_id = response.action_id
        entry = self._pending.get(action_id) if action_id is not None else None
        if entry is None or action_id is None or entry.response is not None:
            return None
        if response.is_error:
            del self._pending[action_id]
            return Rejected(action_id, response)
        entry.response = response
        if entry.expect is Expect.RESPONSE:
            return self._complete(action_id, entry, ())
        if entry.expect is Expect.EVENT_LIST:
            if (response.event_list or "").casefold() != "start":
                return self._complete(action_id, entry, ())
            if _list_closed(entry.events):
                return self._complete(action_id, entry, entry.events)
            return None
        # COMPLETION_EVENT: the event may already have arrived.
        done = self._completion(entry)
        return self._complete(action_id, entry, (done,)) if done is not None else None

    def _on_event(self, event: Event) -> Outcome | None:
        action_id = event.action_id
        entry = self._pending.get(action_id) if action_id is not None else None
        if entry is None or action_id is None or entry.expect is Expect.RESPONSE:
            return None
        entry.events.append(event)
        if entry.response is None:
            # Asterisk writes the Response first; keep early events in case a proxy reorders.
            return None
        if entry.expect is Expect.EVENT_LIST:
            return self._complete(action_id, entry, entry.events) if _list_closed([event]) else None
        done = self._completion(entry)
        return self._complete(action_id, entry, (done,)) if done is not None else None

    def _completion(self, entry: _Pending) -> Event | None:
        for event in entry.events:
            if event.name.casefold() == entry.completion_event:
                return event
        return None

    def _complete(self, action_id: str, entry: _Pending, events: Sequence[Event]) -> Completed:
        del self._pending[action_id]
        response = entry.response
        if response is None:  # pragma: no cover - callers only complete answered actions
            raise AssertionError("completing an action without its response")
        return Completed(action_id, response, tuple(events))


def _list_closed(events: list[Event]) -> bool:
    return any((e.event_list or "").casefold() == "complete" for e in events)
