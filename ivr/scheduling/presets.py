"""Preset send times, pure: "this evening at 7", "tomorrow at 10", relative to now.

Coordinators choose a time by key, not by keying digits, so the choices are a short fixed
list of presets, each a day offset and a local time of day in the scheme's time zone
(Europe/London by default). The answer is an aware UTC datetime.

Worked out in local time, not by adding hours to ``now``: on the Saturday before the clocks
go forward, "tomorrow at 10" is 09:00 UTC, not 10:00. A local time that does not exist that
day (in the hour the clocks skip) is read with the offset before the change, as zoneinfo
does, which lands an hour later; our presets (7 pm, 10 am) are never in that hour.

A preset for today whose time has passed is not available, so "this evening at 7" is never
offered at 7.30 pm.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

DEFAULT_TZ = "Europe/London"


@dataclass(frozen=True)
class Preset:
    #: stable name, for the API and the list of scheduled sends
    name: str
    #: the key that chooses it on the bulletin line's send-time menu
    key: str
    #: 0 today, 1 tomorrow
    day_offset: int
    at: time


def default_presets(evening: time = time(19, 0), morning: time = time(10, 0)) -> list[Preset]:
    """The two presets the bulletin line speaks (prompts ``bulletin_when_menu``)."""
    return [
        Preset("this_evening", "2", 0, evening),
        Preset("tomorrow_morning", "3", 1, morning),
    ]


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"naive datetime {now!r}: pass an aware time")


def local_time(day_offset: int, at: time, now: datetime, tz: str = DEFAULT_TZ) -> datetime:
    """``at`` on the local day ``day_offset`` days after ``now``'s local day, in UTC."""
    _require_aware(now)
    zone = ZoneInfo(tz)
    day = now.astimezone(zone).date() + timedelta(days=day_offset)
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def preset_time(preset: Preset, now: datetime, tz: str = DEFAULT_TZ) -> datetime | None:
    """When ``preset`` is, seen from ``now``; None when it is not ahead (a time today that
    has passed)."""
    at = local_time(preset.day_offset, preset.at, now, tz)
    return at if at > now else None


def this_evening_at(now: datetime, at: time = time(19, 0), tz: str = DEFAULT_TZ) -> datetime | None:
    return preset_time(Preset("this_evening", "2", 0, at), now, tz)


def tomorrow_at(now: datetime, at: time = time(10, 0), tz: str = DEFAULT_TZ) -> datetime:
    found = preset_time(Preset("tomorrow_morning", "3", 1, at), now, tz)
    assert found is not None, "tomorrow is always ahead"
    return found


def available_presets(
    presets: Sequence[Preset], now: datetime, tz: str = DEFAULT_TZ
) -> list[tuple[Preset, datetime]]:
    """The presets still ahead of ``now``, with their times, in the order given."""
    found = []
    for preset in presets:
        at = preset_time(preset, now, tz)
        if at is not None:
            found.append((preset, at))
    return found


def find_preset(presets: Sequence[Preset], name: str) -> Preset | None:
    return next((p for p in presets if p.name == name), None)
