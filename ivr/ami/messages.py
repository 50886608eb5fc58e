"""AMI messages as immutable values: what Asterisk sends (greeting, responses, events,
plus our own marker for frames we could not parse) and what we send (actions).

AMI frames are ordered lists of ``Key: value`` lines. Keys may repeat (``Output:`` in a
Command response, ``Variable:`` in an Originate) and Asterisk is not consistent about their
case (``Uniqueid`` vs ``UniqueID``), so headers are kept as an ordered tuple of pairs and
looked up case-insensitively.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

#: Header keys whose values must never appear in a repr or a log line.
_SECRET_KEYS = frozenset({"secret", "key", "password"})

Headers = tuple[tuple[str, str], ...]


def _lookup(headers: Headers, key: str) -> str | None:
    folded = key.casefold()
    for k, v in headers:
        if k.casefold() == folded:
            return v
    return None


def _lookup_all(headers: Headers, key: str) -> tuple[str, ...]:
    folded = key.casefold()
    return tuple(v for k, v in headers if k.casefold() == folded)


@dataclass(frozen=True, slots=True)
class Greeting:
    """The banner line Asterisk writes on connect, e.g. ``Asterisk Call Manager/11.0.0``."""

    banner: str

    @property
    def version(self) -> str:
        """The AMI protocol version (not the Asterisk version): ``11.0.0`` for Asterisk 22."""
        return self.banner.partition("/")[2].strip()


@dataclass(frozen=True, slots=True)
class _Frame:
    headers: Headers
    #: casefolded key -> first value, built on the first lookup: an event is typically
    #: asked for several headers, most of them by every subscriber it is offered to
    _index: dict[str, str] | None = field(default=None, compare=False, repr=False, hash=False)

    def _first(self, key: str) -> str | None:
        index = self._index
        if index is None:
            index = {}
            for k, v in self.headers:
                index.setdefault(k.casefold(), v)
            object.__setattr__(self, "_index", index)  # frozen: a cache, not state
        return index.get(key.casefold())

    def get(self, key: str, default: str | None = None) -> str | None:
        """The first value of ``key`` (case-insensitive), or ``default``."""
        value = self._first(key)
        return default if value is None else value

    def get_all(self, key: str) -> tuple[str, ...]:
        """Every value of a repeated key, in order."""
        return _lookup_all(self.headers, key)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._first(key) is not None

    def __getitem__(self, key: str) -> str:
        value = self._first(key)
        if value is None:
            raise KeyError(key)
        return value

    def as_dict(self) -> dict[str, str]:
        """Headers as a plain dict; the first value of a repeated key wins."""
        out: dict[str, str] = {}
        for k, v in self.headers:
            out.setdefault(k, v)
        return out

    @property
    def action_id(self) -> str | None:
        return self._first("ActionID")

    @property
    def event_list(self) -> str | None:
        """``start`` on the response that opens an event list, ``Complete`` on its last event."""
        return self._first("EventList")


@dataclass(frozen=True, slots=True)
class Response(_Frame):
    """The answer to an action.

    ``legacy_output`` holds the raw lines of a pre-Asterisk-14 ``Response: Follows`` Command
    answer (ended by ``--END COMMAND--``); modern Asterisk sends ``Output:`` headers instead.
    :attr:`output_lines` reads either.
    """

    legacy_output: tuple[str, ...] = ()

    @property
    def status(self) -> str:
        """``Success``, ``Error``, ``Follows`` or ``Goodbye``."""
        return self._first("Response") or ""

    @property
    def is_error(self) -> bool:
        return self.status.casefold() == "error"

    @property
    def message(self) -> str:
        return self._first("Message") or ""

    @property
    def output_lines(self) -> tuple[str, ...]:
        return self.legacy_output or _lookup_all(self.headers, "Output")


@dataclass(frozen=True, slots=True)
class Event(_Frame):
    """An unsolicited (or list-member) message; ``name`` is its ``Event:`` value."""

    @property
    def name(self) -> str:
        return self._first("Event") or ""


@dataclass(frozen=True, slots=True)
class ProtocolErrorMessage:
    """Bytes that did not make a valid frame. Reported, never raised: one bad frame must
    not take down a client that is tracking live calls."""

    reason: str
    raw: bytes = field(repr=False)


Message = Greeting | Response | Event | ProtocolErrorMessage


def _normalise(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> Headers:
    items = headers.items() if isinstance(headers, Mapping) else headers
    return tuple((str(k), str(v)) for k, v in items)


@dataclass(frozen=True, slots=True, init=False, repr=False)
class Action:
    """An action to send: ``Action(name, headers, variables=...)``.

    ``headers`` may be a mapping or a sequence of pairs (for repeated keys). ``variables``
    become one ``Variable: name=value`` line each, as Originate expects. The client fills
    in ``action_id``; the repr hides secrets so an Action can be logged.
    """

    name: str
    headers: Headers = ()
    variables: tuple[tuple[str, str], ...] = ()
    action_id: str | None = None

    def __init__(
        self,
        name: str,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
        *,
        variables: Mapping[str, str] | Iterable[tuple[str, str]] = (),
        action_id: str | None = None,
    ) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "headers", _normalise(headers))
        object.__setattr__(self, "variables", _normalise(variables))
        object.__setattr__(self, "action_id", action_id)

    def with_action_id(self, action_id: str) -> Action:
        return dataclasses.replace(self, action_id=action_id)

    def get(self, key: str) -> str | None:
        return _lookup(self.headers, key)

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{k}={'***' if k.casefold() in _SECRET_KEYS else v!r}" for k, v in self.headers
        )
        extra = f", {len(self.variables)} variable(s)" if self.variables else ""
        return f"Action({self.name!r}, id={self.action_id!r}, {shown}{extra})"
