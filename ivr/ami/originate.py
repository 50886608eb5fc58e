"""Building an asynchronous Originate and reading its ``OriginateResponse``; pure.

What ``OriginateResponse`` can and cannot tell (measured on Asterisk 22, see
ARCHITECTURE.md): its ``Reason`` is the last control frame seen on the new channel and
separates only three cases in practice:

* ``4`` answered,
* ``3`` rang until the originate timeout,
* ``0`` everything else: busy, declined, unavailable, unknown or unregistered endpoint,
  congestion...

Telling busy (cause 17, ``DialEnd`` ``BUSY``) from declined (21), unavailable (19/34) or a
missing endpoint takes the ``Hangup`` event's ``Cause``/``Cause-txt`` and the ``DialEnd``
event's ``DialStatus``, correlated through the ``ChannelId`` we pass (it becomes the
channel's ``Uniqueid``). Subscribe to those events *before* originating so none is missed.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from ivr.ami.messages import Action, Event

#: Header values Asterisk writes when a field is empty.
_NULLS = frozenset({"", "<null>", "<unknown>"})


class OriginateReason(enum.IntEnum):
    """The only ``Reason`` codes worth naming (AST_CONTROL_*); anything else is OTHER."""

    OTHER = 0
    RANG_OUT = 3
    ANSWERED = 4


@dataclass(frozen=True, slots=True)
class OriginateResult:
    """What one ``OriginateResponse`` says; see the module docstring for its limits."""

    action_id: str
    #: ``Success`` or ``Failure``.
    response: str
    #: The raw ``Reason`` code; :attr:`reason_kind` folds it to the three meaningful cases.
    reason: int
    channel: str | None
    uniqueid: str | None
    #: The ChannelId we asked for; Hangup/DialEnd events for this call carry it as Uniqueid.
    channel_id: str
    event: Event

    @property
    def answered(self) -> bool:
        return self.response.casefold() == "success" and self.reason == OriginateReason.ANSWERED

    @property
    def rang_out(self) -> bool:
        return self.reason == OriginateReason.RANG_OUT

    @property
    def reason_kind(self) -> OriginateReason:
        try:
            return OriginateReason(self.reason)
        except ValueError:
            return OriginateReason.OTHER


def build_originate(
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
) -> tuple[Action, str]:
    """The ``Originate`` action (always ``Async: true``) and the ChannelId it uses.

    Give either ``context``+``exten``(+``priority``, default 1) or ``application``
    (+``data``). ``channel_id`` defaults to a fresh UUID.
    """
    dialplan = context is not None or exten is not None
    if dialplan == (application is not None):
        raise ValueError("give either context/exten/priority or application/data")
    if dialplan and (context is None or exten is None):
        raise ValueError("context and exten go together")
    if timeout_ms <= 0:
        raise ValueError("timeout_ms must be positive")
    channel_id = channel_id or str(uuid.uuid4())
    headers: list[tuple[str, str]] = [("Channel", channel)]
    if dialplan:
        headers += [("Context", str(context)), ("Exten", str(exten))]
        headers.append(("Priority", str(priority if priority is not None else 1)))
    else:
        headers.append(("Application", str(application)))
        if data is not None:
            headers.append(("Data", data))
    headers += [("Timeout", str(timeout_ms)), ("ChannelId", channel_id)]
    if other_channel_id is not None:
        headers.append(("OtherChannelId", other_channel_id))
    if caller_id is not None:
        headers.append(("CallerID", caller_id))
    if account is not None:
        headers.append(("Account", account))
    headers.append(("Async", "true"))
    return Action("Originate", headers, variables=variables or {}), channel_id


def parse_originate_response(event: Event, *, action_id: str, channel_id: str) -> OriginateResult:
    """Read an ``OriginateResponse`` event; a missing or odd ``Reason`` counts as 0."""
    raw_reason = (event.get("Reason") or "0").strip()
    reason = int(raw_reason) if raw_reason.isdigit() else 0
    channel = event.get("Channel")
    uniqueid = event.get("Uniqueid")
    return OriginateResult(
        action_id=action_id,
        response=event.get("Response") or "Failure",
        reason=reason,
        channel=None if channel in _NULLS else channel,
        uniqueid=None if uniqueid in _NULLS else uniqueid,
        channel_id=channel_id,
        event=event,
    )
