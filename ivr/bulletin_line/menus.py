"""The bulletin line's menus as data, and its decisions as pure functions.

The dialogues (``ivr/flows/bulletin_line.py``, ``bulletin_record.py``) play what these say
and act on what they return; every rule about keys lives here and is tested without a call.

- :data:`MAIN`, :data:`REVIEW`, :data:`URGENT`: fixed menus (key → action; star repeats).
- :func:`when_menu`: the send-time menu, whose choices depend on the time of day.
- :class:`GroupPick` / :func:`pick_group`: the spoken group list and the keys that build
  the selection.
- :func:`summary_numbers`: a campaign's counts as the four numbers the summary speaks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from ivr.scheduling.presets import Preset, available_presets


@dataclass(frozen=True)
class Menu:
    """A prompt and the keys it offers. Star repeats every menu; it is not listed here."""

    prompt: str
    choices: Mapping[str, str]

    def action(self, key: str) -> str | None:
        return self.choices.get(key)


MAIN = Menu("bulletin_main_menu", {"1": "record", "2": "hear_last", "3": "summary"})
REVIEW = Menu("bulletin_review_menu", {"1": "accept", "2": "rerecord", "3": "hear_again"})
URGENT = Menu("bulletin_urgent_menu", {"1": "urgent", "2": "normal"})

#: Key of "send now" on the send-time menu; the presets own the other keys.
SEND_NOW_KEY = "1"


@dataclass(frozen=True)
class WhenMenu:
    menu: Menu
    #: key → the preset it stands for (and its time); "now" is not in here
    presets: Mapping[str, tuple[Preset, datetime]]


def when_menu(presets: Sequence[Preset], now: datetime, tz: str) -> WhenMenu:
    """The send-time menu at ``now``: "now" always, each preset only while its time is ahead.

    Keys never move: once "this evening" has passed, its key is simply not offered (the
    menu prompt without it is played), so a coordinator who knows the keys is never caught out.
    """
    times = available_presets(presets, now, tz)
    offered = {p.key: (p, at) for p, at in times}
    evening_gone = any(p.key not in offered for p in presets)
    prompt = "bulletin_when_menu_late" if evening_gone else "bulletin_when_menu"
    choices = {SEND_NOW_KEY: "now"} | {key: p.name for key, (p, _) in offered.items()}
    return WhenMenu(Menu(prompt, choices), offered)


# ---- the group list ------------------------------------------------------------------------

#: Keys 1-9 pick one group each; 0 picks every group the coordinator may send to.
ALL_KEY = "0"
DONE_KEY = "#"
MAX_KEYED_GROUPS = 9


class PickResult(StrEnum):
    ADDED = "added"
    #: 0: every group; the selection is complete
    ALL = "all"
    #: hash with at least one group chosen: the selection is complete
    DONE = "done"
    #: hash before any group was chosen
    NONE_CHOSEN = "none_chosen"
    #: a digit with no group on it (out of range)
    NOT_OFFERED = "not_offered"
    #: star: hear the list again
    REPEAT = "repeat"
    NO_INPUT = "no_input"


@dataclass(frozen=True)
class GroupPick:
    """The groups offered (in the order spoken) and those chosen so far (in key order)."""

    offered: tuple[str, ...]
    chosen: tuple[str, ...] = field(default=())

    @property
    def keyed(self) -> tuple[str, ...]:
        """The groups with a key of their own (the first nine)."""
        return self.offered[:MAX_KEYED_GROUPS]

    @property
    def complete(self) -> bool:
        return bool(self.chosen)


def pick_group(state: GroupPick, key: str) -> tuple[GroupPick, PickResult]:
    """Apply one key to the selection."""
    if key == "":
        return state, PickResult.NO_INPUT
    if key == "*":
        return state, PickResult.REPEAT
    if key == DONE_KEY:
        return state, PickResult.DONE if state.chosen else PickResult.NONE_CHOSEN
    if key == ALL_KEY:
        return GroupPick(state.offered, state.offered), PickResult.ALL
    if key.isdigit() and 1 <= int(key) <= len(state.keyed):
        name = state.keyed[int(key) - 1]
        if name in state.chosen:
            return state, PickResult.ADDED  # pressing it twice is harmless
        return GroupPick(state.offered, (*state.chosen, name)), PickResult.ADDED
    return state, PickResult.NOT_OFFERED


# ---- the delivery summary ------------------------------------------------------------------

#: Outcomes counted as "not reached" in the spoken summary: nobody heard the bulletin.
NOT_REACHED = frozenset(
    {"busy", "no_answer", "failed", "invalid_number", "outside_window", "fax_failed"}
)


@dataclass(frozen=True)
class SummaryNumbers:
    confirmed: int
    total: int
    voicemail: int
    not_reached: int


def summary_numbers(counts: Mapping[str, int]) -> SummaryNumbers:
    """A campaign's per-outcome (or per-state) counts as "C out of T confirmed, V left on
    voicemail, N not reached".

    Only final outcomes count as not reached: members still waiting for a retry ("pending")
    or on a call right now are neither, so the numbers grow as the campaign goes on and
    the coordinator is never told someone was missed while they may still be rung.
    """
    return SummaryNumbers(
        confirmed=counts.get("confirmed", 0),
        total=sum(counts.values()),
        voicemail=counts.get("voicemail", 0),
        not_reached=sum(n for k, n in counts.items() if k in NOT_REACHED),
    )
