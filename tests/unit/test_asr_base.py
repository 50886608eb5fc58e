"""The engine interface's values, the fake engine, and engines' pure helpers (no model loads)."""

from __future__ import annotations

import math
import threading
from pathlib import Path

import numpy as np
import pytest

from ivr.errors import ModelLoadError, TranscriptionError
from ivr.speech.asr import AsrEngine, Segment, Transcript, sphinx, vosk, whisper
from ivr.speech.asr.fake import FakeAsrEngine
from ivr.speech.audio import Audio


def speechlike(seconds: float = 1.0, rate: int = 8000) -> Audio:
    rng = np.random.default_rng(0)
    return Audio.from_float(0.2 * rng.standard_normal(round(seconds * rate)), rate)


def test_segment_confidence_is_clamped_to_unit_range() -> None:
    """Engines may report slightly out-of-range scores; a Segment never holds one."""
    assert Segment("a", 0, 1, 1.7).confidence == 1.0
    assert Segment("a", 0, 1, -0.2).confidence == 0.0


def test_transcript_confidence_is_weighted_by_segment_length() -> None:
    """A long confident segment outweighs a short unsure one."""
    t = Transcript.from_segments(
        [Segment("long part", 0.0, 3.0, 0.9), Segment("bit", 3.0, 4.0, 0.1)],
        engine="x",
        duration_s=4.0,
    )
    assert t.text == "long part bit"
    assert t.confidence == pytest.approx((3 * 0.9 + 1 * 0.1) / 4)
    assert not t.no_speech


def test_transcript_of_blank_segments_is_no_speech() -> None:
    """Segments with only whitespace mean nothing was heard."""
    t = Transcript.from_segments([Segment("  ", 0, 1, 0.9)], engine="x", duration_s=1.0)
    assert t.no_speech
    assert t.text == ""
    assert t.segments == ()
    assert t.confidence == 0.0


def test_fake_engine_follows_its_script_and_records_calls() -> None:
    """Strings become transcripts, exceptions are raised, then the default answers."""
    engine = FakeAsrEngine(["theft", TranscriptionError("boom")], default="other")
    assert isinstance(engine, AsrEngine)
    first = engine.transcribe(speechlike(), context=["theft", "other"])
    assert (first.text, first.confidence) == ("theft", 0.9)
    with pytest.raises(TranscriptionError):
        engine.transcribe(speechlike())
    assert engine.transcribe(speechlike()).text == "other"
    assert engine.calls[0].context == ("theft", "other")
    assert engine.calls[1].context is None


def test_fake_engine_hears_nothing_in_silence() -> None:
    """Like the real engines, silence is no_speech whatever the script says."""
    t = FakeAsrEngine(["theft"]).transcribe(Audio.silence(2.0, 8000))
    assert t.no_speech


def test_fake_engine_waits_at_its_gate() -> None:
    """A test holds a transcription open until it sets the gate."""
    gate = threading.Event()
    engine = FakeAsrEngine(["x"], gate=gate)
    result: list[Transcript] = []
    worker = threading.Thread(target=lambda: result.append(engine.transcribe(speechlike())))
    worker.start()
    worker.join(0.05)
    assert not result
    gate.set()
    worker.join(5)
    assert result[0].text == "x"


@pytest.mark.parametrize(
    ("avg_logprob", "no_speech_prob", "expected"),
    [(0.0, 0.0, 1.0), (-0.3, 0.0, math.exp(-0.3)), (-0.3, 0.5, math.exp(-0.3) / 2), (-9, 1, 0)],
)
def test_whisper_confidence_mapping(
    avg_logprob: float, no_speech_prob: float, expected: float
) -> None:
    """exp(avg_logprob), discounted by the no-speech probability."""
    assert whisper.segment_confidence(avg_logprob, no_speech_prob) == pytest.approx(expected)


def test_whisper_initial_prompt_lists_the_context() -> None:
    """Menu words become a comma list; no words, no prompt."""
    assert whisper.initial_prompt(["theft", " vandalism ", ""]) == "theft, vandalism."
    assert whisper.initial_prompt(None) is None
    assert whisper.initial_prompt([]) is None


def test_whisper_model_dir_check_names_the_missing_files(tmp_path: Path) -> None:
    """A directory without model.bin is refused before ctranslate2 sees it."""
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ModelLoadError, match=r"missing model\.bin, tokenizer\.json"):
        whisper.check_model_dir(tmp_path)
    with pytest.raises(ModelLoadError, match="does not exist"):
        whisper.check_model_dir(tmp_path / "nowhere")


def test_whisper_engine_refuses_a_bad_directory_at_construction(tmp_path: Path) -> None:
    """Configuration errors surface at start-up, not on the first call."""
    with pytest.raises(ModelLoadError, match=str(tmp_path)):
        whisper.WhisperEngine(whisper.WhisperOptions(model_dir=tmp_path))


def test_vosk_model_dir_check_lists_what_is_missing(tmp_path: Path) -> None:
    """The error names the path and each missing part, including the graph."""
    (tmp_path / "am").mkdir()
    (tmp_path / "am" / "final.mdl").write_bytes(b"x")
    with pytest.raises(ModelLoadError) as e:
        vosk.check_model_dir(tmp_path)
    message = str(e.value)
    assert str(tmp_path) in message
    assert "conf/mfcc.conf" in message
    assert "graph/HCLG.fst" in message
    assert "am/final.mdl" not in message


def test_vosk_model_dir_check_accepts_a_lookahead_graph(tmp_path: Path) -> None:
    """HCLr.fst + Gr.fst is as good as HCLG.fst."""
    for rel in ("am/final.mdl", "conf/mfcc.conf", "graph/HCLr.fst", "graph/Gr.fst"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    vosk.check_model_dir(tmp_path)


def test_sphinx_grammar_from_menu_phrases() -> None:
    """Phrases become lower-case word lists; the JSGF accepts exactly one of them."""
    words = sphinx.grammar_words(["Yes", "Anti-social behaviour", "9 9 9", "Repeat!"])
    assert words == [["yes"], ["anti", "social", "behaviour"], ["repeat"]]
    assert "public <answer> = yes | anti social behaviour | repeat ;" in sphinx.jsgf(words)
