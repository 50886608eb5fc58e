"""The delivery call, as a watch member hears it.

A live answer hears:

1. the introduction naming the scheme;
2. the bulletin;
3. "press 1 to confirm you heard this, 2 to hear it again, 9 to stop these calls, star
   for the choices again".

With no key, the bulletin plays a second time; no key after that ends the call
(``heard_no_confirm``). Key 1 and key 9 are persisted through the recorder *before* the
member hears them acknowledged, so a crash can never lose a confirmation or an opt-out.

An answering machine (AMD said MACHINE, and the dialplan waited for the beep) hears the
voicemail version: who called, the bulletin, and how to hear it again. Answering-machine
detection is often wrong, and a key press is the only proof of a human. So a key pressed
during the voicemail message switches to the live menu.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ivr.telephony.call import Call

#: Plays the member gets without asking (the bulletin, then once more if no key).
AUTO_PLAYS = 2
#: Plays in all, counting those asked for with key 2.
MAX_PLAYS = 5
#: Menu rounds after one play (star, or an invalid key, asks again).
MENU_ROUNDS = 3
KEY_TIMEOUT_S = 7.0


def sound(prompt_id: str) -> str:
    return f"sound:watchline/{prompt_id}"


@dataclass(frozen=True)
class DeliveryScript:
    """The media of one delivery, as URIs Asterisk plays."""

    intro: Sequence[str]
    bulletin: Sequence[str]
    voicemail_intro: Sequence[str]
    voicemail_outro: Sequence[str] = ()
    menu: Sequence[str] = (sound("delivery_menu"),)


class DeliveryRecorder(Protocol):
    """Persists what the member did, during the call (each returns once it is stored)."""

    async def heard(self) -> None: ...

    async def confirmed(self) -> None: ...

    async def opted_out(self) -> None: ...


@dataclass
class DeliveryFacts:
    plays_heard: int = 0
    left_on_machine: bool = False
    #: every key the member pressed, in order (star and invalid keys included)
    keys: list[str] = field(default_factory=list)

    @property
    def digits(self) -> str:
        return "".join(self.keys)


async def deliver(
    call: Call,
    script: DeliveryScript,
    recorder: DeliveryRecorder,
    *,
    machine: bool,
    facts: DeliveryFacts | None = None,
) -> DeliveryFacts:
    """Run the delivery on an answered call; returns what happened.

    Pass ``facts`` to keep what the member did even when they hang up part-way (the call
    then raises CallEnded, and ``facts`` holds the plays and keys up to that point).
    """
    facts = facts if facts is not None else DeliveryFacts()
    if machine:
        key = await _leave_on_machine(call, script, recorder, facts)
        if key is None:
            return facts
        # A key during the message: a person after all. Treat it as their menu choice.
        facts.left_on_machine = False
        await _menu_loop(call, script, recorder, facts, first_key=key)
        return facts
    await call.play([*script.intro], interruptible=False)
    await _menu_loop(call, script, recorder, facts, first_key=None)
    return facts


async def key_after(call: Call, media: Sequence[str], *, timeout_s: float) -> str:
    """Play ``media`` (a key stops it), then wait for one key; '' if none came.

    ``play`` reports a key that interrupted it but leaves it queued; ``collect`` takes the
    queue first, so every key is consumed exactly once.
    """
    key = await call.play([*media])
    wait = 0.5 if key is not None else timeout_s
    return await call.collect(max_digits=1, timeout_s=wait, terminators="")


async def _leave_on_machine(
    call: Call, script: DeliveryScript, recorder: DeliveryRecorder, facts: DeliveryFacts
) -> str | None:
    key = await call.play([*script.voicemail_intro, *script.bulletin])
    if key is not None:
        return await call.collect(max_digits=1, timeout_s=0.5, terminators="")
    facts.plays_heard += 1
    facts.left_on_machine = True
    await recorder.heard()
    if script.voicemail_outro:
        key = await call.play([*script.voicemail_outro])
        if key is not None:
            return await call.collect(max_digits=1, timeout_s=0.5, terminators="")
    return None


async def _play_bulletin(
    call: Call, script: DeliveryScript, recorder: DeliveryRecorder, facts: DeliveryFacts
) -> None:
    # Not interruptible: a key pressed while it plays is kept and read by the menu.
    await call.play([*script.bulletin], interruptible=False)
    facts.plays_heard += 1
    await recorder.heard()


async def _menu_loop(
    call: Call,
    script: DeliveryScript,
    recorder: DeliveryRecorder,
    facts: DeliveryFacts,
    *,
    first_key: str | None,
) -> None:
    pending = first_key
    if pending is None:
        await _play_bulletin(call, script, recorder, facts)
    else:
        facts.keys.append(pending)
    while True:
        key = pending if pending is not None else await _ask(call, script, facts)
        pending = None
        if key == "1":
            await recorder.confirmed()
            await call.play([sound("delivery_confirmed")], interruptible=False)
            return
        if key == "9":
            await recorder.opted_out()
            await call.play([sound("delivery_opted_out")], interruptible=False)
            return
        replay = (key == "2" and facts.plays_heard < MAX_PLAYS) or (
            key == "" and facts.plays_heard < AUTO_PLAYS
        )
        if not replay:
            await call.play([sound("delivery_no_key")], interruptible=False)
            return
        await _play_bulletin(call, script, recorder, facts)


async def _ask(call: Call, script: DeliveryScript, facts: DeliveryFacts) -> str:
    """The menu until a meaningful key: '1', '2', '9', or '' for no key at all."""
    for _ in range(MENU_ROUNDS):
        key = await key_after(call, script.menu, timeout_s=KEY_TIMEOUT_S)
        if key:
            facts.keys.append(key)
        if key in ("1", "2", "9", ""):
            return key
        if key != "*":
            await call.play([sound("common_invalid_key")], interruptible=False)
    return ""
