"""Urgent phrases in transcripts, and a finished report's flags."""

from __future__ import annotations

from ivr.reports.states import AnswerKind
from ivr.reports.urgency import AnswerFacts, assess, urgent_phrases_in

PHRASES = ("knife", "gun", "he is here now")


def test_phrases_match_whole_words_in_order_whatever_the_case_or_punctuation() -> None:
    assert urgent_phrases_in(["He's here now! Please hurry."], PHRASES) == ["he is here now"]
    assert urgent_phrases_in(["He had a KNIFE, and a gun."], PHRASES) == ["knife", "gun"]
    assert urgent_phrases_in(["Gunther took my knives."], PHRASES) == []
    assert urgent_phrases_in(["here he is now"], PHRASES) == []


def test_phrases_are_found_across_several_transcripts_once_each() -> None:
    found = urgent_phrases_in(["a knife", "", "another knife and a gun"], PHRASES)
    assert found == ["knife", "gun"]


def answer(
    kind: AnswerKind,
    text: str = "",
    *,
    state: str = "done",
    superseded: bool = False,
    no_speech: bool = False,
) -> AnswerFacts:
    return AnswerFacts(kind, superseded, state, text, no_speech)


def test_a_report_where_nothing_was_said_is_no_speech() -> None:
    verdict = assess(
        [answer(AnswerKind.WHERE, no_speech=True), answer(AnswerKind.WHAT, no_speech=True)],
        PHRASES,
    )
    assert verdict.no_speech and not verdict.urgent and not verdict.transcription_failed


def test_one_spoken_answer_is_enough_to_not_be_no_speech() -> None:
    verdict = assess(
        [answer(AnswerKind.WHERE, "Mill Lane"), answer(AnswerKind.WHAT, no_speech=True)], PHRASES
    )
    assert not verdict.no_speech


def test_a_re_recorded_answer_still_counts_for_urgency_but_not_for_speech() -> None:
    """A caller who said "knife" and re-recorded has still said it."""
    verdict = assess(
        [
            answer(AnswerKind.WHAT, "he had a knife", superseded=True),
            answer(AnswerKind.WHAT, no_speech=True),
        ],
        PHRASES,
    )
    assert verdict.urgent_phrases == ("knife",)
    assert verdict.no_speech


def test_a_failed_transcription_flags_the_report_and_is_not_called_silence() -> None:
    verdict = assess(
        [answer(AnswerKind.WHERE, state="failed"), answer(AnswerKind.WHAT, state="missing")],
        PHRASES,
    )
    assert verdict.transcription_failed and not verdict.no_speech


def test_a_spoken_menu_answer_is_not_a_description() -> None:
    verdict = assess([answer(AnswerKind.CATEGORY, "fraud")], PHRASES)
    assert verdict.no_speech
