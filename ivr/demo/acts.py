"""The demo's acts, in order. Each drives real calls and checks what it sees."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from ivr.demo.context import DemoContext
from ivr.flows.selftest import SelfTestResult
from sip_test_rig.script import InCall, dtmf_sequence

Act = Callable[[DemoContext], Awaitable[None]]


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


def _acts() -> list[Act]:
    from ivr.demo.broadcast_act import bulletin_broadcast
    from ivr.demo.report_act import phone_report_act

    return [caller_reaches_controller, bulletin_broadcast, phone_report_act]


ACTS: list[Act] = _acts()
