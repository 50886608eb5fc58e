"""WAV file checks the phones need, with the standard library only.

pjsua2's player takes 16-bit PCM mono WAV; the rig's conference bridge runs at 8 kHz, so
8 kHz (or 16 kHz, resampled by pjmedia) files are what a phone plays. Worker processes
import this module and not :mod:`sip_test_rig.audio`, whose numpy import would add about
0.2 s to every worker's start.
"""

from __future__ import annotations

import math
import sys
import wave
from array import array
from pathlib import Path

from sip_test_rig.errors import ScriptError

RIG_RATE = 8000
PLAYABLE_RATES = (8000, 16000)


def write_tone_wav(
    path: Path, hz: float, seconds: float, *, rate: int = RIG_RATE, level: float = 0.5
) -> Path:
    """Write a sine tone of ``hz`` for ``seconds`` as 16-bit PCM mono WAV at ``rate``.

    The first and last 10 ms fade in and out so the tone does not click (a click spreads
    energy across the band and would blur the FFT checks of recordings).
    """
    n = round(seconds * rate)
    ramp = min(n // 2, round(0.01 * rate))
    pcm = array("h", bytes(2 * n))
    for i in range(n):
        fade = min(1.0, (i + 1) / ramp, (n - i) / ramp) if ramp else 1.0
        pcm[i] = round(32767 * level * fade * math.sin(2 * math.pi * hz * i / rate))
    if sys.byteorder == "big":
        pcm.byteswap()  # WAV is little-endian
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return path


def wav_is_complete(path: Path) -> bool:
    """True once a WAV's RIFF header covers the whole file.

    pjmedia's writer buffers samples and fills in the header sizes only when the recorder
    is destroyed, which pjsua2 2.15 does asynchronously in the conference clock thread.
    """
    try:
        with path.open("rb") as f:
            header = f.read(12)
            size = f.seek(0, 2)
    except OSError:
        return False
    if len(header) < 12 or header[:4] != b"RIFF" or header[8:12] != b"WAVE":
        return False
    return int.from_bytes(header[4:8], "little") == size - 8


def wav_duration_s(path: Path) -> float:
    """Length of a WAV file in seconds."""
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / w.getframerate()


def check_playable(path: Path) -> float:
    """Raise :class:`ScriptError` unless pjsua2 can play ``path`` well; return its length.

    pjsua2 plays any rate, but other rates than 8/16 kHz are resampled badly enough to spoil
    tone and speech tests, so they are refused here with a clear message.
    """
    try:
        with wave.open(str(path), "rb") as w:
            fmt = (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getcomptype())
            seconds = w.getnframes() / w.getframerate()
    except FileNotFoundError:
        raise ScriptError(f"WAV file not found: {path}") from None
    except (wave.Error, EOFError) as e:
        raise ScriptError(f"{path} is not a WAV file pjsua2 can play: {e}") from None
    channels, width, rate, comp = fmt
    if channels != 1 or width != 2 or comp != "NONE" or rate not in PLAYABLE_RATES:
        raise ScriptError(
            f"{path}: need 16-bit PCM mono at 8 or 16 kHz, got {channels} channel(s), "
            f"{8 * width}-bit, {rate} Hz"
        )
    return seconds
