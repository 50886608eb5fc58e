"""Calls through the real Asterisk, rig phones and the controller (foundation issue).

- a rig phone calls the self-test extension; the controller plays a prompt over ARI and
  reads the key the phone sends;
- the controller originates over AMI to a rig phone that answers and presses 1: the digit
  and the outcome arrive;
- busy, no answer and an unregistered number each map to their own outcome;
- Asterisk restarted under a running controller: AMI and ARI reconnect by themselves and
  the next call works.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ivr.app import Controller
from ivr.campaigns.outcomes import AttemptResult, CallFacts, Outcome, classify_call
from ivr.config import Settings
from ivr.flows.selftest import SelfTestResult, selftest_dialogue
from ivr.sandbox import AsteriskSandbox, SandboxInfo
from ivr.telephony.call import Call
from ivr.telephony.dialer import dial
from sip_test_rig.fleet import Fleet
from sip_test_rig.script import InCall, PhoneScript, RingAction, dtmf_sequence
from tests.conftest import EndpointPool

pytestmark = pytest.mark.integration


def _settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "var")


class DeliveryProbe:
    """A minimal delivery dialogue: play, read one key, remember what happened."""

    def __init__(self) -> None:
        self.digits: dict[str, str] = {}
        self.done: dict[str, asyncio.Event] = {}

    def expect(self, attempt: str) -> asyncio.Event:
        return self.done.setdefault(attempt, asyncio.Event())

    async def __call__(self, call: Call, args: tuple[str, ...]) -> None:
        attempt = args[0]
        try:
            await call.play(["sound:hello-world"])
            self.digits[attempt] = await call.collect(max_digits=1, timeout_s=10)
        finally:
            self.expect(attempt).set()


async def _ring(controller: Controller, endpoint: str, attempt: str, ring_s: float) -> CallFacts:
    assert controller.ami is not None
    outcome = await dial(
        controller.ami,
        f"PJSIP/{endpoint}",
        context="watchline-delivery",
        variables={"WL_ATTEMPT": attempt, "WL_AMD": "0"},
        ring_timeout_s=ring_s,
    )
    return CallFacts(
        originate_reason=outcome.reason,
        hangup_cause=outcome.hangup_cause,
        dial_status=outcome.dial_status,
    )


async def test_a_phone_reaches_the_controller_which_reads_its_key(
    asterisk: SandboxInfo, fleet: Fleet, endpoints: EndpointPool, tmp_path: Path
) -> None:
    results: list[SelfTestResult] = []
    (ep,) = endpoints.take(1)
    phone = await fleet.add_phone(ep.name, ep.password)
    await fleet.wait_registered([phone])
    async with Controller(
        _settings(tmp_path),
        sandbox=asterisk,
        dialogues={"selftest": selftest_dialogue(results.append)},
        serve_web=False,
    ):
        call = await fleet.call(
            phone, "9000", InCall(dtmf=dtmf_sequence("7", start_s=1.5)), timeout_s=40
        )
    assert call.answered and call.digits_sent == "7"
    assert len(results) == 1
    assert results[0].digit == "7"
    assert results[0].caller_number == ep.number


async def test_an_answered_call_delivers_the_key_and_the_outcome(
    asterisk: SandboxInfo, fleet: Fleet, endpoints: EndpointPool, tmp_path: Path
) -> None:
    (ep,) = endpoints.take(1)
    member = await fleet.add_phone(
        ep.name, ep.password, PhoneScript(answer_after_s=1, dtmf=dtmf_sequence("1", start_s=2))
    )
    await fleet.wait_registered([member])
    probe = DeliveryProbe()
    async with Controller(
        _settings(tmp_path), sandbox=asterisk, dialogues={"delivery": probe}, serve_web=False
    ) as controller:
        facts = await _ring(controller, ep.name, "a-1", ring_s=20)
        assert facts.originate_reason == 4
        await asyncio.wait_for(probe.expect("a-1").wait(), 30)
    digits = probe.digits["a-1"]
    assert digits == "1"
    result = classify_call(
        CallFacts(originate_reason=facts.originate_reason, digits=digits, plays_heard=1)
    )
    assert result.outcome is Outcome.CONFIRMED
    phone_side = await member.next_call_result(timeout_s=30)
    assert phone_side.answered and phone_side.digits_sent == "1"


async def test_busy_no_answer_and_unregistered_are_told_apart(
    asterisk: SandboxInfo, fleet: Fleet, endpoints: EndpointPool, tmp_path: Path
) -> None:
    busy_ep, silent_ep, absent_ep = endpoints.take(3)
    busy = await fleet.add_phone(
        busy_ep.name, busy_ep.password, PhoneScript(on_ring=RingAction.BUSY)
    )
    silent = await fleet.add_phone(
        silent_ep.name, silent_ep.password, PhoneScript(on_ring=RingAction.NO_ANSWER)
    )
    await fleet.wait_registered([busy, silent])
    async with Controller(_settings(tmp_path), sandbox=asterisk, serve_web=False) as controller:
        facts = await asyncio.gather(
            _ring(controller, busy_ep.name, "b-1", ring_s=10),
            _ring(controller, silent_ep.name, "b-2", ring_s=4),
            _ring(controller, absent_ep.name, "b-3", ring_s=10),  # never registered
        )
    results: list[AttemptResult] = [classify_call(f) for f in facts]
    assert [r.outcome for r in results] == [Outcome.BUSY, Outcome.NO_ANSWER, Outcome.FAILED]
    assert facts[0].hangup_cause == 17, facts[0]
    assert facts[2].hangup_cause in (20, 3, 18), facts[2]  # subscriber absent / no route
    assert "unregistered" in results[2].cause or "unavailable" in results[2].cause, results[2]


async def test_the_controller_survives_an_asterisk_restart(
    fresh_asterisk: AsteriskSandbox, tmp_path: Path
) -> None:
    """Both clients reconnect on their own; the next call goes through ARI and AMI."""
    info = fresh_asterisk.info
    results: list[SelfTestResult] = []
    async with (
        Fleet(info.host, info.sip_port, log_dir=tmp_path / "rig") as fleet,
        Controller(
            _settings(tmp_path),
            sandbox=info,
            dialogues={"selftest": selftest_dialogue(results.append)},
            serve_web=False,
        ) as controller,
    ):
        assert controller.ami is not None and controller.ari is not None
        ari_connections = controller.ari.connections
        await fresh_asterisk.restart()
        await asyncio.wait_for(controller.ami.reconnected.wait(after=0), 30)
        async with asyncio.timeout(30):
            while not (controller.ari.connected and controller.ari.connections > ari_connections):
                await asyncio.sleep(0.1)
        ep = info.endpoints[0]
        phone = await fleet.add_phone(ep.name, ep.password)
        await fleet.wait_registered([phone])
        call = await fleet.call(
            phone, "9000", InCall(dtmf=dtmf_sequence("5", start_s=1.5)), timeout_s=40
        )
        version = await controller.ami.command("core show version")
    assert call.answered
    assert [r.digit for r in results] == ["5"]
    assert "Asterisk" in version
