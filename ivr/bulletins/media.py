"""Bulletin audio: check it, make it phone-ready once, keep it, and let Asterisk play it.

Any WAV a coordinator supplies is converted on the way in to what the phone path needs:
8 kHz mono 16-bit PCM, silence trimmed, loudness normalised. Our copy is the one kept
(``<data_dir>/bulletins/<id>.wav``). Another copy goes into Asterisk's sounds folder so
Asterisk can play it as ``sound:watchline/bulletins/<id>``.

Bad input gets a clear error before anything is stored: not a file, not audio, empty,
silent, too long, too big.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from ivr.errors import AudioFormatError, InputError
from ivr.speech.audio import (
    Audio,
    is_silent,
    normalise_loudness,
    read_wav,
    resample,
    trim_silence,
    write_wav,
)

PHONE_RATE = 8000
MAX_BYTES = 50 * 1024 * 1024
MAX_SECONDS = 300.0
MIN_SECONDS = 0.5


@dataclass(frozen=True)
class PreparedAudio:
    audio: Audio

    @property
    def duration_s(self) -> float:
        return len(self.audio.samples) / self.audio.rate


def prepare(source: Path | bytes, *, max_seconds: float = MAX_SECONDS) -> PreparedAudio:
    """Validate and convert; raises InputError with a reason a coordinator can act on."""
    if isinstance(source, Path):
        if not source.is_file():
            raise InputError(f"audio file {source} not found")
        if source.stat().st_size > MAX_BYTES:
            raise InputError(f"audio file {source} is over {MAX_BYTES // 2**20} MB")
    elif len(source) > MAX_BYTES:
        raise InputError(f"audio is over {MAX_BYTES // 2**20} MB")
    try:
        audio = read_wav(source)
    except AudioFormatError as e:
        raise InputError(f"not usable audio: {e} (a WAV file is needed)") from e
    seconds = len(audio.samples) / audio.rate
    if seconds > max_seconds:
        raise InputError(f"the bulletin is {seconds:.0f} s long; the limit is {max_seconds:.0f} s")
    phone = resample(audio, PHONE_RATE) if audio.rate != PHONE_RATE else audio
    if is_silent(phone):
        raise InputError("the audio is silent")
    phone = normalise_loudness(trim_silence(phone))
    if len(phone.samples) / PHONE_RATE < MIN_SECONDS:
        raise InputError("the audio is too short to be a bulletin")
    return PreparedAudio(phone)


def store(prepared: PreparedAudio, data_dir: Path, bulletin_id: int) -> Path:
    """Write our copy atomically; returns its path."""
    folder = data_dir / "bulletins"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{bulletin_id}.wav"
    tmp = path.with_suffix(".tmp")
    write_wav(tmp, prepared.audio)
    tmp.replace(path)
    return path


def install(path: Path, sounds_dir: Path, bulletin_id: int) -> str:
    """Copy into Asterisk's sounds folder; returns the media URI to play it with."""
    folder = sounds_dir / "bulletins"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{bulletin_id}.wav"
    tmp = target.with_suffix(".tmp")
    shutil.copyfile(path, tmp)
    tmp.replace(target)
    return media_uri(bulletin_id)


def media_uri(bulletin_id: int) -> str:
    return f"sound:watchline/bulletins/{bulletin_id}"
