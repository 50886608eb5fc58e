"""The campaign engine's DeliveryPort over Asterisk: AMI to ring, ARI to talk.

An attempt is an AMI Originate (our ChannelId = the attempt's channel_id) into the
``watchline-delivery`` context. AMD runs there, and the answered call then enters our Stasis
app as ``delivery,<attempt id>,<AMD status>,<AMD cause>``. The Stasis dispatcher gives it to
:meth:`AsteriskDeliveryPort.dialogue`, which runs the delivery dialogue and hands the facts
back to the waiting :meth:`deliver`.

A call answered but hung up before it reached Stasis (for example during AMD) is seen by
its AMI Hangup event, so no attempt waits for ever.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

from ivr.ami.client import AmiClient
from ivr.ami.messages import Event
from ivr.ami.subscription import EventSubscription
from ivr.campaigns.fax_delivery import FaxDelivery
from ivr.campaigns.outcomes import AttemptResult, CallFacts, Outcome, classify_call
from ivr.campaigns.ports import AttemptPlan, AttemptReport
from ivr.campaigns.scripts import ScriptBook
from ivr.errors import AmiError, WatchlineError
from ivr.flows.delivery import DeliveryFacts, DeliveryRecorder, deliver
from ivr.members.fields import Channel
from ivr.telephony.call import Call, CallEnded
from ivr.telephony.dialer import dial

log = logging.getLogger(__name__)

#: The longest a delivery call may last once answered (a 5-minute bulletin, played 5 times).
MAX_CALL_S = 30 * 60.0
#: After the channel hangs up, how long the dialogue gets to hand back its facts.
_WRAP_UP_S = 10.0


def dial_string(template: str, e164: str) -> str:
    """``PJSIP/{digits}`` or ``PJSIP/{e164}@trunk`` with the member's number."""
    return template.format(e164=e164, digits=e164.lstrip("+"))


@dataclass
class _Pending:
    plan: AttemptPlan
    recorder: DeliveryRecorder
    done: asyncio.Future[tuple[DeliveryFacts, str, str]]
    facts: DeliveryFacts = field(default_factory=DeliveryFacts)
    started: bool = False


class AsteriskDeliveryPort:
    def __init__(
        self,
        ami: AmiClient,
        scripts: ScriptBook,
        *,
        dial_template: str,
        ring_timeout_s: float,
        amd: bool,
        fax: FaxDelivery | None = None,
    ) -> None:
        self.fax = fax
        self.ami = ami
        self.scripts = scripts
        self.dial_template = dial_template
        self.ring_timeout_s = ring_timeout_s
        self.amd = amd
        self._pending: dict[str, _Pending] = {}

    async def prepare(self, campaign_id: int, bulletin_id: int) -> None:
        await self.scripts.prepare(campaign_id, bulletin_id)

    async def wait_reason(self, bulletin_id: int, channel: Channel) -> str | None:
        if channel is Channel.FAX:
            return await self.fax.wait_reason(bulletin_id) if self.fax else "fax is not set up"
        return None

    async def deliver(self, plan: AttemptPlan, recorder: DeliveryRecorder) -> AttemptReport:
        if plan.channel is Channel.FAX and self.fax is not None:
            return await self.fax.deliver(plan, dial_string(self.dial_template, plan.number))
        key = str(plan.attempt_id)
        pending = _Pending(plan, recorder, asyncio.get_running_loop().create_future())
        self._pending[key] = pending

        try:
            with self.ami.subscribe(names={"Hangup"}, channel_id=plan.channel_id,
                                    maxsize=4) as hangups:  # fmt: skip
                outcome = await dial(
                    self.ami,
                    dial_string(self.dial_template, plan.number),
                    context="watchline-delivery",
                    variables={"WL_ATTEMPT": key, "WL_AMD": "1" if self.amd else "0"},
                    ring_timeout_s=self.ring_timeout_s,
                    channel_id=plan.channel_id,
                )
                if not outcome.answered:
                    facts = CallFacts(
                        originate_reason=outcome.reason,
                        hangup_cause=outcome.hangup_cause,
                        dial_status=outcome.dial_status,
                    )
                    return AttemptReport(classify_call(facts), hangup_cause=outcome.hangup_cause)
                return await self._answered(pending, hangups)
        except AmiError as e:
            # Asterisk restarted or the link dropped: the call's fate is unknown; retry it.
            return AttemptReport(AttemptResult(Outcome.FAILED, f"lost contact with Asterisk: {e}"))
        finally:
            self._pending.pop(key, None)

    async def _answered(self, pending: _Pending, hangups: EventSubscription) -> AttemptReport:
        cause: int | None = None
        hangup_task: asyncio.Future[Event] = asyncio.ensure_future(hangups.get())
        waiting: set[asyncio.Future[Any]] = {pending.done, hangup_task}
        try:
            done, _ = await asyncio.wait(
                waiting, timeout=MAX_CALL_S, return_when=asyncio.FIRST_COMPLETED
            )
            if hangup_task in done:
                with contextlib.suppress(Exception):
                    cause = int(hangup_task.result().get("Cause") or 0) or None
                if not pending.done.done():
                    # the dialogue (if it started) ends on its own once it sees the hang-up
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(asyncio.shield(pending.done), _WRAP_UP_S)
        finally:
            hangup_task.cancel()
        if not pending.done.done():
            detail = "answered, hung up before the bulletin" if not pending.started else None
            facts = pending.facts
            return self._report(facts, "", "", cause, detail or "dialogue did not finish")
        facts, amd, amd_cause = pending.done.result()
        return self._report(facts, amd, amd_cause, cause, None)

    def _report(
        self, facts: DeliveryFacts, amd: str, amd_cause: str, cause: int | None, detail: str | None
    ) -> AttemptReport:
        call_facts = CallFacts(
            originate_reason=4,
            hangup_cause=cause,
            amd_status="MACHINE" if facts.left_on_machine else (amd or None),
            digits=facts.digits,
            plays_heard=facts.plays_heard,
        )
        amd_text = f"{amd} ({amd_cause})" if amd and amd_cause else amd or None
        return AttemptReport(
            classify_call(call_facts), hangup_cause=cause, amd_status=amd_text,
            digits=facts.digits, detail=detail,
        )  # fmt: skip

    async def dialogue(self, call: Call, args: tuple[str, ...]) -> None:
        """The Stasis side of an attempt: ``delivery,<attempt>,<amd status>,<amd cause>``."""
        key = args[0] if args else ""
        amd = args[1] if len(args) > 1 else ""
        amd_cause = args[2] if len(args) > 2 else ""
        pending = self._pending.get(key)
        if pending is None or pending.done.done():
            log.warning("delivery call for unknown attempt %r (a restart?); hanging up", key)
            await call.hangup()
            return
        pending.started = True
        try:
            script = await self.scripts.for_attempt(pending.plan.bulletin_id, pending.plan.group_id)
            await deliver(
                call, script, pending.recorder, machine=amd == "MACHINE", facts=pending.facts
            )
        except CallEnded:
            pass
        except WatchlineError:
            log.exception("delivery dialogue for attempt %s failed", key)
        finally:
            if not pending.done.done():
                pending.done.set_result((pending.facts, amd, amd_cause))
