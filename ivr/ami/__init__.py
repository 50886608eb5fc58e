"""Asterisk Manager Interface: a sans-I/O protocol and an asyncio client over it.

``protocol`` (parser/serialiser), ``messages`` (values), ``tracker`` (ActionID
correlation), ``originate`` and ``backoff`` are pure; ``connection``, ``subscription``
and ``client`` do the asyncio work.
"""

from ivr.ami.client import AmiClient
from ivr.ami.messages import Action, Event, Greeting, Message, ProtocolErrorMessage, Response
from ivr.ami.originate import OriginateReason, OriginateResult
from ivr.ami.protocol import AmiProtocol
from ivr.ami.subscription import EventSubscription, ReconnectSignal
from ivr.ami.tracker import ActionTracker, Completed, Expect, Rejected
from ivr.backoff import Backoff, reconnect_delay

__all__ = [
    "Action",
    "ActionTracker",
    "AmiClient",
    "AmiProtocol",
    "Backoff",
    "Completed",
    "Event",
    "EventSubscription",
    "Expect",
    "Greeting",
    "Message",
    "OriginateReason",
    "OriginateResult",
    "ProtocolErrorMessage",
    "ReconnectSignal",
    "Rejected",
    "Response",
    "reconnect_delay",
]
