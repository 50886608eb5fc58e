"""The controller's default speech recogniser, built from the speech settings."""

from __future__ import annotations

from ivr.config import SpeechSettings
from ivr.speech.asr.base import AsrEngine


def default_recogniser(speech: SpeechSettings) -> AsrEngine:
    """faster-whisper with the configured (or bundled tiny.en) model. Loads the model now.

    One engine serves the whole controller: the report line's pool, its menu answers and
    the bulletin line's pool each get a decoding worker, so the ~250 MB model is loaded once.
    """
    from ivr.speech.asr.whisper import WhisperEngine, WhisperOptions

    return WhisperEngine(
        WhisperOptions(
            model_dir=speech.whisper_model_dir,
            beam_size=speech.whisper_beam_size,
            cpu_threads=speech.whisper_threads,
            num_workers=2 * speech.asr_workers + 1,
        )
    )
