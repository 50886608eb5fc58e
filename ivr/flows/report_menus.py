"""The report line's questions that are menus: the category (keys or speech) and the
callback number. Used by :mod:`ivr.flows.report_line`; pure decisions come from
:mod:`ivr.speech.menu`, so these functions only play, listen and loop (every loop bounded).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from ivr.errors import InvalidPhoneNumber
from ivr.members.fields import normalise_phone
from ivr.reports.categories import CATEGORY_MENU, Category, ChosenBy, category_for_key
from ivr.speech.asr.base import Transcript
from ivr.speech.menu import (
    AskAgain,
    Chosen,
    KeyPressed,
    MenuInput,
    MenuPolicy,
    MenuState,
    NothingHeard,
    SpeechHeard,
    decide,
    listens_for_speech,
    match_speech,
)
from ivr.speech.say import digits, sound_uris
from ivr.telephony.call import Call, RecordingResult

#: How long a caller has to press a key after a menu ends.
KEY_TIMEOUT_S = 6.0
#: Plays of one menu, stars and invalid keys included, before taking the default.
MENU_ROUNDS = 4
DEFAULT_POLICY = MenuPolicy()
#: Caller ID values that mean "withheld" rather than a number.
_WITHHELD = frozenset(
    {"", "anonymous", "unknown", "restricted", "private", "withheld", "unavailable"}
)
_NOT_DIGITS = re.compile(r"[^\d+]")

#: Transcribe a spoken menu answer (and keep its audio); None when it held nothing usable.
Hear = Callable[[RecordingResult, int], Awaitable[Transcript | None]]


def sound(prompt_id: str) -> str:
    return f"sound:watchline/{prompt_id}"


def presented_number(caller_number: str | None) -> str | None:
    """The caller ID as a number to ring back, or None when it is withheld or garbage."""
    raw = (caller_number or "").strip()
    if raw.lower() in _WITHHELD or not _NOT_DIGITS.sub("", raw).strip("+"):
        return None
    return raw


def callback_number(raw: str) -> str:
    """E.164 when the number parses (UK national numbers assumed), else the digits as given."""
    try:
        return normalise_phone(raw)
    except InvalidPhoneNumber:
        return raw


async def key_after(call: Call, media: Sequence[str], *, timeout_s: float = KEY_TIMEOUT_S) -> str:
    """Play ``media`` (a key stops it), then one key; '' if none came.

    ``play`` reports the key that stopped it but leaves it queued, and ``collect`` takes
    queued keys first, so each key is used exactly once.
    """
    key = await call.play([*media])
    return await call.collect(
        max_digits=1, timeout_s=0.5 if key is not None else timeout_s, terminators=""
    )


async def choose_key(call: Call, media: Sequence[str], valid: str) -> str:
    """A key from ``valid`` after ``media``; star repeats, other keys are explained.
    '' when the caller pressed nothing (or only wrong keys, MENU_ROUNDS times)."""
    for _ in range(MENU_ROUNDS):
        key = await key_after(call, media)
        if key == "" or key in valid:
            return key
        if key != "*":
            await call.play([sound("common_invalid_key")], interruptible=False)
    return ""


@dataclass(frozen=True)
class CategoryChoice:
    category: Category
    by: ChosenBy
    confidence: float = 1.0


async def ask_category(
    call: Call,
    hear: Hear,
    *,
    record_name: Callable[[int], str],
    answer_max_s: int,
    answer_silence_s: int,
    policy: MenuPolicy = DEFAULT_POLICY,
) -> CategoryChoice:
    """The category menu: a key always works; speech is listened for after the menu until
    the re-ask policy falls back to keys only. Gives "something else" if nothing works,
    so a caller who cannot use the menu still gets to describe what happened."""
    state = MenuState()
    for attempt in range(1, MENU_ROUNDS * 2 + 1):
        speech = listens_for_speech(state)
        prompt = "report_category_menu" if speech else "report_category_menu_keys"
        key = await call.play([sound(prompt)])
        event: MenuInput
        if key is not None:
            event = KeyPressed(await call.collect(max_digits=1, timeout_s=0.5, terminators=""))
        elif speech:
            event = await _listen(
                call, hear, record_name(attempt), answer_max_s, answer_silence_s, attempt
            )
        else:
            pressed = await call.collect(max_digits=1, timeout_s=KEY_TIMEOUT_S, terminators="")
            event = KeyPressed(pressed) if pressed else NothingHeard()
        if isinstance(event, KeyPressed) and event.key == "*":
            continue  # star repeats the menu and is not a failed attempt
        state, decision = decide(CATEGORY_MENU, policy, state, event)
        if isinstance(decision, Chosen):
            by: ChosenBy = decision.by
            return CategoryChoice(category_for_key(decision.choice.key), by, decision.confidence)
        if not isinstance(decision, AskAgain):
            break
        if decision.reason == "invalid_key":
            await call.play([sound("common_invalid_key")], interruptible=False)
        elif decision.reason != "no_input":
            await call.play([sound("report_not_understood")], interruptible=False)
    return CategoryChoice(Category.OTHER, "default", 0.0)


async def _listen(
    call: Call, hear: Hear, name: str, max_s: int, silence_s: int, attempt: int
) -> MenuInput:
    """Record a short spoken answer; a key pressed meanwhile ends it and wins."""
    recording = await call.record(
        name, max_duration_s=max_s, max_silence_s=silence_s, beep=False, terminate_on="any"
    )
    pressed = await call.collect(max_digits=1, timeout_s=0.2, terminators="")
    if pressed:
        return KeyPressed(pressed)
    transcript = await hear(recording, attempt) if recording.stored else None
    if transcript is None or transcript.no_speech:
        return NothingHeard()
    return SpeechHeard(match_speech(CATEGORY_MENU, transcript.text, transcript.confidence))


@dataclass(frozen=True)
class Callback:
    number: str | None
    #: "caller_id", "keyed", or None (no call back wanted)
    source: str | None


async def ask_callback(call: Call) -> Callback:
    """Press 1 to be rung back on the caller ID; a withheld caller may key a number."""
    presented = presented_number(call.caller_number)
    if presented is not None:
        key = await choose_key(call, [sound("report_callback_menu")], valid="12")
        if key == "1":
            return Callback(callback_number(presented), "caller_id")
        return Callback(None, None)
    for _ in range(MENU_ROUNDS - 1):
        await call.play([sound("report_callback_withheld")])
        keyed = await call.collect(
            max_digits=15, timeout_s=10.0, inter_digit_timeout_s=5.0, terminators="#"
        )
        keyed = keyed.replace("*", "")
        if not keyed:
            return Callback(None, None)
        try:
            number = normalise_phone(keyed)
        except InvalidPhoneNumber:
            await call.play([sound("report_callback_invalid")], interruptible=False)
            continue
        readback = [
            sound("report_callback_you_entered"),
            *sound_uris(digits(keyed)),
            sound("report_callback_confirm_menu"),
        ]
        confirm = await choose_key(call, readback, valid="12")
        # No key after hearing it read back: they keyed it on purpose, so keep it.
        if confirm in ("1", ""):
            return Callback(number, "keyed")
    return Callback(None, None)
