"""Spoken menu answers: matching a transcript to a choice, and the re-ask policy."""

from __future__ import annotations

import pytest

from ivr.speech.menu import (
    AskAgain,
    Chosen,
    GiveUp,
    KeyPressed,
    Menu,
    MenuChoice,
    MenuInput,
    MenuMatch,
    MenuMode,
    MenuPolicy,
    MenuState,
    NothingHeard,
    SpeechHeard,
    decide,
    listens_for_speech,
    match_speech,
    phrase_score,
    prefer_key,
)

CATEGORIES = Menu(
    (
        MenuChoice("1", "theft", ("stolen", "stole", "steal")),
        MenuChoice("2", "vandalism", ("damage", "graffiti")),
        MenuChoice("3", "antisocial behaviour", ("anti social behaviour", "noise")),
        MenuChoice("9", "something else", ("other",)),
    )
)
CONFIRM = Menu(
    (
        MenuChoice("1", "yes", ("confirm", "yeah")),
        MenuChoice("2", "repeat", ("again", "hear it again")),
        MenuChoice("9", "stop", ("stop calling",)),
    )
)
POLICY = MenuPolicy(accept_confidence=0.5, speech_attempts=2, keys_only_attempts=2)


# --- menu data -----------------------------------------------------------------------------


def test_menu_refuses_duplicate_or_non_dtmf_keys() -> None:
    """Keys are what callers press, so each must be one distinct DTMF key."""
    with pytest.raises(ValueError, match="distinct"):
        Menu((MenuChoice("1", "a"), MenuChoice("1", "b")))
    with pytest.raises(ValueError, match="DTMF"):
        MenuChoice("10", "ten")
    with pytest.raises(ValueError):
        Menu(())


def test_menu_vocabulary_is_labels_and_synonyms_for_the_recogniser() -> None:
    """The context handed to an engine holds every spoken form, but not the bare keys."""
    assert CONFIRM.vocabulary == (
        "yes", "confirm", "yeah", "repeat", "again", "hear it again", "stop", "stop calling",
    )  # fmt: skip


# --- matching ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("heard", "key"),
    [
        ("Theft.", "1"),
        ("Someone stole my bike", "1"),
        ("Vandalism", "2"),
        ("Anti-social behaviour.", "3"),
        ("antisocial behavior", "3"),
        ("Two.", "2"),
        ("press 9", "9"),
        ("Something else, please", "9"),
    ],
)
def test_exact_words_choose_with_the_engine_confidence(heard: str, key: str) -> None:
    """A label, synonym or spoken key number in the transcript picks that choice."""
    match = match_speech(CATEGORIES, heard, asr_confidence=0.8)
    assert match.choice is not None
    assert match.choice.key == key
    assert match.confidence == pytest.approx(0.8)
    assert match.heard == heard


def test_near_miss_spelling_matches_with_reduced_confidence() -> None:
    """ "Vandalise" is close to "vandalism": chosen, but less surely than the exact word."""
    match = match_speech(CATEGORIES, "Vandalise", asr_confidence=1.0)
    assert match.choice is not None and match.choice.key == "2"
    assert 0.5 < match.confidence < 0.9


@pytest.mark.parametrize("heard", ["F.", "best", "", "I would like to speak to someone"])
def test_unrelated_words_match_nothing(heard: str) -> None:
    """What Whisper makes of "theft" at 8 kHz ("F.", "best") is not taken as theft."""
    match = match_speech(CATEGORIES, heard)
    assert match.choice is None
    assert match.confidence == 0.0


def test_two_choices_named_at_once_have_no_confidence() -> None:
    """ "Yes ... stop" is ambiguous: a choice is reported but with confidence 0."""
    assert match_speech(CONFIRM, "yes, stop", asr_confidence=1.0).confidence == 0.0


def test_phrase_score_is_one_for_words_in_order_and_fuzzy_otherwise() -> None:
    """Multi-word phrases must appear in order; similar spellings score below 0.9."""
    assert phrase_score(["hear", "it", "again"], ["please", "hear", "it", "again"]) == 1.0
    assert phrase_score(["hear", "it", "again"], ["again", "it", "hear"]) < 0.9
    assert phrase_score(["theft"], ["there"]) == 0.0
    assert phrase_score([], ["a"]) == 0.0


# --- the re-ask policy ---------------------------------------------------------------------


def speech(menu: Menu, text: str, confidence: float) -> SpeechHeard:
    return SpeechHeard(match_speech(menu, text, confidence))


def run(events: list[MenuInput], menu: Menu = CATEGORIES) -> list[object]:
    state = MenuState()
    decisions: list[object] = []
    for event in events:
        state, decision = decide(menu, POLICY, state, event)
        decisions.append(decision)
    return decisions


def test_a_valid_key_is_chosen_at_once_with_full_confidence() -> None:
    decision = run([KeyPressed("2")])[0]
    assert decision == Chosen(CATEGORIES.choices[1], "key", 1.0)


def test_confident_speech_is_chosen() -> None:
    decision = run([speech(CATEGORIES, "vandalism", 0.8)])[0]
    assert isinstance(decision, Chosen)
    assert (decision.choice.key, decision.by) == ("2", "speech")


def test_first_low_confidence_answer_asks_again_with_speech_then_keys_only() -> None:
    """First unsure answer: ask again (speech allowed). Second: keys only."""
    low = speech(CATEGORIES, "vandalism", 0.3)
    assert run([low, low]) == [
        AskAgain(MenuMode.SPEECH_OR_KEYS, "not_understood"),
        AskAgain(MenuMode.KEYS_ONLY, "not_understood"),
    ]


def test_keys_only_ignores_even_confident_speech_and_then_gives_up() -> None:
    """Once in keys-only mode, speech counts as a failure; two more failures give up."""
    low = speech(CATEGORIES, "mumble", 0.2)
    sure = speech(CATEGORIES, "theft", 0.95)
    decisions = run([low, NothingHeard(), sure, KeyPressed("7")])
    assert decisions[2] == AskAgain(MenuMode.KEYS_ONLY, "speech_ignored")
    assert decisions[3] == GiveUp("invalid_key", 4)


def test_a_valid_key_still_works_in_keys_only_mode() -> None:
    decisions = run([NothingHeard(), NothingHeard(), KeyPressed("1")])
    assert decisions[1] == AskAgain(MenuMode.KEYS_ONLY, "no_input")
    assert decisions[2] == Chosen(CATEGORIES.choices[0], "key", 1.0)


def test_invalid_key_and_silence_count_as_failures_like_unsure_speech() -> None:
    assert run([KeyPressed("5")]) == [AskAgain(MenuMode.SPEECH_OR_KEYS, "invalid_key")]
    assert run([NothingHeard()]) == [AskAgain(MenuMode.SPEECH_OR_KEYS, "no_input")]


def test_accepted_answer_leaves_the_state_unchanged() -> None:
    """decide is pure: the same state and input always give the same result."""
    state = MenuState(MenuMode.SPEECH_OR_KEYS, 1)
    assert decide(CATEGORIES, POLICY, state, KeyPressed("1"))[0] == state
    assert decide(CATEGORIES, POLICY, state, NothingHeard()) == decide(
        CATEGORIES, POLICY, state, NothingHeard()
    )


def test_threshold_is_inclusive() -> None:
    """Confidence exactly at the threshold is accepted."""
    at = SpeechHeard(MenuMatch(CATEGORIES.choices[0], 0.5, "theft"))
    assert isinstance(run([at])[0], Chosen)


def test_a_key_beats_speech_in_the_same_window() -> None:
    """Whichever came, a key press is acted on; speech only without one; else nothing."""
    key, said = KeyPressed("1"), speech(CATEGORIES, "vandalism", 0.9)
    assert prefer_key(key, said) is key
    assert prefer_key(None, said) is said
    assert prefer_key(None, None) == NothingHeard()


def test_flow_listens_for_speech_only_before_keys_only_mode() -> None:
    assert listens_for_speech(MenuState())
    assert not listens_for_speech(MenuState(MenuMode.KEYS_ONLY, 0))
