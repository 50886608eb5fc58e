"""Runtime speech: values become lists of pre-rendered prompt ids, paced for a landline."""

from __future__ import annotations

import datetime as dt

import pytest

from ivr.speech import say

P = say.GROUP_PAUSE


def _d(text: str) -> list[str]:
    return [f"digit_{c}" for c in text]


# --- digits -------------------------------------------------------------------------------


def test_a_twelve_digit_reference_is_read_in_three_groups_of_four() -> None:
    """Unbroken references are grouped so a caller can write them down."""
    assert say.digits("407122983310") == [*_d("4071"), P, *_d("2298"), P, *_d("3310")]


@pytest.mark.parametrize(
    ("length", "groups"),
    [(4, [4]), (5, [5]), (6, [3, 3]), (9, [3, 3, 3]), (11, [4, 4, 3]), (13, [4, 3, 3, 3])],
)
def test_long_groups_split_evenly_without_a_lone_last_digit(length: int, groups: list[int]) -> None:
    ids = say.digits("7" * length)
    sizes = [len(g.split(",")) for g in ",".join(ids).split(f",{P},")]
    assert sizes == groups


def test_the_written_grouping_of_a_phone_number_is_kept() -> None:
    """'01632 960 123' is read as printed, whatever the default group size."""
    assert say.digits("01632 960-123") == [*_d("01632"), P, *_d("960"), P, *_d("123")]


def test_star_and_hash_are_read_by_name() -> None:
    assert say.digits("1*#") == ["digit_1", "key_star", "key_hash"]


@pytest.mark.parametrize("bad", ["", "  ", "WL-1234", "12a4"])
def test_anything_but_digits_star_and_hash_is_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        say.digits(bad)


# --- numbers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "words"),
    [
        (0, ["0"]),
        (7, ["7"]),
        (13, ["13"]),
        (20, ["20"]),
        (38, ["30", "8"]),
        (100, ["1", "hundred"]),
        (305, ["3", "hundred", "and", "5"]),
        (999, ["9", "hundred", "and", "90", "9"]),
        (1000, ["1", "thousand"]),
        (2005, ["2", "thousand", "and", "5"]),
        (2305, ["2", "thousand", "3", "hundred", "and", "5"]),
        (9999, ["9", "thousand", "9", "hundred", "and", "90", "9"]),
    ],
)
def test_numbers_are_british_english_words(n: int, words: list[str]) -> None:
    """38 is "thirty eight"; 305 is "three hundred and five"."""
    assert say.number(n) == [f"number_{w}" for w in words]


@pytest.mark.parametrize("n", [-1, 10_000])
def test_numbers_outside_0_to_9999_are_refused(n: int) -> None:
    with pytest.raises(ValueError, match="0 to 9999"):
        say.number(n)


def test_a_bool_is_not_a_count() -> None:
    with pytest.raises(TypeError):
        say.number(True)


# --- delivery summary ---------------------------------------------------------------------


def test_summary_reads_confirmed_out_of_total_then_voicemail_and_not_reached() -> None:
    """ "38 out of 45 members confirmed. 4 left on voicemail. 3 not reached." """
    assert say.summary(38, 45, 4, 3) == [
        "number_30", "number_8", "summary_out_of", "number_40", "number_5",
        "summary_members_confirmed", "number_4", "summary_voicemail",
        "number_3", "summary_not_reached",
    ]  # fmt: skip


def test_summary_leaves_out_zero_voicemail_and_not_reached() -> None:
    assert say.summary(45, 45, 0, 0) == [
        "number_40", "number_5", "summary_out_of", "number_40", "number_5",
        "summary_members_confirmed",
    ]  # fmt: skip


def test_summary_of_a_single_member_is_singular() -> None:
    assert say.summary(1, 1, 0, 0)[-1] == "summary_member_confirmed"
    assert say.summary(0, 1, 0, 1)[3] == "summary_member_confirmed"


@pytest.mark.parametrize("counts", [(40, 45, 4, 3), (-1, 5, 0, 0), (1, 5, -2, 0)])
def test_summary_refuses_counts_that_cannot_be_true(counts: tuple[int, int, int, int]) -> None:
    """More outcomes than members called means a bug upstream: say so rather than misreport."""
    with pytest.raises(ValueError, match="summary"):
        say.summary(*counts)


def test_position_reads_bulletin_n_out_of_m() -> None:
    assert say.position(2, 5) == ["replay_bulletin", "number_2", "replay_out_of", "number_5"]
    with pytest.raises(ValueError):
        say.position(6, 5)


# --- days and times -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hour", "minute", "expected"),
    [
        (19, 0, ["number_7", "time_in_the_evening"]),
        (7, 5, ["number_7", "time_oh", "number_5", "time_in_the_morning"]),
        (14, 30, ["number_2", "number_30", "time_in_the_afternoon"]),
        (22, 15, ["number_10", "number_15", "time_at_night"]),
        (0, 30, ["number_12", "number_30", "time_at_night"]),
        (12, 0, ["time_midday"]),
        (0, 0, ["time_midnight"]),
    ],
)
def test_clock_times_are_said_the_way_people_say_them(
    hour: int, minute: int, expected: list[str]
) -> None:
    """A 12-hour clock with the part of the day: "seven in the evening", never "nineteen"."""
    assert say.clock_time(hour, minute) == expected


def test_an_impossible_time_is_refused() -> None:
    with pytest.raises(ValueError):
        say.clock_time(24, 0)


NOW = dt.datetime(2025, 1, 6, 9, 0)  # a Monday morning


@pytest.mark.parametrize(
    ("at", "day"),
    [
        (NOW.replace(hour=19), "time_today_at"),
        (NOW + dt.timedelta(days=1), "time_tomorrow_at"),
        (NOW + dt.timedelta(days=2), "time_wednesday_at"),
        (NOW + dt.timedelta(days=6), "time_sunday_at"),
    ],
)
def test_when_names_today_tomorrow_or_the_weekday(at: dt.datetime, day: str) -> None:
    assert say.when(at, NOW) == [day, *say.clock_time(at.hour, at.minute)]


@pytest.mark.parametrize("at", [NOW - dt.timedelta(minutes=1), NOW + dt.timedelta(days=7)])
def test_when_refuses_the_past_and_more_than_a_week_ahead(at: dt.datetime) -> None:
    """Next Monday and this Monday would both be "on Monday"."""
    with pytest.raises(ValueError):
        say.when(at, NOW)


def test_sound_uris_name_the_watchline_sounds_folder() -> None:
    assert say.sound_uris(["digit_1", "dyn_ab"]) == [
        "sound:watchline/digit_1",
        "sound:watchline/dyn_ab",
    ]
