"""The one interface every recogniser implements, and the values it returns.

Engines are synchronous and CPU-bound on purpose: they are called from the transcription
pool's worker threads (``ivr.speech.transcription_pool``), never from the event loop.
An engine must be safe to call from several threads at once, serialising internally where
its library is not (pocketsphinx) or sizing its own workers (faster-whisper).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from ivr.speech.audio import Audio


@dataclass(frozen=True)
class Segment:
    """A stretch of recognised speech; ``confidence`` is in [0, 1], engine-specific in origin."""

    text: str
    start_s: float
    end_s: float
    confidence: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "confidence", min(1.0, max(0.0, float(self.confidence))))


@dataclass(frozen=True)
class Transcript:
    """What an engine heard in one piece of audio.

    ``no_speech`` is True when the engine found nothing to transcribe (silence, noise):
    then ``text`` is empty and ``segments`` too. ``duration_s`` is the audio's length.
    """

    text: str
    engine: str
    duration_s: float
    segments: tuple[Segment, ...] = field(default=())
    no_speech: bool = False

    @property
    def confidence(self) -> float:
        """Segment confidences weighted by segment length; 0.0 when nothing was heard."""
        if not self.segments:
            return 0.0
        weights = [max(s.end_s - s.start_s, 1e-3) for s in self.segments]
        total = sum(w * s.confidence for w, s in zip(weights, self.segments, strict=True))
        return total / sum(weights)

    @classmethod
    def nothing_heard(cls, engine: str, duration_s: float) -> Transcript:
        return cls(text="", engine=engine, duration_s=duration_s, no_speech=True)

    @classmethod
    def from_segments(
        cls, segments: Sequence[Segment], *, engine: str, duration_s: float
    ) -> Transcript:
        """Join non-empty segments; no segment with words means ``no_speech``."""
        kept = tuple(s for s in segments if s.text.strip())
        if not kept:
            return cls.nothing_heard(engine, duration_s)
        text = " ".join(s.text.strip() for s in kept)
        return cls(text=text, engine=engine, duration_s=duration_s, segments=kept)


@runtime_checkable
class AsrEngine(Protocol):
    """A speech recogniser: audio of any rate in, a transcript out.

    ``context`` lists words or phrases the caller is likely to say (menu choices); engines
    use it as a prompt (Whisper), a grammar (pocketsphinx) or ignore it (Vosk). Raises
    :class:`~ivr.errors.TranscriptionError` when recognition itself fails.
    """

    @property
    def name(self) -> str: ...

    def transcribe(self, audio: Audio, *, context: Sequence[str] | None = None) -> Transcript: ...
