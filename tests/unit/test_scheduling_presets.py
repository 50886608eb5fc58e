"""Preset send times, with frozen time: "this evening at 7" and "tomorrow at 10" in
Europe/London, across the clock changes."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from ivr.scheduling.presets import (
    available_presets,
    default_presets,
    find_preset,
    local_time,
    this_evening_at,
    tomorrow_at,
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def test_this_evening_at_seven_in_winter_is_seven_utc() -> None:
    assert this_evening_at(utc(2025, 1, 15, 9, 30)) == utc(2025, 1, 15, 19, 0)


def test_this_evening_at_seven_in_summer_is_six_utc() -> None:
    assert this_evening_at(utc(2025, 7, 15, 9, 30)) == utc(2025, 7, 15, 18, 0)


def test_this_evening_is_not_offered_once_seven_has_passed() -> None:
    assert this_evening_at(utc(2025, 1, 15, 19, 0)) is None
    assert this_evening_at(utc(2025, 1, 15, 18, 59, 59)) == utc(2025, 1, 15, 19, 0)


def test_this_evening_is_the_local_evening_even_just_after_midnight_utc() -> None:
    # 00:30 BST on 16 July is still 15 July in UTC: "this evening" is the 16th's, locally.
    assert this_evening_at(utc(2025, 7, 15, 23, 30)) == utc(2025, 7, 16, 18, 0)


def test_tomorrow_at_ten_is_ten_local_time_across_the_spring_clock_change() -> None:
    # Saturday 29 March 2025; the clocks go forward at 01:00 UTC on Sunday 30 March.
    assert tomorrow_at(utc(2025, 3, 29, 12, 0)) == utc(2025, 3, 30, 9, 0)


def test_tomorrow_at_ten_is_ten_local_time_across_the_autumn_clock_change() -> None:
    # Saturday 25 October 2025; the clocks go back at 01:00 UTC on Sunday 26 October.
    assert tomorrow_at(utc(2025, 10, 25, 12, 0)) == utc(2025, 10, 26, 10, 0)


def test_presets_follow_the_schemes_time_zone() -> None:
    now = utc(2025, 1, 15, 9, 0)
    assert local_time(0, time(19, 0), now, "America/New_York") == utc(2025, 1, 16, 0, 0)


def test_available_presets_keep_their_order_and_drop_the_ones_past() -> None:
    presets = default_presets()
    morning = available_presets(presets, utc(2025, 1, 15, 9, 0))
    assert [(p.name, at) for p, at in morning] == [
        ("this_evening", utc(2025, 1, 15, 19, 0)),
        ("tomorrow_morning", utc(2025, 1, 16, 10, 0)),
    ]
    night = available_presets(presets, utc(2025, 1, 15, 22, 0))
    assert [p.name for p, _ in night] == ["tomorrow_morning"]


def test_presets_can_be_moved_and_found_by_name() -> None:
    presets = default_presets(evening=time(18, 30), morning=time(9, 0))
    evening = find_preset(presets, "this_evening")
    assert evening is not None and evening.key == "2" and evening.at == time(18, 30)
    assert find_preset(presets, "next_week") is None


def test_a_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        this_evening_at(datetime(2025, 1, 15, 9, 0))
