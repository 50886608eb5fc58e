"""Member field values and their parsers: pure, no I/O, shared by the CSV layer, store and policy.

Every parser takes the text a person typed (in a spreadsheet, a web form) and either returns
the canonical value or raises :class:`~ivr.errors.InputError` with a reason a coordinator can
act on. The store only ever holds canonical values (E.164 numbers, lower-case language tags).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum

import phonenumbers

from ivr.errors import InputError, InvalidPhoneNumber

DEFAULT_REGION = "GB"
DEFAULT_TIMEZONE = "Europe/London"
DEFAULT_LANGUAGE = "en"


def quiet_spell_away_from(now: datetime) -> tuple[time, time]:
    """A half-hour quiet spell twelve hours from ``now`` (member-local time).

    A member without quiet hours gets the default 20:00-09:00, so members that must be
    callable at any hour (the demo cast, test and benchmark members) get this instead.
    """
    start = now + timedelta(hours=12)
    end = start + timedelta(minutes=30)
    return start.time().replace(second=0, microsecond=0), end.time().replace(
        second=0, microsecond=0
    )


def quiet_fields_away_from(now: datetime) -> dict[str, time]:
    """:func:`quiet_spell_away_from` as a member row's ``quiet_start`` and ``quiet_end``."""
    start, end = quiet_spell_away_from(now)
    return {"quiet_start": start, "quiet_end": end}


class Channel(StrEnum):
    """How a member receives bulletins."""

    VOICE = "voice"
    FAX = "fax"


class MemberStatus(StrEnum):
    """Global status; ``opted_out`` members are never called by any campaign."""

    ACTIVE = "active"
    OPTED_OUT = "opted_out"


class Scheme(StrEnum):
    """The kind of watch scheme a group belongs to."""

    NEIGHBOURHOOD_WATCH = "neighbourhood_watch"
    PUBWATCH = "pubwatch"
    BUSINESS_WATCH = "business_watch"
    OTHER = "other"


# Ofcom keeps these ranges for drama and testing: they can never reach a subscriber, so they
# are safe in demos and the SIP test rig uses them. libphonenumber calls them invalid because
# they are unallocated, hence the explicit allowance.
_DRAMA_RANGES = (re.compile(r"\+441632960\d{3}"), re.compile(r"\+447700900\d{3}"))

# What Excel shows once it has turned a long digit string into a float: 4.41632E+11.
_SCIENTIFIC = re.compile(r"[+-]?\d+(?:[.,]\d+)?[eE][+-]?\d+")

_POSSIBLE_REASONS = {
    phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: "unknown country code",
    phonenumbers.ValidationResult.TOO_SHORT: "too short",
    phonenumbers.ValidationResult.TOO_LONG: "too long",
    phonenumbers.ValidationResult.INVALID_LENGTH: "wrong length for its country",
}


_PARSE_REASONS = {
    phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: "unknown country code",
    phonenumbers.NumberParseException.TOO_SHORT_NSN: "too short",
    phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "too short",
    phonenumbers.NumberParseException.TOO_LONG: "too long",
}


def normalise_phone(raw: str, region: str = DEFAULT_REGION) -> str:
    """Return ``raw`` as an E.164 number (``+441632960100``) or raise InvalidPhoneNumber.

    National numbers are read as numbers of ``region``. Separators, brackets and a ``(0)``
    are fine; a spreadsheet's scientific notation is refused because digits are already lost.
    """
    text = raw.strip()
    if not text:
        raise InvalidPhoneNumber(raw, "empty")
    if _SCIENTIFIC.fullmatch(text):
        raise InvalidPhoneNumber(
            raw,
            "a spreadsheet turned this number into scientific notation and dropped digits; "
            "format the column as Text and export again",
        )
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as e:
        raise InvalidPhoneNumber(raw, _PARSE_REASONS.get(e.error_type, "not a phone number")) from e
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if any(r.fullmatch(e164) for r in _DRAMA_RANGES):
        return e164
    possible = phonenumbers.is_possible_number_with_reason(number)
    if possible in _POSSIBLE_REASONS:
        raise InvalidPhoneNumber(raw, _POSSIBLE_REASONS[possible])
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhoneNumber(raw, "not a valid number (no such range, or digits missing)")
    return e164


@dataclass(frozen=True, order=True)
class QuietHours:
    """Local times between which a member must not be rung; may wrap midnight (21:00-08:00).

    ``start`` is inclusive and ``end`` exclusive, so 21:00-08:00 allows a call at 08:00.
    """

    start: time
    end: time

    def __post_init__(self) -> None:
        if self.start == self.end:
            # Equal bounds would mean either "always quiet" or "never quiet": refuse to guess.
            raise InputError(f"quiet hours {self} start and end at the same time")

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    def contains(self, t: time) -> bool:
        if self.start < self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end


_QUIET_HOURS = re.compile(r"(\d{1,2})[:.h]?(\d{2})\s*(?:-|–|to)\s*(\d{1,2})[:.h]?(\d{2})")


def parse_quiet_hours(text: str) -> QuietHours | None:
    """Parse ``21:00-08:00`` (also ``2100-0800``, ``21.00 to 08.00``); empty means none."""
    text = text.strip()
    if not text:
        return None
    m = _QUIET_HOURS.fullmatch(text)
    if m is None:
        raise InputError(f"quiet hours {text!r} are not like 21:00-08:00")
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    try:
        return QuietHours(time(h1, m1), time(h2, m2))
    except ValueError as e:
        raise InputError(f"quiet hours {text!r}: {e}") from e


def parse_channel(text: str) -> Channel:
    """``voice`` or ``fax`` in any case; empty means voice."""
    value = text.strip().lower() or Channel.VOICE.value
    try:
        return Channel(value)
    except ValueError:
        choices = ", ".join(c.value for c in Channel)
        raise InputError(f"unknown channel {text.strip()!r} (expected {choices})") from None


_LANGUAGE = re.compile(r"[a-z]{2,3}(?:-[a-z0-9]{2,8})*")


def parse_language(text: str) -> str:
    """A BCP 47-style tag such as ``en``, ``cy`` or ``pa-guru``; empty means English."""
    value = text.strip().lower().replace("_", "-") or DEFAULT_LANGUAGE
    if not _LANGUAGE.fullmatch(value):
        raise InputError(f"language {text.strip()!r} is not a code like en or cy")
    return value


_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def parse_email(text: str) -> str | None:
    """A plausible address or None; full validation is the mail server's job."""
    value = text.strip()
    if not value:
        return None
    if not _EMAIL.fullmatch(value):
        raise InputError(f"email {value!r} is not an address")
    return value
