"""Report reference numbers: ten digits, the last two an ISO 7064 MOD 97-10 check.

Why this scheme:

- **Digits only.** A caller writes it down from speech and may key it in later; letters
  are easily misheard at 8 kHz ("B" / "D" / "E") and cannot be keyed.
- **MOD 97-10, two check digits** (the IBAN scheme): catches every single wrong digit,
  every swap of two neighbours (which Luhn misses for 0-9 / 9-0), and all but about 1 %
  of other errors. A staff member who mistypes a reference a caller reads out is told at
  once, instead of being shown someone else's report.
- **Eight random payload digits** (first one 1-9, so it never starts with "zero"): 90
  million values, not sequential, so a reference says nothing about how many reports
  there are and cannot be guessed from another. The database's unique constraint settles
  the rare collision (``reports_repo`` draws again).

The reference is read as 4-3-3 groups (``say.digits``), e.g. "4071 229 833".
"""

from __future__ import annotations

import random
import re
from typing import Final

from ivr.speech.wer import normalise_words

PAYLOAD_DIGITS: Final = 8
LENGTH: Final = PAYLOAD_DIGITS + 2
_SEPARATORS: Final = re.compile(r"[\s\-./]+")
_SPOKEN_DIGITS: Final = (
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
)
_DIGIT_WORDS: Final = {w: str(i) for i, w in enumerate(_SPOKEN_DIGITS)} | {"oh": "0"}
_DIGIT_WORD: Final = re.compile(r"\b(" + "|".join(_DIGIT_WORDS) + r")\b", re.IGNORECASE)


def check_digits(payload: str) -> str:
    """The two MOD 97-10 check digits for ``payload`` (a string of digits)."""
    if not payload.isdigit():
        raise ValueError(f"payload must be digits, got {payload!r}")
    return f"{98 - int(payload + '00') % 97:02d}"


def make_reference(rng: random.Random | None = None) -> str:
    """A new random reference: eight payload digits then two check digits."""
    draw = rng or random.SystemRandom()
    payload = str(draw.randint(1, 9)) + "".join(
        str(draw.randint(0, 9)) for _ in range(PAYLOAD_DIGITS - 1)
    )
    return payload + check_digits(payload)


def normalise(text: str) -> str:
    """A reference as written by a person ("4071 229-833") in its stored form."""
    return _SEPARATORS.sub("", text.strip())


def is_valid(reference: str) -> bool:
    """Ten digits whose value is 1 modulo 97 (the MOD 97-10 check)."""
    return len(reference) == LENGTH and reference.isdigit() and int(reference) % 97 == 1


def display(reference: str) -> str:
    """Grouped as it is spoken: "4071 229 833"."""
    return f"{reference[:4]} {reference[4:7]} {reference[7:]}"


def reference_in_speech(text: str) -> str | None:
    """The digits spoken after "reference (number is)" in a transcript, or None.

    For checking what a caller heard (an ASR transcript of the call): digits may come out
    as numerals or words, grouped or not ("4071, 229, 833" or "four zero seven one").
    """
    # digit words one by one: the WER normaliser would fold "two two" runs in other ways
    spelled = _DIGIT_WORD.sub(lambda m: _DIGIT_WORDS[m.group(0).lower()], text)
    words = normalise_words(spelled)
    for i, word in enumerate(words):
        if word != "reference":
            continue
        j = i + 1
        while j < len(words) and words[j] in ("number", "is"):
            j += 1
        found = ""
        while j < len(words) and words[j].isdigit():
            found += words[j]
            j += 1
        if found:
            return found
    return None
