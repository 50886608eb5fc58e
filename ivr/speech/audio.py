"""Audio values and the pure functions every speech module shares.

One audio path (ARCHITECTURE "Lessons from peers"): Asterisk hands us 8 kHz signed-linear
audio, TTS hands us 22.05 kHz, engines want 16 kHz. Everything is an :class:`Audio` (mono
int16 samples plus their rate) and every rate change goes through :func:`resample`, the one
tested resampler. No ``audioop`` (removed in Python 3.13): the G.711 µ-law codec is numpy.

Files and bytes are checked at the boundary (:func:`read_wav`) and anything we cannot use
becomes :class:`~ivr.errors.AudioFormatError` with a sentence saying what was wrong.
"""

from __future__ import annotations

import io
import math
import os
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import soxr

from ivr.errors import AudioFormatError

Int16Array = npt.NDArray[np.int16]
Float32Array = npt.NDArray[np.float32]

#: Silence detection works on frames this long: short enough to keep a word's edges.
FRAME_MS: Final = 10


@dataclass(frozen=True, eq=False)
class Audio:
    """Mono 16-bit PCM samples and their sample rate.

    The samples are made read-only so a shared ``Audio`` can never be changed under a reader
    (the TTS cache, the transcription pool and a flow may hold the same one).
    """

    samples: Int16Array
    rate: int

    def __post_init__(self) -> None:
        if self.rate <= 0:
            raise AudioFormatError(f"sample rate must be positive, got {self.rate}")
        s = np.asarray(self.samples)
        if s.dtype != np.int16 or s.ndim != 1:
            raise AudioFormatError(f"samples must be 1-D int16, got {s.ndim}-D {s.dtype}")
        if s.flags.writeable:
            s = s.copy()
            s.flags.writeable = False
        object.__setattr__(self, "samples", s)

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.rate

    def __len__(self) -> int:
        return len(self.samples)

    def __repr__(self) -> str:
        return f"Audio({len(self.samples)} samples, {self.rate} Hz, {self.duration_s:.2f} s)"

    @classmethod
    def silence(cls, duration_s: float, rate: int) -> Audio:
        return cls(np.zeros(round(duration_s * rate), dtype=np.int16), rate)

    @classmethod
    def from_float(cls, samples: npt.ArrayLike, rate: int) -> Audio:
        """From floats in [-1, 1]; values beyond are clipped rather than wrapped."""
        f = np.clip(np.asarray(samples, dtype=np.float64) * 32768.0, -32768, 32767)
        return cls(np.round(f).astype(np.int16), rate)

    @classmethod
    def from_pcm16(cls, data: bytes, rate: int) -> Audio:
        """From raw little-endian signed 16-bit bytes (Asterisk's ``slin``)."""
        if len(data) % 2:
            raise AudioFormatError(f"PCM16 data has an odd length ({len(data)} bytes)")
        return cls(np.frombuffer(data, dtype="<i2").astype(np.int16), rate)

    def to_float32(self) -> Float32Array:
        """Samples scaled to [-1, 1), the form faster-whisper and soxr expect."""
        return (self.samples.astype(np.float32) / np.float32(32768.0)).astype(np.float32)

    def pcm16(self) -> bytes:
        return self.samples.astype("<i2").tobytes()


# --- G.711 µ-law --------------------------------------------------------------------------

_ULAW_BIAS: Final = 0x84
_ULAW_CLIP: Final = 32635


def _ulaw_decode_table() -> Int16Array:
    code = np.arange(256, dtype=np.int32)
    u = ~code & 0xFF
    exponent = (u >> 4) & 0x07
    mantissa = u & 0x0F
    magnitude = (((mantissa << 3) + _ULAW_BIAS) << exponent) - _ULAW_BIAS
    return np.where(u & 0x80, -magnitude, magnitude).astype(np.int16)


_ULAW_TABLE: Final = _ulaw_decode_table()


def ulaw_encode(samples: Int16Array) -> bytes:
    """Encode int16 samples as G.711 µ-law, one byte per sample (sign-magnitude, so symmetric)."""
    x = np.asarray(samples).astype(np.int32)
    sign = np.where(x < 0, 0x80, 0x00)
    magnitude = np.minimum(np.abs(x), _ULAW_CLIP) + _ULAW_BIAS  # 132 .. 32767
    # The segment is the position of the highest set bit above bit 7 (0..7).
    exponent = np.frexp(magnitude)[1].astype(np.int32) - 8
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    code: npt.NDArray[np.int64] = ~(sign | (exponent << 4) | mantissa) & 0xFF
    return code.astype(np.uint8).tobytes()


def ulaw_decode(data: bytes) -> Int16Array:
    """Decode G.711 µ-law bytes to int16 samples (ITU-T G.711 table, 16-bit scaling)."""
    return _ULAW_TABLE[np.frombuffer(data, dtype=np.uint8)]


# --- WAV files ----------------------------------------------------------------------------

_FORMAT_PCM: Final = 1
_FORMAT_ULAW: Final = 7
_FORMAT_EXTENSIBLE: Final = 0xFFFE


def read_wav(source: str | os.PathLike[str] | bytes) -> Audio:
    """Read a RIFF/WAVE file (path or bytes) holding 16-bit PCM or µ-law; downmix to mono.

    Raises AudioFormatError for empty, truncated or non-WAV input, unsupported encodings and
    files with no samples; OSError for a file that cannot be opened is converted too.
    """
    if isinstance(source, bytes):
        data, name = source, "<bytes>"
    else:
        name = os.fspath(source)
        try:
            data = Path(source).read_bytes()
        except OSError as e:
            raise AudioFormatError(f"{name}: cannot read: {e.strerror or e}") from e
    try:
        return _parse_wav(data)
    except AudioFormatError as e:
        raise AudioFormatError(f"{name}: {e}") from None


def _parse_wav(data: bytes) -> Audio:
    if not data:
        raise AudioFormatError("empty file")
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise AudioFormatError("not a WAV file (no RIFF/WAVE header)")
    fmt: tuple[int, int, int, int] | None = None
    pos = 12
    while pos + 8 <= len(data):
        chunk_id, size = data[pos : pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        body = data[pos + 8 : pos + 8 + size]
        if chunk_id == b"fmt ":
            fmt = _parse_fmt(body)
        elif chunk_id == b"data":
            if fmt is None:
                raise AudioFormatError("data chunk before fmt chunk")
            if len(body) < size:
                raise AudioFormatError(
                    f"truncated: header announces {size} bytes of audio, file has {len(body)}"
                )
            return _decode_data(body, *fmt)
        pos += 8 + size + (size & 1)  # chunks are word-aligned
    if fmt is None:
        raise AudioFormatError("truncated or malformed: no fmt chunk")
    raise AudioFormatError("truncated or malformed: no data chunk")


def _parse_fmt(body: bytes) -> tuple[int, int, int, int]:
    if len(body) < 16:
        raise AudioFormatError("truncated fmt chunk")
    tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", body)
    if tag == _FORMAT_EXTENSIBLE and len(body) >= 26:
        tag = struct.unpack_from("<H", body, 24)[0]  # first two bytes of the sub-format GUID
    if channels < 1 or rate < 1:
        raise AudioFormatError(f"invalid fmt chunk ({channels} channels, {rate} Hz)")
    return tag, channels, rate, bits


def _decode_data(body: bytes, tag: int, channels: int, rate: int, bits: int) -> Audio:
    if tag == _FORMAT_PCM and bits == 16:
        usable = len(body) - len(body) % (2 * channels)
        samples = np.frombuffer(body[:usable], dtype="<i2").astype(np.int16)
    elif tag == _FORMAT_ULAW and bits == 8:
        usable = len(body) - len(body) % channels
        samples = ulaw_decode(body[:usable])
    else:
        raise AudioFormatError(
            f"unsupported encoding (format tag {tag}, {bits} bits); need 16-bit PCM or µ-law"
        )
    if samples.size == 0:
        raise AudioFormatError("no audio samples (0 s long)")
    if channels > 1:
        mixed = samples.reshape(-1, channels).astype(np.int32).mean(axis=1)
        samples = np.round(mixed).astype(np.int16)
    return Audio(samples, rate)


def wav_bytes(audio: Audio) -> bytes:
    """The audio as a 16-bit PCM mono WAV file, in memory."""
    pcm = audio.pcm16()
    header = struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF", 36 + len(pcm), b"WAVE",
        b"fmt ", 16, _FORMAT_PCM, 1, audio.rate, audio.rate * 2, 2, 16,
        b"data", len(pcm),
    )  # fmt: skip
    return header + pcm


def write_wav(path: str | os.PathLike[str], audio: Audio) -> None:
    """Write a 16-bit PCM mono WAV; atomically, so Asterisk never plays a half-written prompt."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with io.FileIO(fd, "wb") as f:
            f.write(wav_bytes(audio))
        # mkstemp makes 0600; Asterisk may run as another user and must read what we write
        Path(tmp).chmod(0o644)
        Path(tmp).replace(target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --- rate, level, silence -----------------------------------------------------------------


def resample(audio: Audio, rate: int) -> Audio:
    """Change the sample rate with soxr (high quality); the only resampler in Watchline."""
    if rate <= 0:
        raise AudioFormatError(f"target rate must be positive, got {rate}")
    if rate == audio.rate:
        return audio
    if len(audio) == 0:
        return Audio(audio.samples, rate)
    out = soxr.resample(audio.to_float32(), audio.rate, rate, quality="HQ")
    return Audio.from_float(out, rate)


def rms_dbfs(audio: Audio) -> float:
    """RMS level relative to a full-scale square wave; ``-inf`` for no samples or zeros."""
    if len(audio) == 0:
        return -math.inf
    rms = float(np.sqrt(np.mean(audio.samples.astype(np.float64) ** 2)))
    return 20 * math.log10(rms / 32768.0) if rms > 0 else -math.inf


def _frame_levels_dbfs(audio: Audio) -> npt.NDArray[np.float64]:
    n = max(1, audio.rate * FRAME_MS // 1000)
    count = len(audio) // n + (1 if len(audio) % n else 0)
    padded = np.zeros(count * n, dtype=np.float64)
    padded[: len(audio)] = audio.samples
    power = np.mean(padded.reshape(count, n) ** 2, axis=1)
    with np.errstate(divide="ignore"):
        levels: npt.NDArray[np.float64] = 10 * np.log10(power / 32768.0**2)
    return levels


def is_silent(audio: Audio, threshold_dbfs: float = -45.0) -> bool:
    """True when no 10 ms frame rises above the threshold (empty audio is silent)."""
    return len(audio) == 0 or not bool(np.any(_frame_levels_dbfs(audio) > threshold_dbfs))


def trim_silence(audio: Audio, threshold_dbfs: float = -45.0, pad_ms: int = 100) -> Audio:
    """Cut leading and trailing silence, keeping ``pad_ms`` either side so word edges survive.

    Entirely silent audio trims to zero samples (callers check :func:`is_silent` first when
    they need to tell "nothing said" from "something said").
    """
    if len(audio) == 0:
        return audio
    loud = np.flatnonzero(_frame_levels_dbfs(audio) > threshold_dbfs)
    if loud.size == 0:
        return Audio(audio.samples[:0], audio.rate)
    n = max(1, audio.rate * FRAME_MS // 1000)
    pad = audio.rate * pad_ms // 1000
    start = max(0, int(loud[0]) * n - pad)
    end = min(len(audio), (int(loud[-1]) + 1) * n + pad)
    return Audio(audio.samples[start:end], audio.rate)


def normalise_loudness(
    audio: Audio, target_dbfs: float = -20.0, peak_limit_dbfs: float = -1.0
) -> Audio:
    """Scale to an RMS of ``target_dbfs``, but never so far that the peak passes the limit."""
    level = rms_dbfs(audio)
    if not math.isfinite(level):
        return audio
    peak = int(np.max(np.abs(audio.samples.astype(np.int32))))
    gain = 10 ** ((target_dbfs - level) / 20)
    gain = min(gain, 32768.0 * 10 ** (peak_limit_dbfs / 20) / peak)
    return Audio.from_float(audio.to_float32().astype(np.float64) * gain, audio.rate)


def phone_line(audio: Audio, *, snr_db: float = 30.0, seed: int) -> Audio:
    """Simulate a telephone call: 8 kHz, white noise at ``snr_db`` below the signal, µ-law.

    The signal level is the RMS of the whole utterance. For tests and benchmarks; ``seed``
    is required so every run hears the same noise.
    """
    narrow = resample(audio, 8000)
    signal = narrow.samples.astype(np.float64)
    level = float(np.sqrt(np.mean(signal**2))) if len(narrow) else 0.0
    noise_rms = level / 10 ** (snr_db / 20)
    noisy = signal + np.random.default_rng(seed).normal(0.0, noise_rms, size=signal.shape)
    clipped = np.clip(np.round(noisy), -32768, 32767).astype(np.int16)
    return Audio(ulaw_decode(ulaw_encode(clipped)), 8000)


def frames(audio: Audio, frame_ms: int = 20) -> list[bytes]:
    """Split into PCM16 byte frames of ``frame_ms`` (the last may be shorter), as RTP sends."""
    n = audio.rate * frame_ms // 1000
    pcm = audio.pcm16()
    return [pcm[i : i + 2 * n] for i in range(0, len(pcm), 2 * n)]
