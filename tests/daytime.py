"""Quiet hours that keep a test member callable whatever the time of day.

A member without quiet hours gets the default 20:00-09:00 (local), so a test that rings
members through the real clock would find them all outside their window at night. Tests
that are not about call windows give their members this short quiet spell, twelve hours
away from now instead.
"""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from ivr.members.fields import DEFAULT_TIMEZONE, quiet_fields_away_from, quiet_spell_away_from


def quiet_hours_far_from_now(zone: str = DEFAULT_TIMEZONE) -> tuple[time, time]:
    return quiet_spell_away_from(datetime.now(ZoneInfo(zone)))


def quiet_fields() -> dict[str, time]:
    """Row fields for members_repo.insert_members."""
    return quiet_fields_away_from(datetime.now(ZoneInfo(DEFAULT_TIMEZONE)))


def quiet_csv() -> str:
    """The CSV ``quiet_hours`` column."""
    start, end = quiet_hours_far_from_now()
    return f"{start:%H:%M}-{end:%H:%M}"
