"""A scripted recogniser that implements :class:`~ivr.speech.asr.base.AsrEngine`.

For tests of the code around recognition (transcription pool, flows): it answers from a
script instead of listening, records every call, can fail on demand, and can be held at a
gate so a test controls exactly when a "transcription" finishes.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ivr.speech.asr.base import Segment, Transcript
from ivr.speech.audio import Audio, is_silent


@dataclass(frozen=True)
class FakeCall:
    duration_s: float
    rate: int
    context: tuple[str, ...] | None


class FakeAsrEngine:
    """Answers each call with the next scripted item.

    A string becomes a one-segment transcript with ``confidence``; an exception is raised;
    a Transcript is returned as is. Once the script runs out, ``default`` answers. Silent
    audio always gives ``no_speech``, as the real engines do. Thread-safe.
    """

    def __init__(
        self,
        script: Iterable[str | Transcript | Exception] = (),
        *,
        default: str = "",
        confidence: float = 0.9,
        gate: threading.Event | None = None,
    ) -> None:
        self._script: deque[str | Transcript | Exception] = deque(script)
        self.default = default
        self.confidence = confidence
        self.gate = gate
        self.calls: list[FakeCall] = []
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return "fake"

    def transcribe(self, audio: Audio, *, context: Sequence[str] | None = None) -> Transcript:
        if self.gate is not None:
            self.gate.wait()
        with self._lock:
            self.calls.append(
                FakeCall(audio.duration_s, audio.rate, tuple(context) if context else None)
            )
            item = self._script.popleft() if self._script else self.default
        if isinstance(item, Exception):
            raise item
        if isinstance(item, Transcript):
            return item
        if not item or len(audio) == 0 or is_silent(audio):
            return Transcript.nothing_heard(self.name, audio.duration_s)
        segment = Segment(item, 0.0, audio.duration_s, self.confidence)
        return Transcript.from_segments([segment], engine=self.name, duration_s=audio.duration_s)
