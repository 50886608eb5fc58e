"""Speech for simulated callers, and what a simulated caller heard.

- :func:`caller_wavs` renders sentences with Piper as 8 kHz WAVs a rig phone can play
  (cached by text, so a second run synthesizes nothing);
- :func:`heard_reference` finds each reading of the reference in a phone's recording and
  transcribes it on its own: the digits the caller heard.

For tests, the benchmark and the demo; the controller never calls these.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ivr.reports.reference import is_valid, reference_in_speech
from ivr.speech.asr.base import AsrEngine
from ivr.speech.audio import Audio, normalise_loudness, read_wav, resample, write_wav
from ivr.speech.wer import normalise_words

#: Where it happened, as callers say it (the "what" sentences come from bench/speechset).
LOCATIONS: tuple[str, ...] = (
    "Outside the library on Mill Lane.",
    "In the car park behind the church.",
    "At the bus stop on Station Road.",
    "Near the post office on the High Street.",
    "On the footpath through the park.",
    "Outside number twelve, Oak Avenue.",
    "By the school gates on Green Lane.",
    "In the alley behind the chip shop.",
    "At the allotments on Field Road.",
    "Outside the village hall.",
)

#: Piper's pace for callers: natural speed (prompts use 1.1, slower, for listeners).
CALLER_LENGTH_SCALE = 1.0
#: Rig phones play 8 or 16 kHz; 8 kHz is what the line carries anyway.
RIG_RATE = 8000


def _key(text: str) -> str:
    return hashlib.sha256(
        f"piper-joe/{CALLER_LENGTH_SCALE}/{RIG_RATE}\n{text}".encode()
    ).hexdigest()


def caller_wavs(texts: Sequence[str], cache_dir: Path) -> list[Path]:
    """One WAV per text, spoken by Piper's joe voice, 8 kHz mono 16-bit."""
    from ivr.speech.tts.piper import PiperEngine

    engine: PiperEngine | None = None
    paths = []
    cache_dir.mkdir(parents=True, exist_ok=True)
    for text in texts:
        path = cache_dir / f"caller-{_key(text)[:16]}.wav"
        if not path.exists():
            engine = engine or PiperEngine(length_scale=CALLER_LENGTH_SCALE)
            audio = normalise_loudness(resample(engine.synthesize(text), RIG_RATE))
            tmp = path.with_name(path.name + ".part")
            write_wav(tmp, audio)
            tmp.replace(path)
        paths.append(path)
    return paths


def excerpt(audio: Audio, start_s: float, end_s: float) -> Audio:
    a = max(0, int(start_s * audio.rate))
    b = min(len(audio), int(end_s * audio.rate))
    return Audio(audio.samples[a:b], audio.rate)


#: Context for Whisper when it listens to a reference: digit words, so an isolated "two."
#: is not heard as "tune" (it was, on the 8 kHz line, without it).
DIGIT_CONTEXT = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
#: The longest a reference reading lasts, from "Your reference number is" on.
READING_S = 15.0


@dataclass(frozen=True)
class Heard:
    """What a simulated caller heard of its reference."""

    #: the whole call, transcribed
    text: str
    #: each reading heard ("your reference number is ..."), in order; None where no
    #: digits followed
    readings: tuple[str | None, ...]

    @property
    def reference(self) -> str | None:
        """The first reading that passes the check digits (a misheard digit cannot, but
        for 1 in 97), else the first reading heard at all."""
        heard = [r for r in self.readings if r is not None]
        valid = [r for r in heard if is_valid(r)]
        return (valid or heard)[0] if heard else None


def heard_reference(recording: Path, engine: AsrEngine) -> Heard:
    """Transcribe a phone's recording of a report call, then each reference reading in it
    again on its own (long audio is decoded in 30 s windows, which may cut a reading in
    two). Whisper tiny drops or mishears the odd isolated digit at 8 kHz, so a reading is
    listened to up to three ways (digit words as context or not, shifted start) until
    one passes the check digits."""
    audio = read_wav(recording)
    whole = engine.transcribe(audio)
    # "Your reference number is" may be split over two segments: look at the words of all
    # of them in order, and start listening at the segment where "reference" was said
    words = [(w, seg) for seg in whole.segments for w in normalise_words(seg.text)]
    readings = [
        _listen(engine, audio, seg.start_s, seg.end_s)
        for i, (word, seg) in enumerate(words)
        if word == "reference" and [w for w, _ in words[i + 1 : i + 3]] == ["number", "is"]
    ]
    return Heard(whole.text, tuple(readings))


def _listen(engine: AsrEngine, audio: Audio, start_s: float, end_s: float) -> str | None:
    found: list[str] = []
    for context, shift in ((DIGIT_CONTEXT, -0.5), (None, -0.5), (DIGIT_CONTEXT, 0.3)):
        begin = max(0.0, start_s + shift)
        window = excerpt(audio, begin, max(end_s, start_s) + READING_S)
        digits = reference_in_speech(engine.transcribe(window, context=context).text)
        if digits is not None and is_valid(digits):
            return digits
        if digits is not None:
            found.append(digits)
    return found[0] if found else None


def default_cache_dir() -> Path:
    """Outside the repo, shared by runs (beside the rendered prompts)."""
    from ivr.config import default_cache_dir as watchline_cache

    return watchline_cache() / "rig-speech"
