"""Urgent words in a report's transcripts: pure, configured in ``reports.urgent_phrases``.

A phrase matches when its words occur in order, as whole words, after the same
normalisation WER uses (case, punctuation, contractions and number words folded): so
"He's here now!" matches "he is here now", and "knifed" does not match "knife" (better a
missed stem than "gunther" flagging "gun"; operators list the forms they care about).

Recognition errors cut both ways, so urgency is a flag for staff to look first, never the
only route for danger: every caller has already been told to hang up and dial 9 9 9.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ivr.reports.states import AnswerKind
from ivr.speech.wer import normalise_words


def _contains(words: Sequence[str], phrase: Sequence[str]) -> bool:
    n = len(phrase)
    return n > 0 and any(list(words[i : i + n]) == list(phrase) for i in range(len(words) - n + 1))


def urgent_phrases_in(texts: Iterable[str], phrases: Iterable[str]) -> list[str]:
    """The configured phrases found in any of ``texts``, in configuration order, once each."""
    heard = [normalise_words(t) for t in texts if t]
    found: list[str] = []
    for phrase in phrases:
        words = normalise_words(phrase)
        if phrase not in found and any(_contains(h, words) for h in heard):
            found.append(phrase)
    return found


@dataclass(frozen=True)
class AnswerFacts:
    """What :func:`assess` needs to know about one recorded answer."""

    kind: AnswerKind
    superseded: bool
    #: "done", "failed", or "missing" (the audio could not be fetched)
    transcription: str
    text: str = ""
    no_speech: bool = False


@dataclass(frozen=True)
class Assessment:
    urgent_phrases: tuple[str, ...]
    #: nothing was said in answer to "where" or "what" (or there were no such answers)
    no_speech: bool
    transcription_failed: bool

    @property
    def urgent(self) -> bool:
        return bool(self.urgent_phrases)


def assess(answers: Sequence[AnswerFacts], phrases: Iterable[str]) -> Assessment:
    """A finished report's flags from its answers.

    Superseded takes count for urgency (a caller who says "he has a knife" and then
    re-records it has still said it) but not for ``no_speech``, which describes the
    answers the report stands on.
    """
    current = [a for a in answers if not a.superseded and a.kind is not AnswerKind.CATEGORY]
    spoken = [a for a in current if a.transcription == "done" and not a.no_speech]
    return Assessment(
        urgent_phrases=tuple(urgent_phrases_in((a.text for a in answers), phrases)),
        no_speech=not spoken and all(a.transcription == "done" for a in current),
        transcription_failed=any(a.transcription != "done" for a in answers),
    )
