"""The shared audio path: the Audio value, G.711 µ-law, WAV files, resampling, levels."""

from __future__ import annotations

import math
import struct
from pathlib import Path

import numpy as np
import pytest

from ivr.errors import AudioFormatError
from ivr.speech.audio import (
    Audio,
    frames,
    is_silent,
    normalise_loudness,
    phone_line,
    read_wav,
    resample,
    rms_dbfs,
    trim_silence,
    ulaw_decode,
    ulaw_encode,
    wav_bytes,
    write_wav,
)

# ITU-T G.711 µ-law decoding, 16-bit scaling (the table in Sun's g711.c and audioop),
# codes 0x00..0x7F. Codes 0x80..0xFF are the same magnitudes, positive.
ULAW_NEGATIVE_HALF = [
    -32124, -31100, -30076, -29052, -28028, -27004, -25980, -24956,
    -23932, -22908, -21884, -20860, -19836, -18812, -17788, -16764,
    -15996, -15484, -14972, -14460, -13948, -13436, -12924, -12412,
    -11900, -11388, -10876, -10364, -9852, -9340, -8828, -8316,
    -7932, -7676, -7420, -7164, -6908, -6652, -6396, -6140,
    -5884, -5628, -5372, -5116, -4860, -4604, -4348, -4092,
    -3900, -3772, -3644, -3516, -3388, -3260, -3132, -3004,
    -2876, -2748, -2620, -2492, -2364, -2236, -2108, -1980,
    -1884, -1820, -1756, -1692, -1628, -1564, -1500, -1436,
    -1372, -1308, -1244, -1180, -1116, -1052, -988, -924,
    -876, -844, -812, -780, -748, -716, -684, -652,
    -620, -588, -556, -524, -492, -460, -428, -396,
    -372, -356, -340, -324, -308, -292, -276, -260,
    -244, -228, -212, -196, -180, -164, -148, -132,
    -120, -112, -104, -96, -88, -80, -72, -64,
    -56, -48, -40, -32, -24, -16, -8, 0,
]  # fmt: skip
ULAW_TABLE = ULAW_NEGATIVE_HALF + [-v for v in ULAW_NEGATIVE_HALF]


def tone(freq: float = 440.0, seconds: float = 1.0, rate: int = 16000, amp: float = 0.5) -> Audio:
    t = np.arange(round(seconds * rate)) / rate
    return Audio.from_float(amp * np.sin(2 * np.pi * freq * t), rate)


def wav_header(*, tag: int = 1, channels: int = 1, rate: int = 8000, bits: int = 16) -> bytes:
    block = channels * bits // 8
    return b"fmt " + struct.pack("<IHHIIHH", 16, tag, channels, rate, rate * block, block, bits)


def riff(*chunks: bytes) -> bytes:
    body = b"WAVE" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def data_chunk(payload: bytes, declared: int | None = None) -> bytes:
    return b"data" + struct.pack("<I", len(payload) if declared is None else declared) + payload


# --- µ-law ---------------------------------------------------------------------------------


def test_every_ulaw_code_decodes_to_the_itu_value() -> None:
    """All 256 codes decode to the G.711 table values."""
    assert ulaw_decode(bytes(range(256))).tolist() == ULAW_TABLE


def test_ulaw_encode_splits_segments_at_the_g711_decision_levels() -> None:
    """Magnitudes 2**(e+7) - 132 start segment e: the code steps there, not one sample off."""
    for segment in range(1, 8):
        boundary = 2 ** (segment + 7) - 132
        below, at = ulaw_encode(np.array([boundary - 1, boundary], dtype=np.int16))
        assert below == (~((segment - 1) << 4 | 0x0F)) & 0xFF
        assert at == (~(segment << 4)) & 0xFF


def test_ulaw_encode_is_sign_symmetric_and_clips_at_full_scale() -> None:
    """Negative samples get the sign bit cleared; extremes clip to the outermost codes."""
    codes = ulaw_encode(np.array([0, 32767, -32768, 1000, -1000], dtype=np.int16))
    assert codes[0] == 0xFF
    assert codes[1] == 0x80
    assert codes[2] == 0x00
    assert codes[3] ^ codes[4] == 0x80


def test_ulaw_decoded_values_encode_back_to_their_own_code() -> None:
    """Each table value is a fixed point of encode (both zeros map to the positive zero)."""
    decoded = ulaw_decode(bytes(range(256)))
    again = ulaw_encode(decoded)
    expected = bytes(0xFF if c == 0x7F else c for c in range(256))
    assert again == expected


def test_ulaw_round_trip_error_is_at_most_half_a_quantisation_step() -> None:
    """Over every int16 value the error is within half the step of its segment."""
    x = np.arange(-32768, 32768, dtype=np.int32)
    y = ulaw_decode(ulaw_encode(x.astype(np.int16))).astype(np.int32)
    magnitude = np.minimum(np.abs(x), 32635) + 132
    segment = np.frexp(magnitude)[1] - 8
    half_step = 4 << segment
    clipped_extra = np.maximum(np.abs(x) - 32635, 0)
    assert np.all(np.abs(y - x) <= half_step + clipped_extra)


# --- Audio value ---------------------------------------------------------------------------


def test_audio_samples_are_read_only_and_validated() -> None:
    """An Audio cannot be changed after creation and refuses non-int16 or 2-D samples."""
    a = Audio(np.zeros(10, dtype=np.int16), 8000)
    with pytest.raises(ValueError):
        a.samples[0] = 1
    with pytest.raises(AudioFormatError):
        Audio(np.zeros(10, dtype=np.float32), 8000)  # type: ignore[arg-type]
    with pytest.raises(AudioFormatError):
        Audio(np.zeros((2, 10), dtype=np.int16), 8000)
    with pytest.raises(AudioFormatError):
        Audio(np.zeros(10, dtype=np.int16), 0)


def test_from_float_clips_instead_of_wrapping() -> None:
    """Values beyond full scale clip to the int16 limits."""
    assert Audio.from_float([2.0, -2.0], 8000).samples.tolist() == [32767, -32768]


def test_frames_split_pcm_into_rtp_sized_chunks() -> None:
    """One second at 8 kHz gives fifty 20 ms frames of 320 bytes."""
    chunks = frames(Audio.silence(1.0, 8000), 20)
    assert len(chunks) == 50
    assert {len(c) for c in chunks} == {320}


# --- WAV -----------------------------------------------------------------------------------


def test_wav_round_trips_through_a_file(tmp_path: Path) -> None:
    """write_wav then read_wav gives the same samples and rate, and leaves no temp file."""
    a = tone(rate=8000, seconds=0.3)
    write_wav(tmp_path / "x.wav", a)
    b = read_wav(tmp_path / "x.wav")
    assert b.rate == 8000
    assert np.array_equal(a.samples, b.samples)
    assert [p.name for p in tmp_path.iterdir()] == ["x.wav"]


def test_stereo_wav_is_downmixed_to_mono() -> None:
    """Two channels are averaged into one."""
    pcm = np.array([100, 300, -100, -300], dtype="<i2").tobytes()
    a = read_wav(riff(wav_header(channels=2), data_chunk(pcm)))
    assert a.samples.tolist() == [200, -200]


def test_ulaw_wav_is_decoded() -> None:
    """A µ-law WAV (format tag 7), as Asterisk can record, is read as PCM."""
    a = read_wav(riff(wav_header(tag=7, bits=8), data_chunk(bytes([0x00, 0xFF, 0x80]))))
    assert a.samples.tolist() == [-32124, 0, 32124]


def test_unknown_chunks_before_data_are_skipped() -> None:
    """LIST/INFO chunks (odd-sized ones padded to a word) do not hide the audio."""
    pcm = np.array([1, 2, 3], dtype="<i2").tobytes()
    a = read_wav(riff(wav_header(), b"LIST" + struct.pack("<I", 3) + b"abc\x00", data_chunk(pcm)))
    assert a.samples.tolist() == [1, 2, 3]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"ID3\x03\x00" + bytes(100), "not a WAV"),
        (riff(wav_header()), "no data chunk"),
        (riff(wav_header(), data_chunk(b"")), "0 s"),
        (riff(wav_header(), data_chunk(b"\x00" * 100, declared=16000)), "truncated"),
        (riff(wav_header(bits=24), data_chunk(b"\x00" * 6)), "unsupported encoding"),
        (riff(wav_header(tag=3, bits=32), data_chunk(b"\x00" * 8)), "unsupported encoding"),
        (b"RIFF\x04\x00\x00\x00WAVEfmt ", "no fmt chunk"),
    ],
    ids=["empty", "mp3", "no-data", "zero-samples", "truncated", "pcm24", "float", "cut-header"],
)
def test_bad_wav_input_raises_a_clear_audio_format_error(data: bytes, message: str) -> None:
    """Each kind of unusable file names its problem in the error."""
    with pytest.raises(AudioFormatError, match=message):
        read_wav(data)


def test_missing_file_is_an_audio_format_error_naming_the_path(tmp_path: Path) -> None:
    """A path that cannot be opened is reported with the path, not as a bare OSError."""
    with pytest.raises(AudioFormatError, match=r"nope\.wav"):
        read_wav(tmp_path / "nope.wav")


def test_wav_bytes_has_a_standard_44_byte_header() -> None:
    """The header is the plain PCM one every player and Asterisk accept."""
    data = wav_bytes(Audio(np.zeros(8, dtype=np.int16), 8000))
    assert len(data) == 44 + 16
    assert data[:4] == b"RIFF"
    assert data[20:24] == struct.pack("<HH", 1, 1)


# --- resampling and levels -----------------------------------------------------------------


@pytest.mark.parametrize(("src", "dst"), [(22050, 8000), (8000, 16000), (16000, 8000)])
def test_resample_keeps_duration_and_level_of_an_in_band_tone(src: int, dst: int) -> None:
    """A 440 Hz tone keeps its length (to a sample) and its RMS level (to 0.1 dB)."""
    a = tone(rate=src)
    b = resample(a, dst)
    assert b.rate == dst
    assert abs(len(b) - dst) <= 1
    assert rms_dbfs(b) == pytest.approx(rms_dbfs(a), abs=0.1)


def test_resample_removes_content_above_the_new_nyquist() -> None:
    """A 6 kHz tone cannot survive at 8 kHz: it is filtered out, not aliased to 2 kHz.

    Only the steady state is measured; the tone's abrupt start and end ring briefly.
    """
    out = resample(tone(6000, rate=22050), 8000)
    assert rms_dbfs(Audio(out.samples[800:-800], 8000)) < -90


def test_resample_to_the_same_rate_returns_the_input() -> None:
    a = tone(rate=8000)
    assert resample(a, 8000) is a


def test_rms_dbfs_of_a_full_scale_sine_is_minus_three() -> None:
    """The dBFS reference is a full-scale square wave, so a full-scale sine reads -3 dB."""
    assert rms_dbfs(tone(amp=1.0)) == pytest.approx(-3.01, abs=0.05)
    assert rms_dbfs(Audio.silence(1, 8000)) == -math.inf


def test_trim_silence_keeps_the_sound_plus_padding() -> None:
    """One second of silence either side of a half-second tone trims to the tone +/- 100 ms."""
    quiet = Audio.silence(1.0, 8000).samples
    a = Audio(np.concatenate([quiet, tone(rate=8000, seconds=0.5).samples, quiet]), 8000)
    t = trim_silence(a)
    assert t.duration_s == pytest.approx(0.7, abs=0.011)


def test_trim_silence_of_pure_silence_is_empty_and_is_silent() -> None:
    """Nothing above the threshold: trim gives no samples and is_silent says so."""
    s = Audio.silence(2.0, 8000)
    assert len(trim_silence(s)) == 0
    assert is_silent(s)
    assert not is_silent(tone(rate=8000))


def test_normalise_loudness_reaches_the_target_without_clipping() -> None:
    """A quiet tone is lifted to -20 dBFS; a peaky signal is limited to -1 dBFS peak instead."""
    assert rms_dbfs(normalise_loudness(tone(amp=0.01))) == pytest.approx(-20, abs=0.1)
    click = np.zeros(8000, dtype=np.int16)
    click[100] = 1000
    peak = np.abs(normalise_loudness(Audio(click, 8000)).samples.astype(int)).max()
    assert 32768 * 10 ** (-1.1 / 20) < peak <= 32768 * 10 ** (-1 / 20) + 1  # rounding


def test_phone_line_is_8khz_reproducible_and_noisy_at_the_given_snr() -> None:
    """Same seed, same output; the added noise sits about snr_db below the signal."""
    a = tone(rate=22050, amp=0.3)
    one, two = phone_line(a, snr_db=20, seed=7), phone_line(a, snr_db=20, seed=7)
    assert one.rate == 8000
    assert np.array_equal(one.samples, two.samples)
    clean = resample(a, 8000).samples.astype(float)
    noise = one.samples.astype(float) - clean
    snr = 10 * np.log10(np.mean(clean**2) / np.mean(noise**2))
    assert 18 < snr < 21  # µ-law quantisation adds a little noise of its own


def test_pcm16_bytes_round_trip_and_odd_lengths_are_refused() -> None:
    """Asterisk's slin is little-endian int16; half a sample is a format error."""
    a = Audio(np.array([1, -2, 32767], dtype=np.int16), 8000)
    assert np.array_equal(Audio.from_pcm16(a.pcm16(), 8000).samples, a.samples)
    with pytest.raises(AudioFormatError, match="odd length"):
        Audio.from_pcm16(b"\x00\x01\x02", 8000)
