"""Audio for tests and phones: make tones and beeps, read WAVs, measure tones (numpy).

Recordings from rig phones are 8 kHz mono 16-bit WAV; :func:`band_energy_ratio` and
:func:`dominant_frequency` are what tests use to check that a tone got through. File checks
that need no numpy live in :mod:`sip_test_rig.wavfile` (the worker imports only those).
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt

from sip_test_rig.errors import ScriptError
from sip_test_rig.wavfile import (
    RIG_RATE,
    check_playable,
    wav_duration_s,
    wav_is_complete,
    write_tone_wav,
)

__all__ = [
    "band_energy_ratio",
    "check_playable",
    "dominant_frequency",
    "read_wav",
    "rms",
    "wav_duration_s",
    "wav_is_complete",
    "write_tone_wav",
    "write_wav",
]


def write_wav(path: Path, signal: npt.NDArray[np.floating], rate: int = RIG_RATE) -> Path:
    """Write floats in [-1, 1] as 16-bit PCM mono WAV."""
    pcm = (np.clip(signal, -1.0, 1.0) * 32767).astype("<i2")
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return path


def read_wav(path: Path) -> tuple[npt.NDArray[np.float64], int]:
    """Samples of a 16-bit mono WAV as floats in [-1, 1], and its sample rate."""
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2 or w.getnchannels() != 1:
            raise ScriptError(f"{path}: expected 16-bit mono WAV")
        rate = w.getframerate()
        frames = w.readframes(w.getnframes())
    return np.frombuffer(frames, dtype="<i2").astype(np.float64) / 32768.0, rate


def band_energy_ratio(
    samples: npt.NDArray[np.float64], rate: int, hz: float, *, width_hz: float = 30.0
) -> float:
    """Share of the signal's energy within ``hz`` ± ``width_hz`` (0..1; 0 for silence)."""
    if samples.size == 0:
        return 0.0
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.size))) ** 2
    freqs = np.fft.rfftfreq(samples.size, 1.0 / rate)
    total = float(spectrum[freqs > 20].sum())  # ignore DC and rumble
    if total <= 0:
        return 0.0
    band = float(spectrum[np.abs(freqs - hz) <= width_hz].sum())
    return band / total


def dominant_frequency(samples: npt.NDArray[np.float64], rate: int) -> float:
    """The strongest frequency above 20 Hz in ``samples``."""
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.size)))
    freqs = np.fft.rfftfreq(samples.size, 1.0 / rate)
    spectrum[freqs <= 20] = 0
    return float(freqs[int(np.argmax(spectrum))])


def rms(samples: npt.NDArray[np.float64]) -> float:
    """Root-mean-square level (0 for an empty array)."""
    return float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0
