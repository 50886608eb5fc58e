"""Speech: audio values and utilities, recognition (``asr/``) and synthesis (``tts/``).

``audio`` is the one audio path (mono int16 + rate, one resampler, a numpy µ-law codec);
``asr`` holds the recognition engines behind one small interface; ``menu`` decides what a
spoken menu answer means; ``transcription_pool`` runs recognition off the event loop.
"""

from ivr.speech.audio import Audio

__all__ = ["Audio"]
