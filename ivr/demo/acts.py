"""The demo's acts, in order. Each drives real calls and checks what it sees."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from ivr.campaigns.outcomes import CallFacts, classify_call
from ivr.demo.context import DemoContext
from ivr.flows.selftest import SelfTestResult
from ivr.telephony.call import Call
from ivr.telephony.dialer import dial
from sip_test_rig.script import InCall, PhoneScript, dtmf_sequence

Act = Callable[[DemoContext], Awaitable[None]]


async def member_confirms(ctx: DemoContext) -> None:
    """The controller rings one member over AMI; the member presses 1 to confirm."""
    ctx.console.rule("[bold]A member is rung and confirms")
    (ep,) = ctx.take_endpoints(1)
    phone = await ctx.fleet.add_phone(
        ep.name, ep.password, PhoneScript(answer_after_s=1, dtmf=dtmf_sequence("1", start_s=2))
    )
    await ctx.fleet.wait_registered([phone])
    heard: dict[str, str] = {}
    done = asyncio.Event()

    async def delivery(call: Call, args: tuple[str, ...]) -> None:
        try:
            await call.play(["sound:hello-world"])
            heard["digits"] = await call.collect(max_digits=1, timeout_s=10)
        finally:
            done.set()

    assert ctx.controller.dispatcher is not None and ctx.controller.ami is not None
    ctx.controller.dispatcher.register("delivery", delivery)
    ctx.console.print(f"  ringing member {ep.number} ...")
    outcome = await dial(
        ctx.controller.ami,
        f"PJSIP/{ep.name}",
        context="watchline-delivery",
        variables={"WL_ATTEMPT": "demo-1", "WL_AMD": "0"},
        ring_timeout_s=20,
    )
    await asyncio.wait_for(done.wait(), 30)
    result = classify_call(
        CallFacts(originate_reason=outcome.reason, digits=heard.get("digits", ""), plays_heard=1)
    )
    ctx.record(
        "member", result.outcome == "confirmed", f"outcome: {result.outcome} ({result.cause})"
    )


async def caller_reaches_controller(ctx: DemoContext) -> None:
    """A caller dials the self-test line; the controller answers and reads their key."""
    ctx.console.rule("[bold]A caller reaches the controller")
    (ep,) = ctx.take_endpoints(1)
    phone = await ctx.fleet.add_phone(ep.name, ep.password)
    await ctx.fleet.wait_registered([phone])
    results: list[SelfTestResult] = []
    assert ctx.controller.dispatcher is not None
    from ivr.flows.selftest import selftest_dialogue

    ctx.controller.dispatcher.register("selftest", selftest_dialogue(results.append))
    ctx.console.print(f"  {ep.number} dials 9000 and presses 4 ...")
    call = await ctx.fleet.call(
        phone, "9000", InCall(dtmf=dtmf_sequence("4", start_s=1.5)), timeout_s=40
    )
    ok = call.answered and [r.digit for r in results] == ["4"]
    detail = (
        f"controller heard key {results[0].digit!r} from {results[0].caller_number}"
        if results
        else "no call reached the controller"
    )
    ctx.record("caller", ok, detail)


ACTS: list[Act] = [member_confirms, caller_reaches_controller]
