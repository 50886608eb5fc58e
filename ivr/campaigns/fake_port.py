"""A scripted :class:`~ivr.campaigns.ports.DeliveryPort` for unit tests of the engine.

Each number has a list of behaviours, one per attempt ("busy", then "confirm"...). The
same engine paths are tested end to end through Asterisk and rig phones.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ivr.campaigns.outcomes import AttemptResult, CallFacts, Outcome, classify_call
from ivr.campaigns.ports import AttemptPlan, AttemptReport
from ivr.flows.delivery import DeliveryRecorder
from ivr.members.fields import Channel

BEHAVIOURS = {
    "confirm": CallFacts(originate_reason=4, digits="1", plays_heard=1),
    "replay_confirm": CallFacts(originate_reason=4, digits="21", plays_heard=2),
    "opt_out": CallFacts(originate_reason=4, digits="9", plays_heard=1),
    "heard": CallFacts(originate_reason=4, plays_heard=2),
    "voicemail": CallFacts(originate_reason=4, amd_status="MACHINE", plays_heard=1),
    "busy": CallFacts(originate_reason=0, hangup_cause=17),
    "no_answer": CallFacts(originate_reason=3),
    "unregistered": CallFacts(originate_reason=0, hangup_cause=20),
    "invalid": CallFacts(originate_reason=0, hangup_cause=1),
    "crash": CallFacts(),
}


@dataclass
class FakeDeliveryPort:
    script: Mapping[str, Sequence[str]]
    default: str = "confirm"
    call_seconds: float = 0.0
    calls: list[AttemptPlan] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    prepared: list[int] = field(default_factory=list)
    #: channels whose members must wait, with the reason
    waiting: dict[Channel, str] = field(default_factory=dict)
    _used: dict[str, int] = field(default_factory=dict)

    async def prepare(self, campaign_id: int, bulletin_id: int) -> None:
        self.prepared.append(campaign_id)

    async def wait_reason(self, bulletin_id: int, channel: Channel) -> str | None:
        return self.waiting.get(channel)

    def attempts_to(self, number: str) -> int:
        return sum(1 for p in self.calls if p.number == number)

    async def deliver(self, plan: AttemptPlan, recorder: DeliveryRecorder) -> AttemptReport:
        self.calls.append(plan)
        n = self._used.get(plan.number, 0)
        self._used[plan.number] = n + 1
        steps = self.script.get(plan.number, ())
        behaviour = steps[n] if n < len(steps) else (steps[-1] if steps else self.default)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.call_seconds)
            if behaviour == "crash":
                raise RuntimeError("the fake telephony failed")
            facts = BEHAVIOURS[behaviour]
            for _ in range(facts.plays_heard):
                await recorder.heard()
            if "9" in facts.digits:
                await recorder.opted_out()
            elif "1" in facts.digits:
                await recorder.confirmed()
            result: AttemptResult = classify_call(facts)
            return AttemptReport(
                result,
                hangup_cause=facts.hangup_cause,
                amd_status=facts.amd_status,
                digits=facts.digits,
            )
        finally:
            self.in_flight -= 1


__all__ = ["BEHAVIOURS", "FakeDeliveryPort", "Outcome"]
