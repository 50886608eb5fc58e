"""The coordinators' bulletin line (extension 2000): sign in, then the main menu.

A coordinator hears:

1. "Welcome to the bulletin line for watch coordinators."
2. Their caller ID is looked up; an unknown or withheld number is asked for the
   coordinator number instead.
3. A locked account is refused here, before any PIN is asked for.
4. "Please enter your pin number, then press the hash key." A wrong PIN is said to be wrong
   and asked again until the account locks (three in a row by default, counted across
   calls); the locking one ends the call.
5. If their last call ended after recording and before sending, they are told nothing was
   sent.
6. The main menu: 1 record a new bulletin (``bulletin_record.py``), 2 hear the last bulletin,
   3 hear how the last one was delivered, star to repeat.

Digits keyed here (PINs, coordinator numbers) go to the desk and nowhere else: no log line
carries them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ivr.bulletin_line.menus import MAIN
from ivr.flows.bulletin_ask import ask, ask_digits
from ivr.flows.bulletin_ports import CoordinatorDesk, CoordinatorRef, PinCheck
from ivr.flows.bulletin_record import RecordOptions, record_and_send
from ivr.flows.delivery import sound
from ivr.speech import say
from ivr.store.models.coordinators import Notice
from ivr.telephony.call import Call

#: Coordinator numbers and PINs have at most 8 digits; one more lets the hash key end them.
MAX_KEYED_DIGITS = 9
#: Tries at keying a coordinator number before the call ends.
NUMBER_TRIES = 2
#: Main-menu tasks in one call (bounds the loop).
MAX_TASKS = 20
#: PIN prompts in one call, whatever the lockout policy says (bounds the loop).
MAX_PIN_PROMPTS = 10


@dataclass(frozen=True)
class BulletinLineOptions:
    record: RecordOptions = field(default_factory=RecordOptions)


async def coordinator_line(
    call: Call, desk: CoordinatorDesk, options: BulletinLineOptions = BulletinLineOptions()
) -> None:
    """Serve one call to the bulletin line, from answer to goodbye."""
    await call.answer()
    caller = call.caller_number
    if not await desk.line_open(caller):
        await call.play([sound("bulletin_locked_out")], interruptible=False)
        return
    await call.play([sound("bulletin_welcome")])
    who = await _identify(call, desk, caller)
    if who is None:
        return
    if await desk.refuse_if_locked(who, caller):
        await call.play([sound("bulletin_locked_out")], interruptible=False)
        return
    if not await _sign_in(call, desk, who, caller):
        return
    if await desk.take_notice(who) is Notice.NOT_SENT:
        await call.play([sound("bulletin_not_sent_notice")])
    await _main_menu(call, desk, who, options)


async def _identify(call: Call, desk: CoordinatorDesk, caller: str | None) -> CoordinatorRef | None:
    who = await desk.identify(caller)
    if who is not None:
        return who
    for attempt in range(NUMBER_TRIES):
        number = await ask_digits(
            call, [sound("bulletin_enter_coordinator_number")], max_digits=MAX_KEYED_DIGITS
        )
        if number is None:
            await call.play([sound("common_goodbye")], interruptible=False)
            return None
        who = await desk.identify_keyed(number, caller)
        if who is not None:
            return who
        if not await desk.line_open(caller):
            await call.play([sound("bulletin_locked_out")], interruptible=False)
            return None
        last = attempt + 1 == NUMBER_TRIES
        ending = [sound("common_goodbye")] if last else []
        await call.play([sound("bulletin_unknown_coordinator"), *ending], interruptible=not last)
    return None


async def _sign_in(
    call: Call, desk: CoordinatorDesk, who: CoordinatorRef, caller: str | None
) -> bool:
    for _ in range(MAX_PIN_PROMPTS):
        pin = await ask_digits(call, [sound("bulletin_enter_pin")], max_digits=MAX_KEYED_DIGITS)
        if pin is None:
            await call.play([sound("common_goodbye")], interruptible=False)
            return False
        check = await desk.check_pin(who, pin, caller)
        if check is PinCheck.RIGHT:
            return True
        if check is PinCheck.LOCKED or not await desk.line_open(caller):
            await call.play([sound("bulletin_locked_out")], interruptible=False)
            return False
        await call.play([sound("bulletin_wrong_pin")])
    await call.play([sound("common_goodbye")], interruptible=False)
    return False


async def _main_menu(
    call: Call, desk: CoordinatorDesk, who: CoordinatorRef, options: BulletinLineOptions
) -> None:
    for _ in range(MAX_TASKS):
        key = await ask(call, [sound(MAIN.prompt)], MAIN.choices)
        if key is None:
            return
        action = MAIN.action(key)
        if action == "record":
            groups = await desk.groups(who)
            if not groups:
                # checked before recording, so a coordinator with nowhere to send to never
                # records for nothing
                await call.play([sound("bulletin_no_groups")], interruptible=False)
                return
            if not await record_and_send(call, desk, who, groups, options.record):
                return
        elif action == "hear_last":
            media = await desk.last_bulletin(who)
            if media is None:
                await call.play([sound("bulletin_no_last")])
            else:
                await call.play([sound("bulletin_last_intro"), media])
        elif action == "summary":
            await _summary(call, desk, who)
    await call.play([sound("common_goodbye")], interruptible=False)


async def _summary(call: Call, desk: CoordinatorDesk, who: CoordinatorRef) -> None:
    found = await desk.last_summary(who)
    if found is None:
        await call.play([sound("bulletin_no_last")])
    elif found.pending or found.numbers is None:
        await call.play([sound("bulletin_summary_pending")])
    else:
        n = found.numbers
        spoken = say.summary(n.confirmed, n.total, n.voicemail, n.not_reached)
        await call.play([sound("bulletin_summary_intro"), *say.sound_uris(spoken)])
