"""Place an outbound call over AMI and learn its fate.

AMI ``Originate`` (async, with our own ``ChannelId``) puts the answered call into a
dialplan context, which hands it to our Stasis application. The ``OriginateResponse``
alone cannot tell busy from unregistered (its Reason is 4, 3 or 0); the ``Hangup`` event's
cause and ``DialEnd``'s status for the same channel can, so we listen for them before
dialling.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from ivr.ami.client import AmiClient
from ivr.ami.messages import Action
from ivr.errors import AmiActionError, AmiError

#: How long after a failed originate the channel's Hangup event may still arrive.
_HANGUP_GRACE_S = 3.0


@dataclass(frozen=True)
class DialOutcome:
    channel_id: str
    answered: bool
    #: OriginateResponse Reason: 4 answered, 3 rang out, 0 anything else.
    reason: int
    hangup_cause: int | None
    hangup_cause_txt: str | None
    dial_status: str | None


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


async def dial(
    ami: AmiClient,
    channel: str,
    *,
    context: str,
    exten: str = "s",
    variables: Mapping[str, str] | None = None,
    ring_timeout_s: float = 30.0,
    caller_id: str | None = None,
    channel_id: str | None = None,
) -> DialOutcome:
    """Ring ``channel``; returns once it is answered (and in ``context``) or has failed."""
    channel_id = channel_id or str(uuid.uuid4())

    with ami.subscribe(names={"Hangup", "DialEnd"}, channel_id=channel_id, maxsize=32) as events:
        result = await ami.originate(
            channel,
            context=context,
            exten=exten,
            priority=1,
            channel_id=channel_id,
            variables=dict(variables or {}),
            timeout_ms=int(ring_timeout_s * 1000),
            caller_id=caller_id,
            response_timeout=ring_timeout_s + 30,
        )
        if result.answered:
            return DialOutcome(channel_id, True, result.reason, None, None, None)
        cause: int | None = None
        cause_txt: str | None = None
        dial_status: str | None = None
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(_HANGUP_GRACE_S):
                async for event in events:
                    if event.name == "DialEnd":
                        dial_status = event.get("DialStatus")
                    elif event.name == "Hangup":
                        cause = _int(event.get("Cause"))
                        cause_txt = event.get("Cause-txt")
                        break
        if cause is None and dial_status is None:
            cause, cause_txt = await _why_no_channel(ami, channel)
        return DialOutcome(channel_id, False, result.reason, cause, cause_txt, dial_status)


async def _why_no_channel(ami: AmiClient, channel: str) -> tuple[int | None, str | None]:
    """Asterisk could not even create the channel, so no Hangup event carries a cause.

    For a PJSIP endpoint dialled directly (``PJSIP/<name>``, as rig phones and directly
    registered handsets are), ask Asterisk about the endpoint: unknown means the number
    does not exist here (cause 1), no reachable contact means it is not registered (20).
    """
    tech, _, resource = channel.partition("/")
    if tech.upper() != "PJSIP" or not resource or "@" in resource or "/" in resource:
        return None, None
    try:
        _, events = await ami.action_list(Action("PJSIPShowEndpoint", {"Endpoint": resource}))
    except AmiActionError:
        return 1, "Unallocated (unknown endpoint)"
    except AmiError:
        return None, None
    state = next((e.get("DeviceState") for e in events if e.name == "EndpointDetail"), None)
    if (state or "").casefold() in ("unavailable", "invalid"):
        return 20, "Subscriber absent (not registered)"
    return None, None
