"""Asking on a call, the same way on every menu of the bulletin and replay lines.

- A menu plays until a key stops it (barge-in), then waits for one key. Keys pressed early
  are kept (typeahead), so someone who knows the menus can key ahead.
- Star plays the menu again. A key that is not offered, or silence, gets a short
  explanation and the menu again.
- After three rounds without a usable answer the caller is told so and the call ends:
  elderly callers who are lost must not be kept in a loop.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from ivr.flows.delivery import key_after, sound
from ivr.telephony.call import Call

#: Rounds without a usable answer before giving up.
MENU_ROUNDS = 3
#: Star presses allowed on top of those rounds (bounds the loop for a key held down).
MAX_REPEATS = 5
KEY_TIMEOUT_S = 7.0
#: Waiting for the first digit of a number or PIN, and between digits.
DIGITS_TIMEOUT_S = 10.0
INTER_DIGIT_S = 5.0


async def ask(
    call: Call,
    menu: Sequence[str],
    keys: Collection[str],
    *,
    before: Sequence[str] = (),
    timeout_s: float = KEY_TIMEOUT_S,
) -> str | None:
    """Play ``before`` once, then the ``menu``; a key in ``keys``, or None after three
    rounds without one (the caller has then heard ``common_too_many_attempts``)."""
    lead = list(before)
    misses = repeats = 0
    while misses < MENU_ROUNDS and repeats <= MAX_REPEATS:
        key = await key_after(call, [*lead, *menu], timeout_s=timeout_s)
        lead = []
        if key in keys:
            return key
        if key == "*":
            repeats += 1
            continue
        misses += 1
        if misses < MENU_ROUNDS:
            # interruptible: a key pressed during the apology is the next answer
            await call.play([sound("common_no_input" if key == "" else "common_invalid_key")])
    await call.play([sound("common_too_many_attempts")], interruptible=False)
    return None


async def ask_digits(
    call: Call, prompt: Sequence[str], *, max_digits: int, rounds: int = 2
) -> str | None:
    """Play ``prompt`` and read digits up to the hash key; None after ``rounds`` silences.

    The digits are returned to the caller only, never logged here: they may be a PIN.
    """
    for n in range(rounds):
        await call.play([*prompt])
        digits = await call.collect(
            max_digits=max_digits, timeout_s=DIGITS_TIMEOUT_S,
            inter_digit_timeout_s=INTER_DIGIT_S, terminators="#",
        )  # fmt: skip
        if digits:
            return digits
        if n + 1 < rounds:
            await call.play([sound("common_no_input")])
    return None
