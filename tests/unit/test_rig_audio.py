"""The rig's WAV helpers: tones, playability checks, tone detection."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from sip_test_rig.audio import (
    band_energy_ratio,
    check_playable,
    dominant_frequency,
    read_wav,
    rms,
    wav_is_complete,
    write_tone_wav,
    write_wav,
)
from sip_test_rig.errors import ScriptError


def test_a_written_tone_is_found_at_its_frequency(tmp_path: Path) -> None:
    """A 440 Hz tone file reads back as 8 kHz audio whose energy sits at 440 Hz."""
    path = write_tone_wav(tmp_path / "tone.wav", 440, 1.0)
    samples, rate = read_wav(path)
    assert rate == 8000 and samples.size == 8000
    assert abs(dominant_frequency(samples, rate) - 440) < 5
    assert band_energy_ratio(samples, rate, 440) > 0.95
    assert band_energy_ratio(samples, rate, 1000) < 0.01


def test_silence_has_no_tone() -> None:
    """Silence has zero level and no energy in any band."""
    silence = np.zeros(8000)
    assert rms(silence) == 0.0
    assert band_energy_ratio(silence, 8000, 440) == 0.0


def test_playable_wavs_report_their_length(tmp_path: Path) -> None:
    """8 and 16 kHz 16-bit mono files are playable; their length comes back in seconds."""
    assert check_playable(write_tone_wav(tmp_path / "a.wav", 440, 0.5)) == pytest.approx(0.5)
    assert check_playable(write_tone_wav(tmp_path / "b.wav", 440, 0.25, rate=16000)) == 0.25


def test_unplayable_wavs_are_refused_with_the_reason(tmp_path: Path) -> None:
    """Missing files, non-WAVs, wrong rates and stereo are refused before a call uses them."""
    with pytest.raises(ScriptError, match="not found"):
        check_playable(tmp_path / "missing.wav")
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"hello")
    with pytest.raises(ScriptError, match="not a WAV"):
        check_playable(junk)
    with pytest.raises(ScriptError, match="44100 Hz"):
        check_playable(write_wav(tmp_path / "cd.wav", np.zeros(100), 44100))
    stereo = tmp_path / "stereo.wav"
    with wave.open(str(stereo), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * 200)
    with pytest.raises(ScriptError, match="2 channel"):
        check_playable(stereo)


def test_a_wav_is_complete_only_once_its_header_covers_the_file(tmp_path: Path) -> None:
    """A header still saying 'no data' (pjmedia before it closes the file) is incomplete."""
    path = write_tone_wav(tmp_path / "t.wav", 440, 0.1)
    assert wav_is_complete(path)
    data = bytearray(path.read_bytes())
    data[4:8] = (36).to_bytes(4, "little")  # what the header says before the writer closes
    path.write_bytes(bytes(data))
    assert not wav_is_complete(path)
    assert not wav_is_complete(tmp_path / "missing.wav")
