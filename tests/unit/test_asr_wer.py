"""Word error rate and the normalisation that keeps it honest."""

from __future__ import annotations

import pytest

from ivr.speech.wer import corpus_wer, normalise_words, wer, word_edits


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("Someone stole my BICYCLE!", ["someone", "stole", "my", "bicycle"]),
        ("at about eleven o'clock", ["at", "about", "11", "o'clock"]),
        ("at about 11 o'clock", ["at", "about", "11", "o'clock"]),
        ("twenty one", ["21"]),
        ("two hundred and five", ["205"]),
        ("three thousand four hundred", ["3400"]),
        ("1,000 people", ["1000", "people"]),
        ("one two three", ["1", "2", "3"]),
        ("a hundred", ["a", "hundred"]),
        ("oh no", ["oh", "no"]),
        ("My neighbour's tyres", ["my", "neighbor's", "tires"]),
        ("There's a man; it's late", ["there", "is", "a", "man", "it", "is", "late"]),
        ("I can't, they're gone", ["i", "can", "not", "they", "are", "gone"]),
        ("fly-tipping", ["fly", "tipping"]),
        ("Um, I saw uh two", ["i", "saw", "2"]),
        ("OK \u2018quote\u2019 it\u2019s", ["okay", "quote", "it", "is"]),
    ],
)
def test_normalise_words_folds_what_is_not_a_recognition_error(text: str, words: list[str]) -> None:
    """Case, punctuation, number words, British spellings, contractions and fillers fold."""
    assert normalise_words(text) == words


def test_word_edits_counts_substitutions_deletions_and_insertions() -> None:
    """Classic Levenshtein over words."""
    assert word_edits(["a", "b", "c"], ["a", "b", "c"]) == 0
    assert word_edits(["a", "b", "c"], ["a", "x", "c"]) == 1
    assert word_edits(["a", "b", "c"], ["a", "c"]) == 1
    assert word_edits(["a", "b", "c"], ["a", "b", "c", "d"]) == 1
    assert word_edits(["a", "b"], []) == 2
    assert word_edits([], ["a"]) == 1


def test_wer_is_edits_over_reference_length_after_normalisation() -> None:
    """ "11" for "eleven" is not an error; a wrong word is one error in five."""
    assert wer("It was eleven o'clock.", "it was 11 o'clock") == 0.0
    assert wer("the van was parked outside", "the man was parked outside") == pytest.approx(0.2)
    assert wer("on Mill Lane", "on no length") == pytest.approx(2 / 3)


def test_wer_can_exceed_one_with_many_insertions() -> None:
    """Hallucinated words count against a short reference without a cap."""
    assert wer("yes", "yes yes yes") == 2.0


def test_wer_with_an_empty_reference_is_zero_or_one() -> None:
    """Nothing said: hearing nothing is right, hearing anything is wholly wrong."""
    assert wer("", "") == 0.0
    assert wer("", "thank you") == 1.0


def test_corpus_wer_weights_utterances_by_length() -> None:
    """One error in a two-word utterance and none in a four-word one is 1/6, not 1/4."""
    assert corpus_wer([("a b", "a c"), ("w x y z", "w x y z")]) == pytest.approx(1 / 6)
    assert corpus_wer([]) == 0.0
