"""Spoken audio for simulated callers: sentences synthesized once with Piper, cached.

Rig phones in the demo, tests and benchmarks play these into calls (a member saying
"Hello?", a caller describing what happened, an answering machine's greeting). 8 kHz mono
16-bit by default, as a phone line carries.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import numpy as np

from ivr.config import default_cache_dir
from ivr.speech.audio import Audio, resample, write_wav
from ivr.speech.tts.engine import EngineChain, TtsSettings, make_chain

CACHE = default_cache_dir() / "spoken"


@functools.cache
def _chain() -> EngineChain:
    return make_chain(TtsSettings(engines=("piper",)))


def spoken_wav(text: str, *, rate: int = 8000, pad_s: float = 0.3) -> Path:
    """A WAV of ``text`` spoken (cached by text); silence padding before and after."""
    key = hashlib.sha256(f"{text}|{rate}|{pad_s}".encode()).hexdigest()[:16]
    path = CACHE / f"{key}.wav"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        _, spoken = _chain().synthesize(text)
        audio = resample(spoken, rate)
        pad = Audio.silence(pad_s, rate).samples
        write_wav(path, Audio(np.concatenate([pad, audio.samples, pad]), rate))
    return path


def silence_wav(seconds: float, *, rate: int = 8000) -> Path:
    path = CACHE / f"silence-{seconds}-{rate}.wav"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        write_wav(path, Audio.silence(seconds, rate))
    return path
