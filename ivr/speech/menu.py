"""Spoken menu answers: what a transcript means, and what to do when we are not sure.

Pure functions, no I/O. A menu is data (choices with a DTMF key, a label and spoken
synonyms); :func:`match_speech` turns a transcript into (choice or None, confidence);
:func:`decide` is the re-ask policy as a state function:

    speech or keys ──failure──> ask again (speech or keys) ──failure──> keys only
        │                            │                                     │
        └─ valid key / sure speech ──┴──────────> chosen <──── valid key ──┤
                                                                 failures ─┴─> give up

A failure is a low-confidence or unmatched answer, silence, or a key not on the menu. A
key press always wins: it is unambiguous and the only proof of a human (ARCHITECTURE,
"Lessons from peers"), so when a key and speech both arrive, :func:`prefer_key` picks it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from enum import StrEnum
from typing import Literal

from ivr.speech.wer import normalise_words

DTMF_KEYS = frozenset("0123456789*#")
#: A fuzzy (not word-for-word) match never scores above this, so exact matches always win.
FUZZY_CEILING = 0.9
#: Character similarity below this is no match at all ("there" is not "theft").
FUZZY_MIN_RATIO = 0.75
#: Two choices closer than this are ambiguous: confidence falls linearly to 0 as they meet.
SEPARATION = 0.5


@dataclass(frozen=True)
class MenuChoice:
    key: str
    label: str
    synonyms: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.key not in DTMF_KEYS:
            raise ValueError(f"menu key must be one DTMF key (0-9 * #), got {self.key!r}")

    @property
    def phrases(self) -> tuple[str, ...]:
        """Everything a caller may say for this choice, the key's digit included."""
        return (self.label, *self.synonyms, self.key)


@dataclass(frozen=True)
class Menu:
    choices: tuple[MenuChoice, ...]

    def __post_init__(self) -> None:
        keys = [c.key for c in self.choices]
        if not keys or len(set(keys)) != len(keys):
            raise ValueError(f"a menu needs choices with distinct keys, got {keys}")

    def by_key(self, key: str) -> MenuChoice | None:
        return next((c for c in self.choices if c.key == key), None)

    @property
    def vocabulary(self) -> tuple[str, ...]:
        """Labels and synonyms, to give a recogniser as ``context``."""
        return tuple(p for c in self.choices for p in (c.label, *c.synonyms))


@dataclass(frozen=True)
class MenuMatch:
    choice: MenuChoice | None
    confidence: float
    heard: str


def phrase_score(phrase: Sequence[str], heard: Sequence[str]) -> float:
    """1.0 if the phrase's words occur in order in what was heard, else the best character
    similarity of any same-length run of heard words (0 below FUZZY_MIN_RATIO), scaled by
    FUZZY_CEILING."""
    n = len(phrase)
    if n == 0 or not heard:
        return 0.0
    windows = [heard[i : i + n] for i in range(max(1, len(heard) - n + 1))]
    if any(list(w) == list(phrase) for w in windows):
        return 1.0
    target = " ".join(phrase)
    best = max(SequenceMatcher(None, target, " ".join(w)).ratio() for w in windows)
    return best * FUZZY_CEILING if best >= FUZZY_MIN_RATIO else 0.0


def match_speech(menu: Menu, text: str, asr_confidence: float = 1.0) -> MenuMatch:
    """The choice the transcript names, with confidence in [0, 1].

    confidence = asr_confidence x best phrase score x separation from the runner-up, so
    "yes no" (two exact matches) scores 0, and a misheard word scores low.
    """
    heard = normalise_words(text)
    scores = sorted(
        (
            (max(phrase_score(normalise_words(p), heard) for p in c.phrases), i)
            for i, c in enumerate(menu.choices)
        ),
        reverse=True,
    )
    best, index = scores[0]
    runner_up = scores[1][0] if len(scores) > 1 else 0.0
    if best <= 0.0:
        return MenuMatch(None, 0.0, text)
    separation = min(1.0, (best - runner_up) / SEPARATION)
    confidence = max(0.0, min(1.0, asr_confidence)) * best * separation
    return MenuMatch(menu.choices[index], confidence, text)


# --- the re-ask policy ----------------------------------------------------------------------


class MenuMode(StrEnum):
    SPEECH_OR_KEYS = "speech_or_keys"
    KEYS_ONLY = "keys_only"


@dataclass(frozen=True)
class MenuState:
    mode: MenuMode = MenuMode.SPEECH_OR_KEYS
    #: Failed attempts in the current mode.
    failures: int = 0


@dataclass(frozen=True)
class MenuPolicy:
    #: Whisper tiny.en gives single spoken words 0.45-0.65 and short phrases 0.7-0.9 on the
    #: synthetic phone-line set; misheard words mostly fail to match at all.
    accept_confidence: float = 0.35
    #: Attempts with speech allowed before falling back to keys only.
    speech_attempts: int = 2
    #: Attempts in keys-only mode before giving up.
    keys_only_attempts: int = 2


@dataclass(frozen=True)
class KeyPressed:
    key: str


@dataclass(frozen=True)
class SpeechHeard:
    match: MenuMatch


@dataclass(frozen=True)
class NothingHeard:
    """Time ran out with no key and no speech (or only noise)."""


MenuInput = KeyPressed | SpeechHeard | NothingHeard
FailureReason = Literal["no_input", "not_understood", "invalid_key", "speech_ignored"]


@dataclass(frozen=True)
class Chosen:
    choice: MenuChoice
    by: Literal["key", "speech"]
    confidence: float


@dataclass(frozen=True)
class AskAgain:
    """Prompt again; ``mode`` says which prompt (with or without "or say ...")."""

    mode: MenuMode
    reason: FailureReason


@dataclass(frozen=True)
class GiveUp:
    reason: FailureReason
    attempts: int = field(default=0)


MenuDecision = Chosen | AskAgain | GiveUp


def decide(
    menu: Menu, policy: MenuPolicy, state: MenuState, event: MenuInput
) -> tuple[MenuState, MenuDecision]:
    """The next state and what the flow should do about one answer."""
    if isinstance(event, KeyPressed):
        choice = menu.by_key(event.key)
        if choice is not None:
            return state, Chosen(choice, "key", 1.0)
        return _fail(policy, state, "invalid_key")
    if isinstance(event, SpeechHeard):
        if state.mode is MenuMode.KEYS_ONLY:
            return _fail(policy, state, "speech_ignored")
        match = event.match
        if match.choice is not None and match.confidence >= policy.accept_confidence:
            return state, Chosen(match.choice, "speech", match.confidence)
        return _fail(policy, state, "not_understood")
    return _fail(policy, state, "no_input")


def _fail(
    policy: MenuPolicy, state: MenuState, reason: FailureReason
) -> tuple[MenuState, MenuDecision]:
    failures = state.failures + 1
    if state.mode is MenuMode.SPEECH_OR_KEYS:
        if failures < policy.speech_attempts:
            return MenuState(state.mode, failures), AskAgain(state.mode, reason)
        return MenuState(MenuMode.KEYS_ONLY, 0), AskAgain(MenuMode.KEYS_ONLY, reason)
    if failures < policy.keys_only_attempts:
        return MenuState(state.mode, failures), AskAgain(state.mode, reason)
    total = policy.speech_attempts + failures
    return MenuState(state.mode, failures), GiveUp(reason, total)


def prefer_key(key: KeyPressed | None, speech: SpeechHeard | None) -> MenuInput:
    """The answer to act on when the listening window closes: a key beats speech."""
    if key is not None:
        return key
    if speech is not None:
        return speech
    return NothingHeard()


def listens_for_speech(state: MenuState) -> bool:
    """Whether the flow should record and transcribe during the next prompt."""
    return state.mode is MenuMode.SPEECH_OR_KEYS
