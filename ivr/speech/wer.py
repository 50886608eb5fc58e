"""Word error rate, with the text normalisation that makes it fair.

Recognisers and references disagree on things that are not recognition errors: case,
punctuation, "eleven" vs "11", "neighbour" vs "neighbor", "there's" vs "there is". Those
are folded together before counting; everything else counts. The menu matcher uses the same
:func:`normalise_words` so "press one" and "1" mean the same thing there too.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Final

_UNITS: Final = {
    "zero": 0, "oh": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19,
}  # fmt: skip
_TENS: Final = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
    "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
}  # fmt: skip
_SCALES: Final = {"hundred": 100, "thousand": 1000}

#: British spellings a US-trained recogniser will never write, folded to the US form.
SPELLING: Final = {
    "neighbour": "neighbor", "neighbours": "neighbors", "neighbour's": "neighbor's",
    "neighbourhood": "neighborhood", "behaviour": "behavior", "centre": "center",
    "centres": "centers", "tyre": "tire", "tyres": "tires", "colour": "color",
    "favourite": "favorite", "grey": "gray", "jewellery": "jewelry", "kerb": "curb",
    "metre": "meter", "metres": "meters", "organised": "organized", "realised": "realized",
    "recognised": "recognized", "apologise": "apologize", "vandalised": "vandalized",
    "harbour": "harbor", "licence": "license", "theatre": "theater", "ok": "okay",
}  # fmt: skip

_CONTRACTIONS: Final = {
    "there's": "there is", "it's": "it is", "that's": "that is", "what's": "what is",
    "here's": "here is", "he's": "he is", "she's": "she is", "who's": "who is",
    "where's": "where is", "let's": "let us", "i'm": "i am", "can't": "can not",
    "cannot": "can not", "won't": "will not", "shan't": "shall not",
}  # fmt: skip
_SUFFIXES: Final = (("n't", " not"), ("'re", " are"), ("'ve", " have"), ("'ll", " will"))

_FILLERS: Final = frozenset({"um", "uh", "er", "erm", "hmm", "mm", "ah"})
_NON_WORD = re.compile(r"[^a-z0-9' ]+")


def normalise_words(text: str) -> list[str]:
    """Lower-case words with punctuation, contractions, spellings and numbers folded."""
    text = unicodedata.normalize("NFKC", text).lower().replace("\u2019", "'")
    text = re.sub(r"(?<=\d),(?=\d{3})", "", text)  # 1,000 -> 1000
    text = re.sub(r"[-/]", " ", text)
    text = _NON_WORD.sub(" ", text)
    words: list[str] = []
    for raw in text.split():
        word = raw.strip("'")
        if not word or word in _FILLERS:
            continue
        words.extend(_expand(SPELLING.get(word, word)).split())
    return _fold_numbers(words)


def _expand(word: str) -> str:
    if word in _CONTRACTIONS:
        return _CONTRACTIONS[word]
    for suffix, replacement in _SUFFIXES:
        if word.endswith(suffix) and len(word) > len(suffix):
            return word[: -len(suffix)] + replacement
    return word


def _fold_numbers(words: Sequence[str]) -> list[str]:
    """Replace each run of number words ("twenty one", "two hundred and five") by digits."""
    out: list[str] = []
    i = 0
    while i < len(words):
        value, used = _parse_number(words, i)
        if used:
            out.append(str(value))
            i += used
        else:
            out.append(words[i])
            i += 1
    return out


def _parse_number(words: Sequence[str], start: int) -> tuple[int, int]:
    total, current, i = 0, 0, start
    last = start
    while i < len(words):
        w = words[i]
        if w in _UNITS and not (w == "oh" and i == start):  # "oh" alone is an exclamation
            if current % 10 or (current % 100 and current % 100 < 20):
                break  # "one two" is two numbers, not 3
            current += _UNITS[w]
        elif w in _TENS:
            if current % 100:
                break
            current += _TENS[w]
        elif w in _SCALES and i > start:
            scale = _SCALES[w]
            if scale == 1000:
                total, current = (total + current) * 1000, 0
            else:
                current *= 100
        elif w == "and" and i > start and words[i - 1] == "hundred":
            i += 1
            continue
        else:
            break
        i += 1
        last = i
    if last == start:
        return 0, 0
    return total + current, last - start


def word_edits(reference: Sequence[str], hypothesis: Sequence[str]) -> int:
    """Levenshtein distance over words: substitutions + deletions + insertions."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref_word in enumerate(reference, start=1):
        current = [i]
        for j, hyp_word in enumerate(hypothesis, start=1):
            current.append(
                min(
                    previous[j] + 1,  # deletion
                    current[j - 1] + 1,  # insertion
                    previous[j - 1] + (ref_word != hyp_word),  # substitution or match
                )
            )
        previous = current
    return previous[-1]


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate of one utterance after normalisation.

    With an empty reference there is nothing to get wrong: 0.0 if the hypothesis is empty
    too, else 1.0 (anything heard in silence is entirely wrong).
    """
    ref, hyp = normalise_words(reference), normalise_words(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    return word_edits(ref, hyp) / len(ref)


def corpus_wer(pairs: Iterable[tuple[str, str]]) -> float:
    """Total edits over total reference words, so long utterances weigh more (the usual WER)."""
    edits = words = 0
    for reference, hypothesis in pairs:
        ref, hyp = normalise_words(reference), normalise_words(hypothesis)
        edits += word_edits(ref, hyp)
        words += len(ref)
    return edits / words if words else 0.0
