"""The members' replay line (extension 2001): hear the latest bulletins again.

A member hears:

1. "Welcome to the bulletin replay line."
2. Their caller ID is matched to a member. A withheld or unknown number is asked for the
   number we call them on (twice at most).
3. The latest bulletins sent to their groups, newest first, each introduced by "Bulletin 2
   out of 3" when there are several. The bulletin plays to its end (a key pressed meanwhile
   is kept for the menu), then: 1 heard it, 2 hear it again, 3 next bulletin, star for the
   choices.
4. Pressing 1 turns the member's delivery of that bulletin into ``confirmed`` (a member who
   was out or busy when rung counts as reached). It is stored before they hear "thank you".

Silence at the menu moves on to the next bulletin after the usual three rounds: a member
who put the phone down without hanging up must not hold the line forever.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from ivr.flows.bulletin_ask import MAX_REPEATS, MENU_ROUNDS, ask_digits
from ivr.flows.delivery import KEY_TIMEOUT_S, key_after, sound
from ivr.speech import say
from ivr.telephony.call import Call

#: Phone numbers have at most 15 digits (E.164); one more lets the hash key end them.
MAX_NUMBER_DIGITS = 16
NUMBER_TRIES = 2
#: Plays of one bulletin in one call.
MAX_PLAYS = 5

MatchedBy = Literal["caller_id", "keyed"]


@dataclass(frozen=True)
class MemberRef:
    id: int
    matched_by: MatchedBy


@dataclass(frozen=True)
class ReplayItem:
    bulletin_id: int
    #: media URIs that play it
    media: tuple[str, ...]


class ReplayDesk(Protocol):
    async def member_by_caller(self, caller: str | None) -> MemberRef | None: ...

    async def member_by_keyed(self, digits: str) -> MemberRef | None: ...

    async def bulletins_for(self, member: MemberRef) -> list[ReplayItem]:
        """Newest first."""
        ...

    async def heard(self, member: MemberRef, item: ReplayItem, caller: str | None) -> int:
        """The member pressed 1: confirm their deliveries of it; returns how many changed."""
        ...


async def replay_line(call: Call, desk: ReplayDesk) -> None:
    """Serve one call to the replay line."""
    await call.answer()
    caller = call.caller_number
    await call.play([sound("replay_welcome")])
    member = await desk.member_by_caller(caller)
    if member is None:
        member = await _keyed_member(call, desk)
        if member is None:
            return
    items = await desk.bulletins_for(member)
    if not items:
        await call.play([sound("replay_no_bulletins")], interruptible=False)
        return
    for n, item in enumerate(items, start=1):
        position = say.sound_uris(say.position(n, len(items))) if len(items) > 1 else []
        await _one_bulletin(call, desk, member, item, position, caller)
    await call.play([sound("replay_end")], interruptible=False)


async def _keyed_member(call: Call, desk: ReplayDesk) -> MemberRef | None:
    for attempt in range(NUMBER_TRIES):
        digits = await ask_digits(
            call, [sound("replay_enter_number")], max_digits=MAX_NUMBER_DIGITS
        )
        if digits is None:
            break
        member = await desk.member_by_keyed(digits)
        if member is not None:
            return member
        await call.play([sound("replay_number_unknown")], interruptible=attempt + 1 < NUMBER_TRIES)
    await call.play([sound("common_goodbye")], interruptible=False)
    return None


async def _one_bulletin(
    call: Call,
    desk: ReplayDesk,
    member: MemberRef,
    item: ReplayItem,
    position: list[str],
    caller: str | None,
) -> None:
    plays = 0
    play_now = True
    misses = repeats = 0
    while misses < MENU_ROUNDS and repeats <= MAX_REPEATS:
        if play_now:
            # not interruptible: a key pressed during it is kept and answers the menu
            await call.play([*position, *item.media], interruptible=False)
            plays += 1
            position, play_now = [], False
        key = await key_after(call, [sound("replay_bulletin_menu")], timeout_s=KEY_TIMEOUT_S)
        if key == "1":
            await desk.heard(member, item, caller)
            await call.play([sound("replay_confirmed")])
            return
        if key == "3":
            return
        if key == "2" and plays < MAX_PLAYS:
            play_now = True
        elif key == "*" or key == "2":
            repeats += 1
        else:
            misses += 1
            if misses < MENU_ROUNDS:
                await call.play([sound("common_no_input" if key == "" else "common_invalid_key")])
