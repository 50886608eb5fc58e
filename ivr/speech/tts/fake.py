"""A TTS engine for tests of code that synthesizes: instant, deterministic, and countable.

It implements the real :class:`~ivr.speech.tts.engine.TtsEngine` port, so the builder, the
fallback chain and flows can be tested without loading Piper. Each word becomes a short
tone whose pitch depends on the word, so different texts give different audio.
"""

from __future__ import annotations

import hashlib

import numpy as np

from ivr.errors import SpeechError, TtsEngineUnavailable
from ivr.speech.audio import Audio

WORD_S = 0.15
GAP_S = 0.05


class FakeTtsEngine:
    """Tones for words. ``unavailable`` makes it behave like an engine that cannot run here."""

    def __init__(
        self,
        name: str = "fake",
        *,
        rate: int = 22050,
        voice: str = "v1",
        unavailable: str | None = None,
        lead_s: float = 0.1,
    ) -> None:
        self.name = name
        self.rate = rate
        self.voice = voice
        self.unavailable = unavailable
        self.lead_s = lead_s
        #: Every text synthesized, in order (the test's view of "how much work was done").
        self.calls: list[str] = []

    def cache_key_parts(self) -> tuple[str, ...]:
        return ("fake", self.name, self.voice)

    def synthesize(self, text: str) -> Audio:
        if self.unavailable is not None:
            raise TtsEngineUnavailable(self.unavailable)
        if not text.strip():
            raise SpeechError("nothing to synthesize: empty text")
        self.calls.append(text)
        # Engine-like leading and trailing silence, which the builder is expected to trim.
        parts = [np.zeros(int(self.lead_s * self.rate))]
        t = np.arange(int(WORD_S * self.rate)) / self.rate
        for word in text.split():
            digest = hashlib.sha256(f"{self.voice}:{word}".encode()).digest()
            freq = 300 + digest[0] * 4  # 300..1320 Hz, inside the telephone band
            parts += [0.5 * np.sin(2 * np.pi * freq * t), np.zeros(int(GAP_S * self.rate))]
        parts.append(np.zeros(int(self.lead_s * self.rate)))
        return Audio.from_float(np.concatenate(parts), self.rate)
