"""Speaking values known only at run time: references, phone numbers, counts, days and times.

Every function here is pure: it turns a value into the list of catalogue prompt ids that
speak it, and the flow plays that list in one go (:func:`sound_uris` gives the ARI media
list). Nothing is synthesized while a caller waits. Composition was chosen over rendering
each value on demand by measurement (prompts/README.md "Runtime speech"): a 12-digit
reference composed from pre-rendered digit prompts starts playing at once, while rendering
it with Piper first costs a few hundred milliseconds of silence on the line, and that
synthesis competes for CPU with speech recognition of other callers.

Pacing is part of the output: digits are whole prompts (200 ms of silence either side) with a
longer pause between groups, so a caller can write a reference down; number words are
fragments that run together ("thirty" "eight").
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from typing import Final

#: Silence between digit groups (a catalogue pause entry).
GROUP_PAUSE: Final = "pause_digit_group"
_DIGIT_IDS: Final = {str(d): f"digit_{d}" for d in range(10)} | {"*": "key_star", "#": "key_hash"}
_SEPARATORS: Final = re.compile(r"[\s\-./()]+")
_TENS: Final = (20, 30, 40, 50, 60, 70, 80, 90)
_WEEKDAYS: Final = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
#: Furthest ahead when() names a weekday; beyond that "on Tuesday" would be ambiguous.
MAX_DAYS_AHEAD: Final = 6


def digits(reference: str, *, group: int = 4) -> list[str]:
    """Read a reference or phone number digit by digit, pausing between groups.

    Separators in the written form (spaces, hyphens, dots, brackets) mark the groups, so
    "01632 960 123" is read as it is printed. A group longer than ``group + 1`` digits is
    split into near-equal parts, longer ones first: 12 digits as 4-4-4, 11 as 4-4-3, 9 as
    3-3-3 (never a lone digit at the end); five digits, like a UK area code, stay together.
    ``*`` and ``#`` are read as "star" and "hash"; anything else raises ValueError.
    """
    if group < 1:
        raise ValueError(f"group must be at least 1, got {group}")
    written = [part for part in _SEPARATORS.split(reference.strip()) if part]
    if not written:
        raise ValueError("nothing to read: the reference has no digits")
    ids: list[str] = []
    for part in written:
        bad = sorted({c for c in part if c not in _DIGIT_IDS})
        if bad:
            raise ValueError(f"cannot read {''.join(bad)!r} in {reference!r} digit by digit")
        for chunk in _split_evenly(part, group):
            if ids:
                ids.append(GROUP_PAUSE)
            ids.extend(_DIGIT_IDS[c] for c in chunk)
    return ids


def _split_evenly(text: str, size: int) -> list[str]:
    if len(text) <= size + 1:
        return [text]
    count = -(-len(text) // size)  # ceiling division
    base, extra = divmod(len(text), count)
    chunks, start = [], 0
    for i in range(count):
        end = start + base + (1 if i < extra else 0)
        chunks.append(text[start:end])
        start = end
    return chunks


def number(n: int) -> list[str]:
    """A count from 0 to 9999 in British English words: 38 → "thirty eight",
    305 → "three hundred and five", 2005 → "two thousand and five"."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"number() needs an int, got {type(n).__name__}")
    if not 0 <= n <= 9999:
        raise ValueError(f"number() speaks 0 to 9999, got {n}")
    if n < 20:
        return [f"number_{n}"]
    if n < 100:
        tens, units = divmod(n, 10)
        return [f"number_{tens * 10}"] + ([f"number_{units}"] if units else [])
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return [f"number_{hundreds}", "number_hundred", *_and_rest(rest)]
    thousands, rest = divmod(n, 1000)
    # "two thousand and five", but "two thousand three hundred and five".
    tail = _and_rest(rest) if rest < 100 else number(rest)
    return [f"number_{thousands}", "number_thousand", *tail]


def _and_rest(rest: int) -> list[str]:
    return ["number_and", *number(rest)] if rest else []


def summary(confirmed: int, total: int, voicemail: int, not_reached: int) -> list[str]:
    """The delivery summary: "38 out of 45 members confirmed. 4 left on voicemail. 3 not reached."

    Voicemail and not-reached parts are left out when zero: a coordinator listening for
    problems should not have to sit through "zero". Members neither confirmed, on voicemail
    nor unreached (answered without pressing 1, still queued) are the remainder and are not
    spoken separately.
    """
    counts = {"confirmed": confirmed, "total": total, "voicemail": voicemail}
    counts["not_reached"] = not_reached
    for name, value in counts.items():
        if value < 0:
            raise ValueError(f"summary(): {name} cannot be negative, got {value}")
    if confirmed + voicemail + not_reached > total:
        raise ValueError(
            f"summary(): {confirmed} confirmed + {voicemail} voicemail + {not_reached} "
            f"not reached is more than the {total} members called"
        )
    noun = "summary_member_confirmed" if total == 1 else "summary_members_confirmed"
    ids = [*number(confirmed), "summary_out_of", *number(total), noun]
    if voicemail:
        ids += [*number(voicemail), "summary_voicemail"]
    if not_reached:
        ids += [*number(not_reached), "summary_not_reached"]
    return ids


def position(n: int, of: int) -> list[str]:
    """Where the caller is in the replay list: "Bulletin 2 out of 5"."""
    if not 1 <= n <= of:
        raise ValueError(f"position(): need 1 <= n <= of, got {n} of {of}")
    return ["replay_bulletin", *number(n), "replay_out_of", *number(of)]


def clock_time(hour: int, minute: int = 0) -> list[str]:
    """A time of day the way people say it: 19:00 → "seven in the evening.",
    07:05 → "seven oh five in the morning.", 12:00 → "midday.", 00:00 → "midnight."."""
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise ValueError(f"clock_time(): no such time {hour:02d}:{minute:02d}")
    if minute == 0 and hour in (0, 12):
        return ["time_midnight" if hour == 0 else "time_midday"]
    ids = number(hour % 12 or 12)
    if minute:
        ids += ["time_oh", *number(minute)] if minute < 10 else number(minute)
    return [*ids, _part_of_day(hour)]


def _part_of_day(hour: int) -> str:
    if 1 <= hour < 12:
        return "time_in_the_morning"
    if 12 <= hour < 18:
        return "time_in_the_afternoon"
    if 18 <= hour < 21:
        return "time_in_the_evening"
    return "time_at_night"  # 21:00 to 00:59


def when(at: dt.datetime, now: dt.datetime) -> list[str]:
    """When something will happen, relative to ``now``: "today at", "tomorrow at" or
    "on Friday at", then :func:`clock_time`. Both datetimes are in the scheme's local time.

    Raises ValueError for a moment in the past or more than a week ahead, where a weekday
    alone would not say which day is meant.
    """
    days = (at.date() - now.date()).days
    if at < now:
        raise ValueError(f"when(): {at:%Y-%m-%d %H:%M} is in the past")
    if days > MAX_DAYS_AHEAD:
        raise ValueError(f"when(): {at:%Y-%m-%d} is more than {MAX_DAYS_AHEAD} days ahead")
    if days == 0:
        day = "time_today_at"
    elif days == 1:
        day = "time_tomorrow_at"
    else:
        day = f"time_{_WEEKDAYS[at.weekday()]}_at"
    return [day, *clock_time(at.hour, at.minute)]


def sound_uris(ids: Iterable[str], folder: str = "watchline") -> list[str]:
    """ARI media URIs for a list of prompt ids (``POST /channels/{id}/play`` takes several)."""
    return [f"sound:{folder}/{prompt_id}" for prompt_id in ids]


def unknown_ids(ids: Sequence[str], known: Iterable[str]) -> list[str]:
    """The ids in ``ids`` that ``known`` (a catalogue's ids) lacks, in order, once each."""
    known_set = set(known)
    return list(dict.fromkeys(i for i in ids if i not in known_set))
