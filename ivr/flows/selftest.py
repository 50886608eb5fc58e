"""The self-test dialogue (extension 9000): play a prompt, read one key, say it back.

It proves the whole path (phone, Asterisk, ARI, controller) works, with nothing else
involved; ``ivr serve`` keeps it, and the foundation's integration tests drive it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ivr.telephony.call import Call

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SelfTestResult:
    channel_id: str
    caller_number: str | None
    digit: str


def selftest_dialogue(
    on_result: Callable[[SelfTestResult], None] | None = None,
    *,
    prompt: str = "sound:hello-world",
) -> Callable[[Call, tuple[str, ...]], Awaitable[None]]:
    async def dialogue(call: Call, args: tuple[str, ...]) -> None:
        await call.answer()
        await call.play([prompt])
        digit = await call.collect(max_digits=1, timeout_s=10)
        result = SelfTestResult(call.channel_id, call.caller_number, digit)
        log.info("self-test from %s: key %r", call.caller_number, digit)
        if on_result is not None:
            on_result(result)
        if digit:
            await call.play([f"digits:{digit}"], interruptible=False)

    return dialogue
