"""Spoken test audio (see ivr.speech.tts.spoken): re-exported for the tests."""

from ivr.speech.tts.spoken import silence_wav, spoken_wav

__all__ = ["silence_wav", "spoken_wav"]
