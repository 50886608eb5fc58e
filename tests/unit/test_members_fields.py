"""Member field parsers: what a coordinator types becomes a canonical value or a clear reason."""

from __future__ import annotations

from datetime import time

import pytest

from ivr.errors import InputError, InvalidPhoneNumber
from ivr.members.fields import (
    Channel,
    QuietHours,
    normalise_phone,
    parse_channel,
    parse_email,
    parse_language,
    parse_quiet_hours,
)


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("01632 960100", "+441632960100"),
        ("+44 (0)1632 960100", "+441632960100"),
        ("(01632) 960-100", "+441632960100"),
        ("0044 1632 960100", "+441632960100"),
        ("01632\u00a0960100", "+441632960100"),  # non-breaking space from a web page
        ("1632960100", "+441632960100"),  # Excel dropped the leading 0
        ("441632960100", "+441632960100"),  # Excel dropped the +
        ("07700 900123", "+447700900123"),
        ("020 7946 0018", "+442079460018"),
        ("0113 496 0000", "+441134960000"),
        ("+353 1 234 5678", "+35312345678"),
    ],
)
def test_numbers_become_e164(raw: str, e164: str) -> None:
    """UK national and international forms, with the usual punctuation, and the Ofcom drama
    ranges used by the test rig (libphonenumber calls those unallocated)."""
    assert normalise_phone(raw) == e164


def test_national_numbers_are_read_in_the_given_region() -> None:
    assert normalise_phone("(202) 555-0143", region="US") == "+12025550143"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        ("4.41632E+11", "scientific notation"),
        ("7,7009E+09", "scientific notation"),
        ("999", "too short"),
        ("01632 96", "no such range"),
        ("0161 496 00001234", "too long"),
        ("+999 1234 5678", "unknown country code"),
        ("call me", "not a phone number"),
    ],
)
def test_bad_numbers_are_refused_with_a_reason(raw: str, reason: str) -> None:
    with pytest.raises(InvalidPhoneNumber, match=reason) as caught:
        normalise_phone(raw)
    assert caught.value.number == raw


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("21:00-08:00", QuietHours(time(21), time(8))),
        ("2100-0800", QuietHours(time(21), time(8))),
        (" 9:30 – 17:00 ", QuietHours(time(9, 30), time(17))),
        ("21.00 to 08.00", QuietHours(time(21), time(8))),
        ("", None),
    ],
)
def test_quiet_hours_accept_the_usual_spellings(text: str, expected: QuietHours | None) -> None:
    assert parse_quiet_hours(text) == expected


@pytest.mark.parametrize("text", ["late", "25:00-08:00", "21:00-21:00", "21:00"])
def test_impossible_or_ambiguous_quiet_hours_are_refused(text: str) -> None:
    """Equal start and end could mean "always" or "never": refused rather than guessed."""
    with pytest.raises(InputError):
        parse_quiet_hours(text)


def test_quiet_hours_can_wrap_midnight_and_end_exclusively() -> None:
    night = QuietHours(time(21), time(8))
    assert night.contains(time(23)) and night.contains(time(7, 59))
    assert not night.contains(time(8)) and not night.contains(time(20, 59))
    assert str(night) == "21:00-08:00"


def test_channel_language_and_email_are_normalised_or_refused() -> None:
    assert parse_channel(" FAX ") is Channel.FAX
    assert parse_channel("") is Channel.VOICE
    with pytest.raises(InputError, match="unknown channel 'sms'"):
        parse_channel("sms")
    assert parse_language("CY") == "cy"
    assert parse_language("pa_Guru") == "pa-guru"
    assert parse_language("") == "en"
    with pytest.raises(InputError):
        parse_language("Welsh!")
    assert parse_email(" a@example.org ") == "a@example.org"
    assert parse_email("") is None
    with pytest.raises(InputError):
        parse_email("ivy@")
