"""TTS engines behind one port, and the chain that falls back when one cannot run here.

Piper and espeak-ng run for real (both are local and take well under a second); gTTS is
only ever tested offline, against a refused loopback port, so no test touches the network.
"""

from __future__ import annotations

import io
import socket
import time
from pathlib import Path

import numpy as np
import pytest

from ivr.errors import ConfigError, SpeechError, TtsEngineUnavailable
from ivr.speech.audio import Audio, rms_dbfs
from ivr.speech.tts import EngineChain, TtsEngine, TtsSettings, make_chain, make_engine
from ivr.speech.tts.espeak import EspeakEngine
from ivr.speech.tts.fake import FakeTtsEngine
from ivr.speech.tts.gtts import GttsEngine, decode_mp3
from ivr.speech.tts.piper import PiperEngine


def _refused_port() -> int:
    """A loopback port nobody listens on: bound, then released."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


class Failing(FakeTtsEngine):
    def synthesize(self, text: str) -> Audio:
        raise SpeechError("engine crashed on this text")


# --- the chain ----------------------------------------------------------------------------


def test_the_chain_uses_the_first_engine_that_can_run() -> None:
    """An unavailable engine is skipped, and the reason is kept for the build report."""
    offline = FakeTtsEngine("first", unavailable="no model here")
    second = FakeTtsEngine("second")
    chain = EngineChain([offline, second])
    engine, audio = chain.synthesize("Hello there.")
    assert engine is second and len(audio) > 0
    assert chain.unavailable == {"first": "no model here"}
    assert [e.name for e in chain.candidates()] == ["second"]


def test_the_chain_names_every_reason_when_no_engine_can_run() -> None:
    chain = EngineChain(
        [FakeTtsEngine("a", unavailable="why a"), FakeTtsEngine("b", unavailable="why b")]
    )
    with pytest.raises(TtsEngineUnavailable, match="a: why a; b: why b"):
        chain.synthesize("Hello.")


def test_an_engine_failing_on_the_text_is_not_hidden_by_a_fallback() -> None:
    """Only 'cannot run here' falls back; a real failure surfaces so it gets fixed."""
    second = FakeTtsEngine("second")
    with pytest.raises(SpeechError, match="crashed"):
        EngineChain([Failing("first"), second]).synthesize("Hello.")
    assert second.calls == []


def test_engines_are_chosen_by_name_in_the_configured_order() -> None:
    chain = make_chain(TtsSettings(engines=("gtts", "espeak", "piper")))
    assert [e.name for e in chain.engines] == ["gtts", "espeak", "piper"]
    assert all(isinstance(e, TtsEngine) for e in chain.engines)


def test_unknown_or_missing_engine_names_are_configuration_errors() -> None:
    with pytest.raises(ConfigError, match="unknown TTS engine 'festival'"):
        make_engine("festival", TtsSettings())
    with pytest.raises(ConfigError):
        make_chain(TtsSettings(engines=()))


# --- gTTS, offline only -------------------------------------------------------------------


def test_gtts_offline_is_unavailable_quickly_with_a_clear_reason() -> None:
    """A refused connect probe means 'no internet': no HTTP request is attempted."""
    engine = GttsEngine(probe_host="127.0.0.1", probe_port=_refused_port(), probe_timeout_s=1.0)
    started = time.perf_counter()
    with pytest.raises(TtsEngineUnavailable, match=r"gTTS needs the internet and 127\.0\.0\.1:"):
        engine.synthesize("Hello.")
    assert time.perf_counter() - started < 1.0
    assert engine.probe() is not None


def test_the_chain_falls_back_from_offline_gtts_to_the_next_engine() -> None:
    gtts = GttsEngine(probe_host="127.0.0.1", probe_port=_refused_port(), probe_timeout_s=1.0)
    local = FakeTtsEngine("local")
    engine, _ = EngineChain([gtts, local]).synthesize("Hello.")
    assert engine is local


def test_gtts_mp3_is_decoded_to_mono_at_its_own_rate() -> None:
    """gTTS returns MP3; it is decoded without resampling (the builder resamples once)."""
    import av

    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp3") as container:
        stream = container.add_stream("libmp3lame", rate=24000)
        stream.layout = "mono"
        stream.format = "fltp"
        tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(24000) / 24000)).astype(np.float32)
        frame = av.AudioFrame.from_ndarray(tone.reshape(1, -1), format="fltp", layout="mono")
        frame.sample_rate = 24000
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    audio = decode_mp3(buffer.getvalue())
    assert audio.rate == 24000
    assert abs(audio.duration_s - 1.0) < 0.1
    assert rms_dbfs(audio) == pytest.approx(20 * np.log10(0.3 / np.sqrt(2)), abs=1.0)


# --- the local engines, for real ------------------------------------------------------------


@pytest.fixture(scope="module")
def piper() -> PiperEngine:
    return PiperEngine()


def test_piper_speaks_at_its_native_rate(piper: PiperEngine) -> None:
    audio = piper.synthesize("Here is the bulletin.")
    assert audio.rate == 22050
    assert 0.5 < audio.duration_s < 3.0
    assert rms_dbfs(audio) > -30


def test_piper_pauses_between_sentences_and_slows_with_length_scale(piper: PiperEngine) -> None:
    """The pause setting widens the gap between sentences; length_scale slows the speech.

    Piper's output varies a little per synthesis (its noise is drawn inside the model, and
    phoneme durations move by up to a fifth), so the pause is measured as the longest silence
    inside the prompt, and the slowing as the span from first to last sound at double the
    default length_scale, a margin the noise cannot close.
    """
    text = "Thank you. Goodbye."
    base = piper.synthesize(text)
    paused = PiperEngine(sentence_pause_ms=800).synthesize(text)
    slower = PiperEngine(length_scale=2.2, sentence_pause_ms=300).synthesize(text)
    # 800 ms against the default 300 ms: the gap grows by about half a second
    assert _longest_inner_silence_s(paused) >= _longest_inner_silence_s(base) + 0.4
    assert _sounding_span_s(slower) > _sounding_span_s(base) * 1.35


def _frame_levels(audio: Audio, frame_ms: int = 10) -> list[bool]:
    step = audio.rate * frame_ms // 1000
    samples = audio.samples.astype(np.float64)
    levels = [np.sqrt(np.mean(samples[i : i + step] ** 2)) for i in range(0, len(samples), step)]
    return [lvl > 300 for lvl in levels]


def _sounding_span_s(audio: Audio, frame_ms: int = 10) -> float:
    """Seconds from the first loud frame to the last: the speech without its lead and tail."""
    loud = _frame_levels(audio, frame_ms)
    first, last = loud.index(True), len(loud) - 1 - loud[::-1].index(True)
    return (last - first + 1) * frame_ms / 1000


def _longest_inner_silence_s(audio: Audio, frame_ms: int = 10) -> float:
    """The longest run of quiet frames between the first and last loud ones."""
    loud = _frame_levels(audio, frame_ms)
    first, last = loud.index(True), len(loud) - 1 - loud[::-1].index(True)
    longest = run = 0
    for is_loud in loud[first : last + 1]:
        run = 0 if is_loud else run + 1
        longest = max(longest, run)
    return longest * frame_ms / 1000


def test_piper_cache_key_changes_with_pace_but_not_with_loading(piper: PiperEngine) -> None:
    """The key is cheap (no model load) and covers every setting that changes the audio."""
    fresh = PiperEngine()
    assert fresh.cache_key_parts() == piper.cache_key_parts()
    assert PiperEngine(length_scale=1.2).cache_key_parts() != fresh.cache_key_parts()


def test_piper_with_missing_voice_files_is_unavailable(tmp_path: Path) -> None:
    engine = PiperEngine(model_path=tmp_path / "absent.onnx")
    with pytest.raises(TtsEngineUnavailable, match="voice files missing"):
        engine.synthesize("Hello.")


def test_espeak_speaks_at_its_native_rate() -> None:
    audio = EspeakEngine().synthesize("-1 is not an option to espeak.")
    assert audio.rate == 22050 and audio.duration_s > 0.5


def test_espeak_slower_rate_gives_longer_audio() -> None:
    text = "To hear these choices again, press star."
    fast = EspeakEngine(words_per_minute=175).synthesize(text).duration_s
    slow = EspeakEngine(words_per_minute=120).synthesize(text).duration_s
    assert slow > fast * 1.2


def test_espeak_not_installed_is_unavailable() -> None:
    with pytest.raises(TtsEngineUnavailable, match="not installed"):
        EspeakEngine(binary="watchline-no-such-espeak").synthesize("Hello.")


@pytest.mark.parametrize("engine", [FakeTtsEngine(), EspeakEngine()], ids=["fake", "espeak"])
def test_empty_text_is_an_error_not_silence(engine: TtsEngine) -> None:
    with pytest.raises(SpeechError, match="empty"):
        engine.synthesize("   ")
