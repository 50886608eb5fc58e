"""Report references: ten digits with an ISO 7064 MOD 97-10 check, read back in groups."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from ivr.reports import reference as refs
from ivr.reports.rig_speech import heard_reference
from ivr.speech.asr.base import Segment, Transcript
from ivr.speech.asr.fake import FakeAsrEngine
from ivr.speech.audio import Audio, write_wav
from ivr.speech.say import digits


def test_a_new_reference_is_ten_digits_that_pass_their_own_check() -> None:
    rng = random.Random(7)
    for _ in range(1000):
        ref = refs.make_reference(rng)
        assert len(ref) == 10 and ref.isdigit() and ref[0] != "0"
        assert refs.is_valid(ref)


def test_the_check_digits_follow_iso_7064_mod_97_10() -> None:
    """The IBAN scheme: payload + two digits is 1 modulo 97 (known example below)."""
    assert refs.check_digits("40712298") == f"{98 - 4071229800 % 97:02d}"
    assert int("40712298" + refs.check_digits("40712298")) % 97 == 1
    with pytest.raises(ValueError):
        refs.check_digits("4071a298")


def test_every_single_wrong_digit_is_caught() -> None:
    rng = random.Random(1)
    for _ in range(200):
        ref = refs.make_reference(rng)
        for i in range(10):
            for d in "0123456789":
                if d != ref[i]:
                    assert not refs.is_valid(ref[:i] + d + ref[i + 1 :])


def test_every_swap_of_neighbouring_digits_is_caught() -> None:
    """Including 0-9 / 9-0, which the Luhn check misses."""
    rng = random.Random(2)
    for _ in range(500):
        ref = refs.make_reference(rng)
        for i in range(9):
            if ref[i] != ref[i + 1]:
                swapped = ref[:i] + ref[i + 1] + ref[i] + ref[i + 2 :]
                assert not refs.is_valid(swapped)


def test_written_forms_are_normalised_and_displayed_as_spoken() -> None:
    ref = refs.make_reference(random.Random(3))
    shown = refs.display(ref)
    assert shown == f"{ref[:4]} {ref[4:7]} {ref[7:]}"
    assert refs.normalise(" " + shown.replace(" ", "-") + " ") == ref
    # read back in the same 4-3-3 groups
    assert digits(ref).count("pause_digit_group") == 2


@pytest.mark.parametrize("bad", ["", "123", "12345678901", "abcdefghij", "0000000000"])
def test_anything_else_is_not_a_reference(bad: str) -> None:
    assert not refs.is_valid(bad)


@pytest.mark.parametrize(
    "heard",
    [
        "Your reference number is 4071, 229, 833. Please write it down.",
        "your reference number is four zero seven one two two nine eight three three please",
        "Reference number is 4-0-7-1 2-2-9 8-3-3. To hear it again press star.",
    ],
)
def test_the_reference_a_caller_heard_is_found_in_a_transcript(heard: str) -> None:
    assert refs.reference_in_speech(heard) == "4071229833"


def test_a_transcript_without_a_reference_gives_none() -> None:
    assert refs.reference_in_speech("Thank you for calling. Press 1.") is None
    assert refs.reference_in_speech("your reference number is lost") is None


def test_the_reading_a_caller_heard_is_the_one_that_passes_its_check_digits(tmp_path: Path) -> None:
    """Whisper may drop an isolated digit; the check digits tell a misheard reading apart."""
    ref = refs.make_reference(random.Random(4))
    spoken = ", ".join(ref)
    whole = Transcript(
        text="...",
        engine="fake",
        duration_s=60,
        segments=(
            Segment("When you have finished, press 1. Your reference", 10, 20, 0.8),
            Segment(f"number is {spoken[:-3]}. Please write it down.", 20, 30, 0.8),
            Segment(f"Your reference number is {spoken}.", 40, 52, 0.8),
        ),
    )
    engine = FakeAsrEngine(
        [
            whole,
            f"your reference number is {spoken[:-3]}",  # first reading: a digit lost ...
            f"your reference number is {spoken[:-3]}",  # ... twice
            "your reference number is",  # ... and nothing the third way
            f"Your reference number is {spoken}.",  # second reading: right first time
        ]
    )
    recording = tmp_path / "call.wav"
    write_wav(
        recording, Audio.from_float(0.1 * np.random.default_rng(0).standard_normal(60 * 8000), 8000)
    )
    heard = heard_reference(recording, engine)
    assert heard.readings == (ref[:-1], ref)
    assert heard.reference == ref
