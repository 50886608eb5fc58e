"""What the campaign engine needs from the outside world, as small interfaces.

The engine decides *who* and *when*; a :class:`DeliveryPort` carries out one attempt (ring
the member and run the delivery dialogue, or send the fax) and says what happened. The
Asterisk implementation is :mod:`ivr.campaigns.asterisk_port`; unit tests use
:mod:`ivr.campaigns.fake_port`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ivr.campaigns.outcomes import AttemptResult
from ivr.campaigns.policy import CalleeSchedule, Priority
from ivr.flows.delivery import DeliveryRecorder
from ivr.members.fields import Channel


@dataclass(frozen=True)
class AttemptPlan:
    """One attempt, as persisted before it starts."""

    attempt_id: int
    #: the uuid passed to Asterisk as ChannelId: correlates every event of the call
    channel_id: str
    target_id: int
    campaign_id: int
    bulletin_id: int
    member_id: int
    member_name: str
    group_id: int | None
    #: E.164 number to call: the phone, or the fax number for fax members
    number: str
    channel: Channel
    priority: Priority
    #: this attempt's number for the target (1 for the first call)
    attempt_number: int
    #: the member's call window, for scheduling a retry without reading the member again
    schedule: CalleeSchedule


@dataclass(frozen=True)
class AttemptReport:
    result: AttemptResult
    hangup_cause: int | None = None
    amd_status: str | None = None
    digits: str = ""
    #: free text for staff: fax pages, why a call failed...
    detail: str | None = None


class DeliveryPort(Protocol):
    async def prepare(self, campaign_id: int, bulletin_id: int) -> None:
        """Called once when the engine first sees a running campaign, before its first
        call: render or install what its calls will play."""
        ...

    async def wait_reason(self, bulletin_id: int, channel: Channel) -> str | None:
        """Why a member on ``channel`` cannot be sent this bulletin yet (a fax waits for
        approved text), or None when the attempt may go ahead."""
        ...

    async def deliver(self, plan: AttemptPlan, recorder: DeliveryRecorder) -> AttemptReport:
        """Carry out one attempt. Must not raise for telephony failures: report them."""
        ...
